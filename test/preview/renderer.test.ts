/**
 * The pure renderer (src/services/preview/): layout CSS, paints, text runs, tokens from themes, image
 * placeholders vs asset URLs, instances, escaping; and the figma-compat html directions over real HTTP.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import type { CogoDocument, CogoWidget } from "../../src/domain/figma/CogoUi.ts"
import { renderDocument, renderTree } from "../../src/services/preview/document.ts"
import { baseUrl } from "../edge/server.ts"
import { fixture, fixtureText, FigmaCompatServerLive } from "../figma-service/support.ts"

/** The `style` attribute of the element with `data-node-id="id"`. */
const styleOf = (html: string, id: string): string => {
  const match = new RegExp(`data-node-id="${id}"[^>]*?style="([^"]*)"`).exec(html)
  return (match?.[1] ?? "").replaceAll("&quot;", "\"")
}

const doc = (roots: ReadonlyArray<CogoWidget>, tokens: CogoDocument["theme"]["tokens"] = []): CogoDocument =>
  ({ schemaVersion: 1, roots, theme: { tokens } })

describe("preview renderer", () => {
  it("folds a node's wrapper chain into one element with layout, sizing, padding and effects", () => {
    const html = renderDocument(doc([{
      type: "Opacity", id: "1", opacity: 0.5,
      child: { type: "Transform", angle: 0.25, child: {
        type: "Container", width: 200, height: 100, padding: { top: 4, right: 8, bottom: 4, left: 8 },
        decoration: { color: "#ff0000ff", borderRadius: 6, boxShadow: [{ color: "#00000040", offset: { x: 0, y: 2 }, blurRadius: 4, spreadRadius: 0 }],
          border: { color: "#0000ffff", width: 2, strokeAlign: "outside" } },
        child: { type: "Row", spacing: 10, mainAxisAlignment: "spaceBetween", crossAxisAlignment: "center", children: [
          { type: "Expanded", id: "2", child: { type: "SizedBox", height: 20 } },
          { type: "SizedBox", id: "3", width: 30, height: "infinity" }
        ] }
      } }
    }]))
    assert.strictEqual(html.match(/data-node-id=/g)?.length, 3)
    const root = styleOf(html, "1")
    for (const part of ["opacity:0.5", "transform:rotate(0.25rad)", "width:200px", "height:100px", "padding:4px 8px 4px 8px",
      "background-color:#ff0000ff", "border-radius:6px", "box-shadow:0px 2px 4px 0px #00000040", "display:flex", "flex-direction:row",
      "gap:10px", "justify-content:space-between", "align-items:center"]) assert.include(root, part)
    assert.include(styleOf(html, "2"), "flex:1 1 0px")
    assert.include(styleOf(html, "3"), "align-self:stretch")
    // The stroke is an overlay outside the box (2 px), so it takes no layout space.
    assert.include(html, "inset:-2px -2px -2px -2px")
  })

  it("places Positioned children with constraints against a fixed parent and shifts a page to its canvas", () => {
    const html = renderDocument(doc([{ type: "Page", id: "p", children: [
      { type: "Positioned", id: "f", left: -100, top: 50, child: { type: "Container", width: 300, height: 200, child: { type: "Stack", children: [
        { type: "Positioned", id: "a", left: 10, top: 20, constraints: { horizontal: "end", vertical: "center" }, child: { type: "SizedBox", width: 50, height: 40 } }
      ] } } }
    ] }]))
    assert.include(styleOf(html, "p"), "width:300px;height:200px")
    assert.include(styleOf(html, "f"), "left:0px;top:0px")
    assert.include(styleOf(html, "a"), "right:240px;top:calc(50% + -80px)")
  })

  it("renders text runs, escapes content, and resolves tokens from the project's themes over literal values", () => {
    const tree: CogoWidget = { type: "Column", id: "c", children: [
      { type: "RichText", id: "t", theme: { fill: "tok-color" }, text: { style: { fontFamily: "Inter\"<x>", fontSize: 14 }, children: [
        { text: "<b>bold</b>" }, { text: " & more", style: { fontWeight: 700, decoration: "underline" } }
      ] } },
      { type: "Container", id: "b", width: 10, height: 10, theme: { fill: "tok-alias" }, decoration: { color: "#000000ff" } }
    ] }
    const tokens = [
      { id: "tok-color", name: "Brand", type: "color" as const, collection: "c", values: { light: "#112233ff", default: "#445566ff" } },
      { id: "tok-alias", name: "Alias", type: "color" as const, collection: "c", values: { default: { alias: "tok-color" } } }
    ]
    const html = renderTree(tree, { tokens })
    assert.include(html, "&lt;b&gt;bold&lt;/b&gt;")
    assert.notInclude(html, "<b>")
    assert.include(html, "font-weight:700;text-decoration:underline")
    assert.include(styleOf(html, "t"), "color:#445566ff")
    assert.include(styleOf(html, "t"), "font-family:\"Inter\\\"&lt;x&gt;\"")
    assert.include(styleOf(html, "b"), "background-color:#445566ff")
  })

  it("draws image fills as a placeholder unless the asset has a URL", () => {
    const tree: CogoWidget = { type: "Image", id: "i", imageRef: "abc", fit: "cover" }
    assert.include(renderTree(tree), "repeating-linear-gradient")
    const withUrl = renderTree(tree, { assets: new Map([["abc", "https://cdn.example/a.png"]]) })
    assert.include(withUrl, "url(&quot;https://cdn.example/a.png&quot;)")
    assert.include(withUrl, "background-size:cover")
  })

  it("expands a placeholder instance from its component, and keeps a resolved instance as it is", () => {
    const definition: CogoWidget = { type: "SymbolDefinition", id: "c1", symbolId: "c1", child: { type: "Container", width: 40, height: 20, child: { type: "Text", id: "c1-t", data: "From component" } } }
    const placeholder: CogoWidget = { type: "SymbolInstance", id: "i1", symbolId: "c1", child: { type: "SizedBox" } }
    const html = renderTree(placeholder, { symbols: new Map([["c1", definition]]) })
    assert.include(html, "From component")
    assert.include(html, "data-symbol=\"instance\" data-symbol-id=\"c1\"")
    const resolved = renderTree({ ...placeholder, child: { type: "Text", data: "Overridden" } }, { symbols: new Map([["c1", definition]]) })
    assert.include(resolved, "Overridden")
    assert.notInclude(resolved, "From component")
  })

  it("renders a 3,000-node generated document quickly and with one element per node", () => {
    const rows: Array<CogoWidget> = Array.from({ length: 1000 }, (_, i) => ({
      type: "Row", id: `r${i}`, spacing: 4, children: [
        { type: "Container", id: `b${i}`, width: 10, height: 10, decoration: { color: "#ff0000ff" } },
        { type: "Text", id: `t${i}`, data: `row ${i}` }
      ]
    }))
    const started = performance.now()
    const html = renderDocument(doc([{ type: "Column", id: "root", children: rows }]))
    const ms = performance.now() - started
    assert.strictEqual(html.match(/data-node-id=/g)?.length, 3001)
    assert.isBelow(ms, 500)
  })
})

layer(FigmaCompatServerLive())("figma-compat html directions", (it) => {
  it.effect("figma-to-html and cogo-to-html answer text/html; a bad document is still a 400 problem", () =>
    Effect.gen(function*() {
      const url = `${yield* baseUrl}/functions/v1/figma-compat`
      const post = (direction: string, body: string) => Effect.promise(async () => {
        const response = await fetch(`${url}?direction=${direction}`, { method: "POST", body, headers: { "content-type": "application/json" } })
        return { status: response.status, type: response.headers.get("content-type") ?? "", text: await response.text() }
      })
      const fromFigma = yield* post("figma-to-html", fixtureText("auto-layout.json"))
      assert.strictEqual(fromFigma.status, 200)
      assert.match(fromFigma.type, /^text\/html/)
      assert.include(fromFigma.text, "data-node-id=\"2:13\"")
      const cogo = yield* Effect.promise(async () => (await (await fetch(url, { method: "POST", body: JSON.stringify(fixture("auto-layout.json")) })).json()) as { document: unknown })
      const fromCogo = yield* post("cogo-to-html", JSON.stringify(cogo.document))
      assert.strictEqual(fromCogo.status, 200)
      assert.strictEqual(fromCogo.text, fromFigma.text)
      const bad = yield* post("cogo-to-html", JSON.stringify({ schemaVersion: 1, roots: [{ type: "Nope" }], theme: { tokens: [] } }))
      assert.strictEqual(bad.status, 400)
      assert.match(bad.type, /problem\+json/)
      const unknown = yield* post("figma-to-pdf", fixtureText("auto-layout.json"))
      assert.strictEqual(unknown.status, 400)
    }))
})
