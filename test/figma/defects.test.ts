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
import type { UuiDocument, UuiRoot } from "../../src/domain/figma/Uui.ts"
import { cogoToUui } from "../../src/services/figma/convert/cogoToUui.ts"
import { convertFigma } from "../../src/services/figma/convert/index.ts"
import { renderDocument } from "../../src/services/preview/document.ts"

const load = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/figma/${name}`, import.meta.url), "utf8"))

const convertInput = (input: unknown): { readonly document: CogoDocument; readonly warnings: ReadonlyArray<ConversionWarning> } => {
  const result = convertFigma(input, "figma-to-cogo")
  if (Result.isFailure(result) || result.success.format !== "cogo") throw new Error("did not convert")
  return result.success
}
const convert = (name: string) => convertInput(load(name))

const toUui = (name: string): UuiDocument => {
  const result = convertFigma(load(name), "figma-to-uui")
  if (Result.isFailure(result) || result.success.format !== "uui") throw new Error(`${name} did not convert`)
  return result.success.document
}

const uuiById = (document: UuiDocument, id: string): UuiRoot | undefined => {
  const walk = (node: UuiRoot): UuiRoot | undefined =>
    node.id === id ? node : "children" in node ? node.children.map(walk).find((n) => n !== undefined) : undefined
  return document.roots.map(walk).find((n) => n !== undefined)
}

interface FigmaLike {
  readonly id: string
  readonly absoluteBoundingBox: { readonly x: number; readonly y: number; readonly width: number; readonly height: number }
  readonly children?: ReadonlyArray<FigmaLike>
}

/**
 * What a Positioned > [Transform] > sized widget covers: its box turned (and mirrored) about its centre, as an
 * axis-aligned bounding box, the way Figma reports absoluteBoundingBox.
 */
const coveredBox = (widget: CogoWidget) => {
  if (widget.type !== "Positioned") throw new Error(`${widget.id} is not positioned`)
  let angle = 0
  let width: number | undefined
  let height: number | undefined
  for (let w: CogoWidget | undefined = widget.child; w !== undefined; w = "child" in w ? w.child : undefined) {
    if (w.type === "Transform") angle = w.angle ?? 0
    if ((w.type === "SizedBox" || w.type === "Container") && typeof w.width === "number" && typeof w.height === "number") {
      width = w.width
      height = w.height
      break
    }
  }
  if (width === undefined || height === undefined) throw new Error(`${widget.id} has no fixed size`)
  const cos = Math.abs(Math.cos(angle)), sin = Math.abs(Math.sin(angle))
  const bw = cos * width + sin * height, bh = sin * width + cos * height
  const cx = widget.left + width / 2, cy = widget.top + height / 2
  return { x: cx - bw / 2, y: cy - bh / 2, width: bw, height: bh }
}

/** Every child of the fixture's frame lands where Figma's absoluteBoundingBox says (relative to the frame). */
const assertPlacedLikeFigma = (frame: FigmaLike, document: CogoDocument) => {
  const all = widgets(document)
  for (const child of frame.children ?? []) {
    const widget = all.find((w) => w.id === child.id)
    if (widget === undefined) throw new Error(`${child.id} missing`)
    const got = coveredBox(widget)
    const want = child.absoluteBoundingBox
    const deltas = [got.x - (want.x - frame.absoluteBoundingBox.x), got.y - (want.y - frame.absoluteBoundingBox.y), got.width - want.width, got.height - want.height]
    assert.isTrue(deltas.every((d) => Math.abs(d) < 0.01), `${child.id}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`)
  }
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

  it("1: rotated, absolutely positioned nodes cover Figma's absoluteBoundingBox (box turned about its centre)", () => {
    const frame = load("defect-rotation.json") as FigmaLike
    const { document, warnings } = convert("defect-rotation.json")
    assertPlacedLikeFigma(frame, document)
    // The 30x30 icon rotated -90°: inside its parent at top 20, not 30 px lower.
    const icon = widgets(document).find((w) => w.id === "30:2")
    assert.deepStrictEqual(icon?.type === "Positioned" ? [icon.left, icon.top] : undefined, [160, 20])
    // An old export (only `rotation` and the rotated bounding box): the unrotated 40x20 size is solved from it.
    const old = uuiById(toUui("defect-rotation.json"), "30:7")
    const size = (axis: "width" | "height") => old !== undefined && old.kind !== "page" && old[axis].mode === "fixed" ? old[axis].size : NaN
    assert.closeTo(size("width"), 40, 1e-6)
    assert.closeTo(size("height"), 20, 1e-6)
    assert.deepStrictEqual(warnings, [])
  })

  it("2: mirrored nodes keep their flip through UUI, COGO UI JSON, back to UUI, and the rendered HTML", () => {
    const frame = load("defect-mirror.json") as FigmaLike
    const uui = toUui("defect-mirror.json")
    const flips = (id: string) => {
      const node = uuiById(uui, id)
      return node === undefined || node.kind === "page" ? undefined : { flipX: node.flipX, flipY: node.flipY, rotation: node.rotation }
    }
    assert.deepStrictEqual(flips("31:2"), { flipX: true, flipY: undefined, rotation: undefined })
    assert.deepStrictEqual(flips("31:3"), { flipX: undefined, flipY: true, rotation: undefined })
    const card = flips("31:4")
    assert.strictEqual(card?.flipX, true)
    assert.closeTo(card?.rotation ?? 0, -Math.PI / 6, 1e-6)
    assert.deepStrictEqual(flips("31:5"), { flipX: undefined, flipY: true, rotation: undefined })
    const { document } = convert("defect-mirror.json")
    assertPlacedLikeFigma(frame, document)
    const transforms = widgets(document).filter((w) => w.type === "Transform")
    assert.deepStrictEqual(transforms.map((t) => t.type === "Transform" ? [t.flipX, t.flipY] : []), [[true, undefined], [undefined, true], [true, undefined], [undefined, true]])
    const back = cogoToUui(document).value
    for (const id of ["31:2", "31:3", "31:4", "31:5"]) assert.deepStrictEqual(uuiById(back, id), uuiById(uui, id))
    const html = renderDocument(document)
    assert.include(html, "transform:scale(-1,1)")
    assert.include(html, "transform:scale(1,-1)")
    assert.match(html, /transform:rotate\(-0\.52\d*rad\) scale\(-1,1\)/)
  })

  it("4: every token reference points at an emitted token; styles used only by texts count as used", () => {
    const { document, warnings } = convert("defect-tokens.json")
    const ids = new Set(document.theme.tokens.map((t) => t.id))
    const refs = widgets(document).flatMap((w) => "theme" in w && w.theme !== undefined ? Object.values(w.theme) : [])
    assert.isAbove(refs.length, 11)
    for (const ref of refs) assert.isTrue(ids.has(ref), `${ref} is referenced but not emitted`)
    const token = (id: string) => document.theme.tokens.find((t) => t.id === id)
    assert.deepStrictEqual(token("style:S:ink")?.values, { default: "#212121ff" })
    assert.deepStrictEqual(token("style:S:surface")?.values, { default: "#ffffffff" })
    assert.deepStrictEqual(token("variable:VariableID:9:9"), {
      id: "variable:VariableID:9:9", name: "VariableID:9:9", type: "color", collection: "variables", values: { default: "#3366ffff" }
    })
    assert.deepStrictEqual(warnings.map((w) => `${w.nodeId} ${w.feature}`), ["VariableID:9:9 variable-missing"])
    // The same card as a bare node: no style table, so the referenced styles are emitted by id, with a warning.
    const file = load("defect-tokens.json") as { readonly document: { readonly children: ReadonlyArray<{ readonly children: ReadonlyArray<unknown> }> } }
    const bare = convertInput(file.document.children[0]?.children[0])
    const bareIds = new Set(bare.document.theme.tokens.map((t) => t.id))
    for (const ref of widgets(bare.document).flatMap((w) => "theme" in w && w.theme !== undefined ? Object.values(w.theme) : [])) {
      assert.isTrue(bareIds.has(ref), `${ref} is referenced but not emitted (bare node)`)
    }
    assert.deepStrictEqual(bare.warnings.filter((w) => w.feature === "style-meta-missing").map((w) => [w.nodeId, w.action.includes("used by 11 nodes")]),
      [["S:surface", false], ["S:body", true], ["S:ink", true]])
  })

  it("6: vectors without geometry are drawn from their size (or warned); image fills on vectors are kept", () => {
    const { document, warnings } = convert("defect-vectors.json")
    const picture = (id: string) => {
      const found = widgets(document).find((w) => w.id === id)
      let w: CogoWidget | undefined = found
      while (w !== undefined && w.type !== "SvgPicture") w = "child" in w ? w.child : undefined
      return w?.type === "SvgPicture" ? w : undefined
    }
    for (const id of ["33:2", "33:3", "33:4", "33:5", "33:6"]) assert.isAbove(picture(id)?.paths.length ?? 0, 0, id)
    assert.strictEqual(picture("33:4")?.paths[0]?.data, "M20 0L40 40L0 40Z")
    assert.strictEqual(picture("33:5")?.paths[0]?.data, "M0 0L152 0")
    // The union of a rectangle and an ellipse, from their boxes relative to the operation.
    assert.strictEqual(picture("33:6")?.paths[0]?.data, "M0 0H40V40H0ZM24 20A20 20 0 1 0 64 20A20 20 0 1 0 24 20Z")
    assert.deepStrictEqual(picture("33:9")?.paths, [])
    assert.deepStrictEqual(picture("33:10")?.image, { imageRef: "img-heart", fit: "cover" })
    assert.deepStrictEqual(warnings.map((w) => `${w.nodeId} ${w.feature}`), [
      "33:2 vector-geometry-synthesized", "33:3 vector-geometry-synthesized", "33:4 vector-geometry-synthesized",
      "33:5 vector-geometry-synthesized", "33:6 vector-geometry-synthesized", "33:9 vector-geometry-missing"
    ])
    const back = cogoToUui(document).value
    const heart = uuiById(back, "33:10")
    assert.deepStrictEqual(heart?.kind === "vector" ? heart.fills : undefined, [{ type: "image", imageRef: "img-heart", scaleMode: "fill" }])
    const html = renderDocument(document)
    assert.match(html, /<pattern id="[^"]+" patternUnits="userSpaceOnUse"/)
  })
})
