/**
 * Geometric defects of the Figma conversion (issue 14), one fixture each under test/fixtures/figma/defect-*
 * (written from the Figma REST spec; their boxes follow Figma's own layout, so `npm run fidelity` measures
 * them too, see test/preview/fidelity.test.ts). Each test failed before its fix.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { readFileSync } from "node:fs"
import type { CogoDocument, CogoWidget } from "../../src/domain/figma/CogoUi.ts"
import type { ConversionWarning } from "../../src/domain/figma/ConversionWarning.ts"
import { convertFigma } from "../../src/services/figma/convert/index.ts"

const convert = (name: string): { readonly document: CogoDocument; readonly warnings: ReadonlyArray<ConversionWarning> } => {
  const input: unknown = JSON.parse(readFileSync(new URL(`../fixtures/figma/${name}`, import.meta.url), "utf8"))
  const result = convertFigma(input, "figma-to-cogo")
  if (Result.isFailure(result) || result.success.format !== "cogo") throw new Error(`${name} did not convert`)
  return result.success
}

/** Every widget of the document, depth first. */
const widgets = (document: CogoDocument): ReadonlyArray<CogoWidget> => {
  const out: Array<CogoWidget> = []
  const walk = (w: CogoWidget): void => {
    out.push(w)
    if ("children" in w) w.children.forEach(walk)
    else if ("child" in w && w.child !== undefined) walk(w.child)
  }
  document.roots.forEach(walk)
  return out
}

describe("geometric defects", () => {
  it("3: SPACE_BETWEEN ignores itemSpacing (Figma distributes the free space; a fixed gap would overflow)", () => {
    const { document } = convert("defect-space-between.json")
    const row = widgets(document).find((w) => w.type === "Row")
    assert.strictEqual(row?.type === "Row" ? row.mainAxisAlignment : undefined, "spaceBetween")
    assert.strictEqual(row?.type === "Row" ? row.spacing : "no row", undefined)
  })

  it("5: FILL children of a wrapping row keep their width (side by side), with a warning", () => {
    const { document, warnings } = convert("defect-fill-in-wrap.plugin.json")
    const all = widgets(document)
    assert.isFalse(JSON.stringify(document).includes("infinity"))
    const left = all.find((w) => w.id === "21:2")
    assert.deepStrictEqual(left?.type === "Container" ? [left.width, left.height] : undefined, [145, 40])
    assert.deepStrictEqual(warnings.filter((w) => w.feature === "layout-fill-in-wrap").map((w) => w.nodeId), ["21:2", "21:3"])
  })
})
