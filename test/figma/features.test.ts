import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import { convertFigma } from "../../src/services/figma/convert/index.ts"
import { chain, loadFixture, toCogo, toUui, uuiNode, widgetById } from "./support.ts"

describe("figma -> UUI -> COGO, per feature", () => {
  it("auto layout: vertical screen, nested horizontal row, alignments, padding, gap", () => {
    const { document, warnings } = toUui("auto-layout.json")
    expect(warnings).toEqual([])
    const screen = uuiNode(document, "2:1")
    expect(screen).toMatchObject({
      kind: "frame",
      layout: { mode: "vertical", gap: 16, crossAlign: "center" },
      padding: { top: 16, right: 16, bottom: 16, left: 16 },
      width: { mode: "fixed", size: 375 },
      limits: { minWidth: 320 },
      clip: true,
      position: { x: 0, y: 0 }
    })
    expect(uuiNode(document, "2:10")).toMatchObject({
      layout: { mode: "horizontal", mainAlign: "spaceBetween", crossAlign: "center" },
      padding: { top: 2, right: 4, bottom: 2, left: 4 }
    })
    // itemSpacing 8 is ignored under SPACE_BETWEEN, as in Figma (issue 14, defect 3).
    expect(uuiNode(document, "2:10")).not.toHaveProperty("layout.gap")
    const cogo = toCogo("auto-layout.json").document
    expect(chain(widgetById(cogo.roots, "2:1"))).toBe("Positioned>ClipRRect>Container>Stack")
    expect(chain(widgetById(cogo.roots, "2:10"))).toBe("Container>Row")
    expect(widgetById(cogo.roots, "2:10")).toMatchObject({
      width: "infinity",
      padding: { top: 2, right: 4, bottom: 2, left: 4 },
      child: { type: "Row", mainAxisAlignment: "spaceBetween", crossAxisAlignment: "center" }
    })
    expect(widgetById(cogo.roots, "2:10")).not.toHaveProperty("child.spacing")
  })

  it("hug / fill / fixed sizing per axis", () => {
    const { document } = toUui("auto-layout.json")
    expect(uuiNode(document, "2:11")).toMatchObject({ width: { mode: "fixed", size: 40 }, height: { mode: "fixed", size: 40 } })
    expect(uuiNode(document, "2:12")).toMatchObject({ width: { mode: "fill" }, height: { mode: "fill" } })
    expect(uuiNode(document, "2:13")).toMatchObject({ width: { mode: "hug" }, height: { mode: "hug" } })
    const cogo = toCogo("auto-layout.json").document
    expect(widgetById(cogo.roots, "2:11")).toMatchObject({ type: "Container", width: 40, height: 40 })
    // Fill on the row's main axis is Expanded; on the cross axis it is width/height infinity.
    expect(widgetById(cogo.roots, "2:12")).toMatchObject({ type: "Expanded", child: { type: "Container", height: "infinity" } })
    expect(widgetById(cogo.roots, "2:13")).toMatchObject({ type: "Text", data: "Hi" })
  })

  it("wrap: spacing, run spacing, run alignment", () => {
    const { document } = toUui("auto-layout.json")
    expect(uuiNode(document, "2:20")).toMatchObject({ layout: { mode: "wrap", gap: 6, runGap: 10, runAlign: "spaceBetween" } })
    const tags = widgetById(toCogo("auto-layout.json").document.roots, "2:20")
    expect(tags).toMatchObject({ type: "SizedBox", width: "infinity", child: { type: "Wrap", spacing: 6, runSpacing: 10, runAlignment: "spaceBetween" } })
  })

  it("absolute child inside auto layout becomes Stack[Column, Positioned] with constraints", () => {
    const { document } = toUui("auto-layout.json")
    expect(uuiNode(document, "2:30")).toMatchObject({
      kind: "shape", shape: "ellipse", position: { x: 343, y: 4, constraints: { horizontal: "end", vertical: "start" } }
    })
    const cogo = toCogo("auto-layout.json").document
    const stack = widgetById(cogo.roots, "2:1")
    expect(stack).toMatchObject({ child: { child: { child: { type: "Stack", children: [{ type: "Column" }, { type: "Positioned", id: "2:30" }] } } } })
    expect(widgetById(cogo.roots, "2:30")).toMatchObject({
      type: "Positioned", left: 343, top: 4, constraints: { horizontal: "end", vertical: "start" },
      child: { type: "Container", width: 16, height: 16, decoration: { color: "#ff3333ff", shape: "ellipse" } }
    })
  })

  it("mixed-style text: base style plus runs from characterStyleOverrides", () => {
    const { document, warnings } = toUui("text-mixed.json")
    expect(warnings).toEqual([])
    expect(uuiNode(document, "3:1")).toMatchObject({
      kind: "text",
      style: { fontFamily: "Inter", fontSize: 20, lineHeight: { unit: "px", value: 28 }, letterSpacing: 0.5, textCase: "upper", color: "#1a1a1aff" },
      spans: [
        { text: "Hello " },
        { text: "bold", style: { fontWeight: 700, color: "#ff0000ff" } },
        { text: " ", style: { fontFamily: "Lora", italic: true, decoration: "underline" } },
        { text: "world" }
      ],
      textAlign: "center",
      verticalAlign: "center",
      width: { mode: "fixed", size: 200 },
      height: { mode: "hug" }
    })
    const rich = widgetById(toCogo("text-mixed.json").document.roots, "3:1")
    expect(chain(rich)).toBe("SizedBox>RichText")
    expect(rich).toMatchObject({ child: { text: { children: [{ text: "Hello " }, { text: "bold", style: { fontWeight: 700 } }, { style: { fontStyle: "italic" } }, { text: "world" }] } } })
  })

  it("gradients: linear, radial, angular exactly; diamond approximated with a warning", () => {
    const { document } = toUui("gradients-nodes.json")
    expect(uuiNode(document, "4:1")).toMatchObject({ fills: [{ type: "linear", begin: { x: -1, y: 0 }, end: { x: 1, y: 0 }, stops: [{ position: 0, color: "#ff0000ff" }, { position: 1, color: "#0000ff80" }] }] })
    expect(uuiNode(document, "4:2")).toMatchObject({ fills: [{ type: "radial", center: { x: 0, y: 0 }, radius: { x: 0.5, y: 0.25 } }] })
    expect(uuiNode(document, "4:3")).toMatchObject({ fills: [{ type: "angular", center: { x: 0, y: 0 }, startAngle: Math.PI / 2 }] })
    // Paint opacity 0.5 is folded into the stop alphas.
    expect(uuiNode(document, "4:4")).toMatchObject({ fills: [{ type: "diamond", stops: [{ color: "#ff000080" }, { color: "#0000ff40" }] }] })
    const { document: cogo, warnings } = toCogo("gradients-nodes.json")
    expect(widgetById(cogo.roots, "4:3")).toMatchObject({ decoration: { gradient: { type: "sweep", colors: ["#ff0000ff", "#0000ff80"], stops: [0, 1] } } })
    expect(widgetById(cogo.roots, "4:4")).toMatchObject({ decoration: { gradient: { type: "radial", radius: { x: 0.5, y: 0.5 } } } })
    expect(warnings).toEqual([{ nodeId: "4:4", feature: "gradient-diamond", action: "diamond gradient approximated as a radial gradient" }])
  })

  it("image fills with scale modes, shadows, blurs; unsupported effects warn", () => {
    const { document, warnings } = toUui("images-shadows.plugin.json")
    expect(uuiNode(document, "5:1")).toMatchObject({
      shadows: [
        { type: "drop", color: "#00000040", offset: { x: 0, y: 4 }, blur: 8, spread: 2 },
        { type: "inner", color: "#ffffff80", offset: { x: 0, y: -1 }, blur: 2, spread: 0 }
      ],
      backgroundBlur: 10,
      radius: { topLeft: 12, topRight: 12, bottomRight: 0, bottomLeft: 0 }
    })
    expect(uuiNode(document, "5:3")).toMatchObject({ fills: [{ type: "solid" }, { type: "image", imageRef: "tile9", scaleMode: "tile", opacity: 0.8, scalingFactor: 0.5 }] })
    expect(uuiNode(document, "5:4")).toMatchObject({ layerBlur: 4, fills: [{ type: "image", scaleMode: "fit" }] })
    expect(warnings).toEqual([{ nodeId: "5:1", feature: "effect-noise", action: "effect NOISE is not supported; dropped" }])
    const cogo = toCogo("images-shadows.plugin.json").document
    expect(chain(widgetById(cogo.roots, "5:1"))).toBe("BackdropFilter>Container>Stack")
    expect(widgetById(cogo.roots, "5:1")).toMatchObject({ child: { decoration: { boxShadow: [{ blurRadius: 8, spreadRadius: 2 }, { inset: true }] } } })
    expect(chain(widgetById(cogo.roots, "5:2"))).toBe("Positioned>SizedBox>Image")
    expect(widgetById(cogo.roots, "5:2")).toMatchObject({ child: { child: { imageRef: "abc123", fit: "cover" } } })
    expect(widgetById(cogo.roots, "5:3")).toMatchObject({ child: { decoration: { color: "#ffffffff", image: { fit: "none", repeat: true, scale: 0.5 } } } })
    expect(chain(widgetById(cogo.roots, "5:4"))).toBe("Positioned>ImageFiltered>SizedBox>Image")
  })

  it("vectors: SVG path data from fill and stroke geometry; missing geometry drawn from size, with a warning", () => {
    const { document, warnings } = toUui("vectors.json")
    expect(uuiNode(document, "6:2")).toMatchObject({
      kind: "vector",
      paths: [
        { data: "M2 12L9 19L22 5L20 3L9 15L4 10Z", fillRule: "nonzero", role: "fill" },
        { data: "M1 12L9 20L23 5", fillRule: "evenodd", role: "stroke" }
      ],
      stroke: { color: "#000000ff", weight: 2, align: "center", dashes: [4, 2] }
    })
    // Figma rotates counter-clockwise; UUI is clockwise positive.
    // A star exported without geometry: five points from the top, stretched to its 24x24 box.
    expect(uuiNode(document, "6:3")).toMatchObject({
      kind: "vector", rotation: -Math.PI / 6,
      paths: [{ data: "M12 0L14.833 9.167L24 9.167L16.584 14.833L19.416 24L12 18.335L4.584 24L7.416 14.833L0 9.167L9.167 9.167Z", fillRule: "nonzero", role: "fill" }]
    })
    expect(warnings.map((w) => `${w.nodeId} ${w.feature}`)).toEqual(["6:2 stroke-cap", "6:3 vector-geometry-synthesized"])
    const cogo = toCogo("vectors.json").document
    expect(widgetById(cogo.roots, "6:2")).toMatchObject({ child: { child: { type: "SvgPicture", color: "#008000ff", stroke: { dashPattern: [4, 2] } } } })
    expect(chain(widgetById(cogo.roots, "6:3"))).toBe("Positioned>Transform>SizedBox>SvgPicture")
  })

  it("components: set with variants, instances with overrides and properties, tokens from styles and variables", () => {
    const { document, warnings } = toUui("components.json")
    expect(uuiNode(document, "7:1")).toMatchObject({
      kind: "componentSet",
      description: "Primary button",
      propertyDefinitions: { State: { type: "variant", defaultValue: "Default", options: ["Default", "Hover"] } }
    })
    expect(uuiNode(document, "7:4")).toMatchObject({ kind: "component", componentKey: "k-hover", variant: { Size: "Large", State: "Hover" } })
    expect(uuiNode(document, "7:2")).toMatchObject({ tokens: { fill: "variable:VariableID:1:1" } })
    expect(uuiNode(document, "8:0")).toMatchObject({ screen: true })
    expect(uuiNode(document, "8:1")).toMatchObject({
      kind: "instance",
      componentId: "7:4",
      properties: { State: "Hover", Size: "Large", "Label#1:0": "Buy" },
      overrides: [{ nodeId: "I8:1;7:5", fields: ["characters"] }],
      position: { x: 0, y: 100 }
    })
    expect(document.tokens).toEqual([
      { id: "style:S:primary", name: "Brand/Primary", type: "color", collection: "styles", description: "Brand colour", values: { default: "#3366ffff" } },
      { id: "style:S:body", name: "Body", type: "text", collection: "styles", values: { default: { textStyle: { fontFamily: "Inter", fontWeight: 400, fontSize: 16, color: "#000000ff" } } } },
      { id: "variable:VariableID:1:1", name: "color/primary", type: "color", collection: "Theme", values: { Light: "#3366ffff", Dark: "#80b3ffff" } },
      { id: "variable:VariableID:1:2", name: "space/m", type: "number", collection: "Theme", values: { Light: 16, Dark: { alias: "variable:VariableID:1:3" } } }
    ])
    expect(warnings).toEqual([{ nodeId: "S:grid", feature: "style-grid", action: "grid style Grid 8 not converted" }])
    const cogo = toCogo("components.json").document
    expect(chain(widgetById(cogo.roots, "8:1"))).toBe("Positioned>SymbolInstance>Container>Row")
    expect(widgetById(cogo.roots, "8:1")).toMatchObject({ child: { symbolId: "7:4", properties: { State: "Hover" } } })
    expect(widgetById(cogo.roots, "7:2")).toMatchObject({ type: "SymbolDefinition", symbolId: "7:2", variant: { State: "Default" }, child: { theme: { fill: "variable:VariableID:1:1" } } })
    expect(chain(widgetById(cogo.roots, "8:0"))).toBe("Positioned>Screen>SizedBox>Stack")
  })

  it("old schema era: no layoutSizing*, componentProperties or componentPropertyDefinitions", () => {
    const { document, warnings } = toUui("old-era.json")
    expect(warnings).toEqual([])
    expect(uuiNode(document, "10:2")).toMatchObject({ kind: "component", width: { mode: "hug" }, height: { mode: "fixed", size: 32 }, variant: { Tone: "Info" } })
    expect(uuiNode(document, "10:1")).toMatchObject({ propertyDefinitions: { Tone: { type: "variant", defaultValue: "Info", options: ["Info", "Error"] } } })
    expect(uuiNode(document, "11:2")).toMatchObject({ width: { mode: "fill" }, height: { mode: "fill" } })
    expect(uuiNode(document, "11:3")).toMatchObject({ kind: "instance", componentId: "10:3", properties: { Tone: "Error" } })
    expect(uuiNode(document, "11:4")).toMatchObject({ kind: "text", width: { mode: "hug" }, spans: [{ text: "Old" }] })
  })

  it("malformed input: a typed decode failure naming the bad path", () => {
    const input = loadFixture("text-mixed.json") as { style: Record<string, unknown> }
    const bad = { ...input, style: { ...input.style, fontSize: "big" } }
    const result = convertFigma(bad)
    expect(Result.isFailure(result) && result.failure).toMatchObject({
      _tag: "FigmaDecodeError", format: "figma", issues: [{ path: ["style", "fontSize"], message: "Expected number" }]
    })
    const notFigma = convertFigma([1, 2, 3])
    expect(Result.isFailure(notFigma) && notFigma.failure.issues[0]?.path).toEqual([])
    const badCogo = convertFigma({ schemaVersion: 1, roots: [{ type: "Row", children: [{ type: "Nope" }] }], theme: { tokens: [] } }, "cogo-to-uui")
    expect(Result.isFailure(badCogo) && badCogo.failure.format).toBe("cogo")
  })
})
