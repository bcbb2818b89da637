import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { applyPatch } from "../../src/domain/agents/JsonPatch.ts"
import { linkIntoTree, validateDefinition } from "../../src/domain/agents/ProjectTools.ts"

const doc = { tree: { type: "Column", children: [{ type: "Text", data: "a" }, { type: "Text", data: "b" }] } }

describe("JSON Patch (RFC 6902) and definition checks", () => {
  it("applies add/remove/replace/move/copy/test in order, on a copy", () => {
    const patched = applyPatch(doc, [
      { op: "test", path: "/tree/type", value: "Column" },
      { op: "add", path: "/tree/children/-", value: { type: "Text", data: "c" } },
      { op: "replace", path: "/tree/children/0/data", value: "A" },
      { op: "move", from: "/tree/children/1", path: "/tree/children/0" },
      { op: "copy", from: "/tree/type", path: "/name" },
      { op: "remove", path: "/tree/children/2" }
    ])
    assert.isTrue(Result.isSuccess(patched))
    assert.deepStrictEqual(Result.getOrThrow(patched), {
      name: "Column",
      tree: { type: "Column", children: [{ type: "Text", data: "b" }, { type: "Text", data: "A" }] }
    })
    assert.strictEqual(doc.tree.children[0]!.data, "a", "the input is not mutated")
  })

  it("rejects the whole patch at the first failing operation", () => {
    const failed = applyPatch(doc, [{ op: "replace", path: "/tree/children/0/data", value: "x" }, { op: "test", path: "/tree/type", value: "Row" }])
    assert.isTrue(Result.isFailure(failed))
    assert.match(Result.isFailure(failed) ? failed.failure : "", /operation 1 \(test\)/)
    assert.isTrue(Result.isFailure(applyPatch(doc, [{ op: "remove", path: "/tree/children/9" }])))
    assert.isTrue(Result.isFailure(applyPatch(doc, [{ op: "add", path: "no-slash", value: 1 }])))
    assert.isTrue(Result.isFailure(applyPatch(doc, [{ op: "move", from: "/tree", path: "/tree/children/0" }])))
  })

  it("definitions must carry a COGO UI widget tree; linking wraps a leaf in a Page", () => {
    assert.isTrue(Result.isSuccess(validateDefinition(doc)))
    assert.isTrue(Result.isFailure(validateDefinition({ widgets: [] })))
    assert.isTrue(Result.isFailure(validateDefinition({ tree: { type: "Marquee" } })))
    const linked = linkIntoTree({ type: "Text", data: "hi" }, "c1", { type: "Text", data: "button" })
    assert.deepStrictEqual(linked, {
      type: "Page",
      children: [{ type: "Text", data: "hi" }, { type: "SymbolInstance", symbolId: "c1", child: { type: "Text", data: "button" } }]
    })
    assert.isTrue(Result.isSuccess(validateDefinition({ tree: linked })))
  })
})
