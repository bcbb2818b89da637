import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Effect } from "effect"
import { isDeepStrictEqual } from "node:util"
import { type UuiRoot, UuiDocument } from "../../src/domain/figma/Uui.ts"
import { cogoToUui } from "../../src/services/figma/convert/cogoToUui.ts"
import { uuiToCogo } from "../../src/services/figma/convert/uuiToCogo.ts"

const roundTrip = (document: UuiDocument) => {
  const cogo = uuiToCogo(document)
  return { uui: cogoToUui(cogo.value).value, warnings: cogo.warnings }
}

/** Documented normalization (docs/figma-formats.md): an empty `fills` list is the same as no fills. */
const normalizeNode = (node: UuiRoot): UuiRoot => {
  const children = "children" in node ? { children: node.children.map(normalizeNode) } : {}
  if ("fills" in node && node.fills !== undefined && node.fills.length === 0) {
    const { fills: _dropped, ...rest } = node
    return { ...rest, ...children } as UuiRoot
  }
  return { ...node, ...children } as UuiRoot
}
const normalize = (document: UuiDocument): UuiDocument => ({ ...document, roots: document.roots.map(normalizeNode) })

/** Both formats are JSON: compare as JSON (generated values may have other prototypes, or -0). */
const sameJson = (a: unknown, b: unknown): boolean =>
  isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)))

const trees = Arbitrary.schema(UuiDocument)

describe("UUI -> COGO UI JSON -> UUI", () => {
  it.effect("returns the same tree when uuiToCogo reports no approximation", () =>
    Effect.gen(function*() {
      let exact = 0
      const result = yield* Arbitrary.checkEffect(trees, (document) => {
        const { uui, warnings } = roundTrip(document)
        if (warnings.length > 0) return true
        exact++
        return sameJson(uui, normalize(document))
      }, { runs: 400, seed: 20261125 })
      expect(Arbitrary.formatCheckFailure(result)).toBeUndefined()
      // The generator must exercise the exact path, not only approximated trees.
      expect(exact).toBeGreaterThan(100)
    }))

  it.effect("is a fixpoint after one pass even when approximations were warned about", () =>
    Effect.gen(function*() {
      const result = yield* Arbitrary.checkEffect(trees, (document) => {
        const once = roundTrip(document)
        const twice = roundTrip(once.uui)
        return twice.warnings.length === 0 && sameJson(twice.uui, normalize(once.uui))
      }, { runs: 300, seed: 7 })
      expect(Arbitrary.formatCheckFailure(result)).toBeUndefined()
    }))
})
