import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import { importEntityId, planFigmaImport, uuidV5 } from "../../src/services/figma/convert/index.ts"
import { loadFixture } from "./support.ts"

const plan = (projectId: string, fixture: "components.json" | "auto-layout.json" | "images-shadows.plugin.json") => {
  const result = planFigmaImport(projectId, loadFixture(fixture))
  if (Result.isFailure(result)) throw new Error(JSON.stringify(result.failure))
  return result.success.value
}

describe("figma-plugin import plan", () => {
  it("uuidV5 matches the RFC 9562 test vector", () => {
    // RFC 9562 appendix A.4: name "www.example.com" in the DNS namespace.
    expect(uuidV5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com")).toBe("2ed6657d-e927-568b-95e1-2665a8aea6a2")
  })

  it("lists components, symbols, screens, themes and assets with stable ids", () => {
    const result = plan("project-1", "components.json")
    expect(result.components.map((c) => [c.figmaNodeId, c.kind, c.name])).toEqual([["7:1", "componentSet", "Button"]])
    expect(result.symbols.map((s) => [s.figmaNodeId, s.variant])).toEqual([
      ["7:2", { Size: "Large", State: "Default" }],
      ["7:4", { Size: "Large", State: "Hover" }]
    ])
    expect(result.symbols.every((s) => s.componentId === importEntityId("project-1", "component", "7:1"))).toBe(true)
    // 8:0 is marked as a screen by the plugin (sharedPluginData.cogo.screen), so only it is a page.
    expect(result.pages.map((p) => [p.figmaNodeId, p.name, p.tree.type])).toEqual([["8:0", "Checkout", "Positioned"]])
    expect(result.themes.map((t) => [t.name, t.tokens.length])).toEqual([["styles", 2], ["Theme", 2]])
    expect(result.components[0]?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  })

  it("re-importing yields the same ids; another project yields different ids", () => {
    const first = plan("project-1", "components.json")
    const again = plan("project-1", "components.json")
    const other = plan("project-2", "components.json")
    const ids = (p: typeof first) => [...p.components, ...p.symbols, ...p.pages, ...p.themes].map((e) => e.id)
    expect(ids(again)).toEqual(ids(first))
    expect(ids(other).some((id) => ids(first).includes(id))).toBe(false)
  })

  it("without screen marks, top-level frames are pages; image refs become assets", () => {
    expect(plan("p", "auto-layout.json").pages.map((p) => p.figmaNodeId)).toEqual(["2:1"])
    const assets = plan("p", "images-shadows.plugin.json").assets
    expect(assets.map((a) => [a.imageRef, a.nodeIds])).toEqual([["abc123", ["5:2"]], ["tile9", ["5:3"]], ["logo1", ["5:4"]]])
    expect(assets[0]?.id).toBe(importEntityId("p", "asset", "abc123"))
  })
})
