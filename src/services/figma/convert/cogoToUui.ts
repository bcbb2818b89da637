import type { ConversionWarning } from "../../../domain/figma/ConversionWarning.ts"
import type {
  BoxDecoration, BoxShadow, CogoBlendMode, CogoDocument, CogoTextStyle, CogoWidget, DecorationImage, Extent, Gradient
} from "../../../domain/figma/CogoUi.ts"
import {
  type AxisSizing, type BlendMode, type Constraints, type Layout, type Paint, type Radius, type Shadow, type Sides,
  type SizeLimits, type Stroke, type TextSpan, type TextStyle, type TokenRefs, type UuiNode, type UuiRoot,
  type Vec2, UUI_SCHEMA_VERSION, type UuiDocument
} from "../../../domain/figma/Uui.ts"
import { compact } from "./compact.ts"
import type { Converted } from "./figmaToUui.ts"

/*
 * COGO UI JSON -> UUI. Accepts any schema-valid widget tree, not only what uuiToCogo emits: a node is the
 * chain of single-child widgets from a widget with an `id` (or a tree position) down to its core
 * (Column/Row/Wrap/Stack/Align/Text/RichText/Image/SvgPicture, or a childless box). Each wrapper fills one
 * slot of the node; a wrapper whose slot is already filled starts a nested node instead, so nothing is
 * overwritten. Widgets without an `id` get one from their tree position (`<parent id>/<index>`).
 */

type Warn = (nodeId: string, feature: string, action: string) => void
type ParentLayout = "root" | "page" | "none" | "horizontal" | "vertical" | "wrap"

type SymbolWidget = Extract<CogoWidget, { readonly type: "SymbolDefinition" | "SymbolSet" | "SymbolInstance" }>

/** Everything the wrappers of one node contributed. */
interface Draft {
  id: string
  name?: string
  position?: { readonly x: number; readonly y: number; readonly constraints?: Constraints }
  flex?: true
  symbol?: SymbolWidget
  screen?: true
  hidden?: true
  opacity?: number
  rotation?: number
  layerBlur?: number
  backgroundBlur?: number
  clip?: { readonly radius?: Radius }
  width?: Extent
  height?: Extent
  limits?: SizeLimits
  padding?: Sides
  decoration?: BoxDecoration
  blendMode?: CogoBlendMode
  theme?: TokenRefs
  box?: true
}

const IMAGE_SCALE = { cover: "fill", contain: "fit", fill: "crop", none: "tile" } as const

const fromBlendMode = (mode: CogoBlendMode | undefined): BlendMode | undefined =>
  mode === "plus" ? "plusLighter" : mode

const fromShadow = (shadow: BoxShadow): Shadow => ({
  type: shadow.inset === true ? "inner" : "drop",
  color: shadow.color,
  offset: shadow.offset,
  blur: shadow.blurRadius,
  spread: shadow.spreadRadius
})

const fromTextStyle = (style: CogoTextStyle): TextStyle =>
  compact({
    fontFamily: style.fontFamily,
    fontWeight: style.fontWeight,
    fontSize: style.fontSize,
    italic: style.fontStyle === undefined ? undefined : style.fontStyle === "italic",
    lineHeight: style.lineHeight,
    letterSpacing: style.letterSpacing,
    decoration: style.decoration === "lineThrough" ? ("strikethrough" as const) : style.decoration,
    textCase: style.textCase,
    color: style.color
  })

const fromImage = (image: DecorationImage): Paint =>
  compact({
    type: "image" as const,
    imageRef: image.imageRef,
    scaleMode: IMAGE_SCALE[image.fit],
    opacity: image.opacity,
    scalingFactor: image.scale
  })

const sizing = (extent: Extent | undefined): AxisSizing =>
  extent === undefined ? { mode: "hug" } : extent === "infinity" ? { mode: "fill" } : { mode: "fixed", size: extent }

const alignmentToMain = (value: number) => (value < -0.5 ? undefined : value > 0.5 ? ("end" as const) : ("center" as const))

export const cogoToUui = (document: CogoDocument): Converted<UuiDocument> => {
  const warnings: Array<ConversionWarning> = []
  const warn: Warn = (nodeId, feature, action) => { warnings.push({ nodeId, feature, action }) }

  const fromGradient = (gradient: Gradient, nodeId: string): Paint => {
    if (gradient.colors.length !== gradient.stops.length) {
      warn(nodeId, "gradient-stops-mismatch", "colors and stops differ in length: extra entries dropped")
    }
    const stops = gradient.colors.slice(0, gradient.stops.length).map((color, i) => ({ position: gradient.stops[i] ?? 0, color }))
    switch (gradient.type) {
      case "linear":
        return { type: "linear", stops, begin: gradient.begin, end: gradient.end }
      case "radial":
        return { type: "radial", stops, center: gradient.center, radius: gradient.radius }
      case "sweep":
        return { type: "angular", stops, center: gradient.center, startAngle: gradient.startAngle }
    }
  }

  const fills = (layers: { readonly color?: string; readonly gradient?: Gradient; readonly image?: DecorationImage }, nodeId: string) => {
    const out: Array<Paint> = []
    if (layers.gradient !== undefined) {
      if (layers.color !== undefined) warn(nodeId, "decoration-color-and-gradient", "colour ignored: Flutter paints the gradient")
      out.push(fromGradient(layers.gradient, nodeId))
    } else if (layers.color !== undefined) {
      out.push({ type: "solid", color: layers.color })
    }
    if (layers.image !== undefined) out.push(fromImage(layers.image))
    return out.length > 0 ? out : undefined
  }

  const stroke = (border: BoxDecoration["border"]): Stroke | undefined =>
    border === undefined ? undefined : compact({
      color: border.color, weight: border.width, align: border.strokeAlign, dashes: border.dashPattern
    })

  /** Fields every node takes from its draft (identity, placement, transform, sizing, effects). */
  const commonOf = (draft: Draft, parent: ParentLayout, extraShadows: ReadonlyArray<BoxShadow> | undefined) => {
    let width = sizing(draft.width)
    let height = sizing(draft.height)
    if (draft.flex === true) {
      if (parent === "horizontal") width = { mode: "fill" }
      else if (parent === "vertical") height = { mode: "fill" }
      else warn(draft.id, "flex-outside-row-column", "Expanded/Flexible outside a Row or Column ignored")
    }
    const shadows = draft.decoration?.boxShadow ?? extraShadows
    return compact({
      id: draft.id,
      name: draft.name,
      hidden: draft.hidden,
      opacity: draft.opacity,
      rotation: draft.rotation,
      blendMode: fromBlendMode(draft.blendMode),
      width,
      height,
      limits: draft.limits,
      position: draft.position,
      shadows: shadows?.map(fromShadow),
      layerBlur: draft.layerBlur,
      backgroundBlur: draft.backgroundBlur,
      tokens: draft.theme
    })
  }

  const childIds = (parentId: string, index: number) => `${parentId}/${index}`

  const children = (widgets: ReadonlyArray<CogoWidget>, parentId: string, layout: ParentLayout): Array<UuiNode> =>
    widgets.map((w, i) => toNode(w, childIds(parentId, i), layout))

  /** A container node (frame/component/set/instance) with the given layout and children. */
  const container = (draft: Draft, parent: ParentLayout, layout: Layout, nodes: ReadonlyArray<UuiNode>): UuiNode => {
    const decoration = draft.decoration
    if (decoration?.shape === "ellipse") warn(draft.id, "ellipse-container", "elliptic box with children drawn as a rectangle")
    const base = compact({
      ...commonOf(draft, parent, undefined),
      fills: decoration === undefined ? undefined : fills(decoration, draft.id),
      stroke: stroke(decoration?.border),
      radius: decoration?.borderRadius ?? draft.clip?.radius,
      layout,
      padding: draft.padding,
      clip: draft.clip === undefined ? undefined : (true as const),
      screen: draft.screen,
      children: nodes
    })
    const symbol = draft.symbol
    switch (symbol?.type) {
      case "SymbolDefinition":
        return compact({
          ...base, kind: "component" as const, componentKey: symbol.key, description: symbol.description,
          variant: symbol.variant, propertyDefinitions: symbol.propertyDefinitions
        })
      case "SymbolSet":
        return compact({
          ...base, kind: "componentSet" as const, description: symbol.description, propertyDefinitions: symbol.propertyDefinitions
        })
      case "SymbolInstance":
        return compact({
          ...base, kind: "instance" as const, componentId: symbol.symbolId, properties: symbol.properties, overrides: symbol.overrides
        })
      default:
        return { ...base, kind: "frame" }
    }
  }

  /** Leaves cannot be symbols, screens or clips in UUI: report what is dropped. */
  const leafOnly = (draft: Draft, what: string) => {
    if (draft.symbol !== undefined) warn(draft.id, "symbol-on-leaf", `${draft.symbol.type} around a ${what} dropped`)
    if (draft.screen === true) warn(draft.id, "screen-on-leaf", `Screen marker around a ${what} dropped`)
    if (draft.clip !== undefined) warn(draft.id, "clip-on-leaf", `ClipRRect around a ${what} dropped`)
    if (draft.padding !== undefined) warn(draft.id, "padding-on-leaf", `padding around a ${what} dropped`)
    if (draft.decoration !== undefined) warn(draft.id, "decoration-on-leaf", `decoration around a ${what} dropped`)
  }

  const flexLayout = (widget: Extract<CogoWidget, { readonly type: "Column" | "Row" | "Wrap" }>): Layout =>
    widget.type === "Wrap"
      ? compact({
        mode: "wrap" as const, gap: widget.spacing, runGap: widget.runSpacing, mainAlign: widget.alignment,
        crossAlign: widget.crossAxisAlignment, runAlign: widget.runAlignment
      })
      : compact({
        mode: widget.type === "Column" ? ("vertical" as const) : ("horizontal" as const),
        gap: widget.spacing, mainAlign: widget.mainAxisAlignment, crossAlign: widget.crossAxisAlignment
      })

  const layoutMode = (layout: Layout): ParentLayout => layout.mode

  /** A lone child widget inside a box or Align: a vertical layout aligned by `alignment` (if any). */
  const aligned = (draft: Draft, parent: ParentLayout, alignment: Vec2 | undefined, child: CogoWidget): UuiNode => {
    const layout: Layout = compact({
      mode: "vertical" as const,
      mainAlign: alignment === undefined ? undefined : alignmentToMain(alignment.y),
      crossAlign: alignment === undefined ? undefined : alignmentToMain(alignment.x)
    })
    return container(draft, parent, layout, [toNode(child, childIds(draft.id, 0), "vertical")])
  }

  /** Folds `widget`'s wrapper chain into one draft, then converts its core. */
  const toNode = (start: CogoWidget, fallbackId: string, parent: ParentLayout): UuiNode => {
    const draft: Draft = { id: start.id ?? fallbackId }
    if (start.name !== undefined) draft.name = start.name
    let widget: CogoWidget = start
    for (;;) {
      // A nested widget with its own id is a nested node.
      if (widget !== start && widget.id !== undefined) return aligned(draft, parent, undefined, widget)
      switch (widget.type) {
        case "Positioned":
          if (draft.position !== undefined || draft.flex !== undefined) return aligned(draft, parent, undefined, widget)
          draft.position = compact({ x: widget.left, y: widget.top, constraints: widget.constraints })
          widget = widget.child
          continue
        case "Expanded":
        case "Flexible":
          if (draft.position !== undefined || draft.flex !== undefined) return aligned(draft, parent, undefined, widget)
          draft.flex = true
          widget = widget.child
          continue
        case "SymbolDefinition":
        case "SymbolSet":
        case "SymbolInstance":
          if (draft.symbol !== undefined) return aligned(draft, parent, undefined, widget)
          draft.symbol = widget
          widget = widget.child
          continue
        case "Screen":
          draft.screen = true
          widget = widget.child
          continue
        case "Visibility":
          if (!widget.visible) draft.hidden = true
          widget = widget.child
          continue
        case "Opacity":
          if (draft.opacity !== undefined) return aligned(draft, parent, undefined, widget)
          draft.opacity = widget.opacity
          widget = widget.child
          continue
        case "Transform":
          if (draft.rotation !== undefined) return aligned(draft, parent, undefined, widget)
          draft.rotation = widget.angle
          widget = widget.child
          continue
        case "ImageFiltered":
          if (draft.layerBlur !== undefined) return aligned(draft, parent, undefined, widget)
          draft.layerBlur = widget.blur
          widget = widget.child
          continue
        case "BackdropFilter":
          if (draft.backgroundBlur !== undefined) return aligned(draft, parent, undefined, widget)
          draft.backgroundBlur = widget.blur
          widget = widget.child
          continue
        case "ClipRRect":
          if (draft.clip !== undefined || draft.box === true) return aligned(draft, parent, undefined, widget)
          draft.clip = compact({ radius: widget.borderRadius })
          widget = widget.child
          continue
        case "Padding":
          if (draft.padding !== undefined) return aligned(draft, parent, undefined, widget)
          draft.padding = widget.padding
          widget = widget.child
          continue
        case "SizedBox":
        case "Container": {
          const padding = widget.type === "Container" ? widget.padding : undefined
          if (draft.box === true || (padding !== undefined && draft.padding !== undefined)) {
            return aligned(draft, parent, undefined, widget)
          }
          draft.box = true
          Object.assign(draft, compact({ width: widget.width, height: widget.height, padding }))
          if (widget.type === "Container") {
            Object.assign(draft, compact({
              limits: widget.constraints, decoration: widget.decoration, blendMode: widget.blendMode, theme: widget.theme
            }))
            if (widget.child !== undefined && widget.alignment !== undefined) {
              return aligned(draft, parent, widget.alignment, widget.child)
            }
          }
          if (widget.child === undefined) return boxShape(draft, parent)
          widget = widget.child
          continue
        }
        case "Align":
          return aligned(draft, parent, widget.alignment, widget.child)
        case "Column":
        case "Row":
        case "Wrap": {
          const layout = flexLayout(widget)
          return container(draft, parent, layout, children(widget.children, draft.id, layoutMode(layout)))
        }
        case "Stack":
          return stack(draft, parent, widget.children)
        case "Page":
          warn(draft.id, "nested-page", "Page below the root converted as a frame")
          return container(draft, parent, { mode: "none" }, children(widget.children, draft.id, "none"))
        case "Text":
        case "RichText":
          return text(draft, parent, widget)
        case "Image": {
          leafOnly(draft, "Image")
          return compact({
            ...commonOf({ ...draft, ...compact({ blendMode: widget.blendMode, theme: widget.theme ?? draft.theme }) }, parent, undefined),
            kind: "shape" as const,
            shape: "rectangle" as const,
            fills: [fromImage(widget)]
          })
        }
        case "SvgPicture": {
          leafOnly(draft, "SvgPicture")
          return compact({
            ...commonOf({ ...draft, ...compact({ blendMode: widget.blendMode, theme: widget.theme ?? draft.theme }) }, parent, undefined),
            kind: "vector" as const,
            paths: widget.paths,
            fills: fills(widget, draft.id),
            stroke: stroke(widget.stroke)
          })
        }
      }
    }
  }

  /** Stack[Row|Column|Wrap without id, ...] is auto layout with absolute children (what uuiToCogo emits). */
  const stack = (draft: Draft, parent: ParentLayout, widgets: ReadonlyArray<CogoWidget>): UuiNode => {
    const [first, ...rest] = widgets
    if (first !== undefined && first.id === undefined && (first.type === "Row" || first.type === "Column" || first.type === "Wrap")) {
      const layout = flexLayout(first)
      const flow = children(first.children, draft.id, layoutMode(layout))
      const absolute = rest.map((w, i) => toNode(w, childIds(draft.id, flow.length + i), "none"))
      return container(draft, parent, layout, [...flow, ...absolute])
    }
    return container(draft, parent, { mode: "none" }, children(widgets, draft.id, "none"))
  }

  const boxShape = (draft: Draft, parent: ParentLayout): UuiNode => {
    if (draft.symbol !== undefined || draft.screen === true || draft.padding !== undefined || draft.clip !== undefined) {
      return container(draft, parent, { mode: "none" }, [])
    }
    const decoration = draft.decoration
    return compact({
      ...commonOf(draft, parent, undefined),
      kind: "shape" as const,
      shape: decoration?.shape === "ellipse" ? ("ellipse" as const) : ("rectangle" as const),
      fills: decoration === undefined ? undefined : fills(decoration, draft.id),
      stroke: stroke(decoration?.border),
      radius: decoration?.borderRadius
    })
  }

  const text = (draft: Draft, parent: ParentLayout, widget: Extract<CogoWidget, { readonly type: "Text" | "RichText" }>): UuiNode => {
    leafOnly(draft, widget.type)
    const base = widget.type === "Text" ? widget.style : widget.text.style
    const spans: Array<TextSpan> = widget.type === "Text"
      ? [{ text: widget.data }]
      : widget.text.children.map((s) => compact({ text: s.text, style: s.style === undefined ? undefined : fromTextStyle(s.style) }))
    return compact({
      ...commonOf({ ...draft, ...compact({ blendMode: widget.blendMode, theme: widget.theme ?? draft.theme }) }, parent, base?.shadows),
      kind: "text" as const,
      style: base === undefined ? {} : fromTextStyle(base),
      spans,
      textAlign: widget.textAlign,
      verticalAlign: widget.textAlignVertical,
      maxLines: widget.maxLines,
      truncate: widget.overflow === "ellipsis" ? (true as const) : undefined
    })
  }

  const rootNode = (widget: CogoWidget, index: number): UuiRoot => {
    if (widget.type === "Page") {
      const id = widget.id ?? `cogo:${index}`
      return compact({
        kind: "page" as const, id, name: widget.name, background: widget.backgroundColor,
        children: children(widget.children, id, "page")
      })
    }
    return toNode(widget, `cogo:${index}`, "root")
  }

  return {
    value: {
      schemaVersion: UUI_SCHEMA_VERSION,
      ...compact({ name: document.name }),
      roots: document.roots.map(rootNode),
      tokens: document.theme.tokens
    },
    warnings
  }
}
