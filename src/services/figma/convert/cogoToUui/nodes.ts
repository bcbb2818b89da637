import type { BoxDecoration, BoxShadow, CogoBlendMode, CogoWidget, Extent } from "../../../../domain/figma/CogoUi.ts"
import type {
  Constraints, Layout, Radius, Sides, SizeLimits, TextSpan, TokenRefs, UuiNode
} from "../../../../domain/figma/Uui.ts"
import { compact } from "../compact.ts"
import type { Warn } from "../figmaToUui/context.ts"
import { fills, fromBlendMode, fromImage, fromShadow, fromTextStyle, sizing, stroke } from "./values.ts"

/*
 * UUI nodes from a folded Draft: the fields every node shares, containers (frame/component/set/instance),
 * childless boxes as shapes, and the leaves (text, image, SVG picture), which report the wrappers they drop.
 */

export type ParentLayout = "root" | "page" | "none" | "horizontal" | "vertical" | "wrap"

type SymbolWidget = Extract<CogoWidget, { readonly type: "SymbolDefinition" | "SymbolSet" | "SymbolInstance" }>

/** Everything the wrappers of one node contributed. */
export interface Draft {
  id: string
  name?: string
  position?: { readonly x: number; readonly y: number; readonly constraints?: Constraints }
  flex?: true
  symbol?: SymbolWidget
  screen?: true
  hidden?: true
  opacity?: number
  rotation?: number
  flipX?: true
  flipY?: true
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

/** Fields every node takes from its draft (identity, placement, transform, sizing, effects). */
const commonOf = (draft: Draft, parent: ParentLayout, extraShadows: ReadonlyArray<BoxShadow> | undefined, warn: Warn) => {
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
    flipX: draft.flipX,
    flipY: draft.flipY,
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

/** A container node (frame/component/set/instance) with the given layout and children. */
export const container = (
  draft: Draft, parent: ParentLayout, layout: Layout, nodes: ReadonlyArray<UuiNode>, warn: Warn
): UuiNode => {
  const decoration = draft.decoration
  if (decoration?.shape === "ellipse") warn(draft.id, "ellipse-container", "elliptic box with children drawn as a rectangle")
  const base = compact({
    ...commonOf(draft, parent, undefined, warn),
    fills: decoration === undefined ? undefined : fills(decoration, draft.id, warn),
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
const leafOnly = (draft: Draft, what: string, warn: Warn) => {
  if (draft.symbol !== undefined) warn(draft.id, "symbol-on-leaf", `${draft.symbol.type} around a ${what} dropped`)
  if (draft.screen === true) warn(draft.id, "screen-on-leaf", `Screen marker around a ${what} dropped`)
  if (draft.clip !== undefined) warn(draft.id, "clip-on-leaf", `ClipRRect around a ${what} dropped`)
  if (draft.padding !== undefined) warn(draft.id, "padding-on-leaf", `padding around a ${what} dropped`)
  if (draft.decoration !== undefined) warn(draft.id, "decoration-on-leaf", `decoration around a ${what} dropped`)
}

export const boxShape = (draft: Draft, parent: ParentLayout, warn: Warn): UuiNode => {
  if (draft.symbol !== undefined || draft.screen === true || draft.padding !== undefined || draft.clip !== undefined) {
    return container(draft, parent, { mode: "none" }, [], warn)
  }
  const decoration = draft.decoration
  return compact({
    ...commonOf(draft, parent, undefined, warn),
    kind: "shape" as const,
    shape: decoration?.shape === "ellipse" ? ("ellipse" as const) : ("rectangle" as const),
    fills: decoration === undefined ? undefined : fills(decoration, draft.id, warn),
    stroke: stroke(decoration?.border),
    radius: decoration?.borderRadius
  })
}

export const textNode = (
  draft: Draft, parent: ParentLayout, widget: Extract<CogoWidget, { readonly type: "Text" | "RichText" }>, warn: Warn
): UuiNode => {
  leafOnly(draft, widget.type, warn)
  const base = widget.type === "Text" ? widget.style : widget.text.style
  const spans: Array<TextSpan> = widget.type === "Text"
    ? [{ text: widget.data }]
    : widget.text.children.map((s) => compact({ text: s.text, style: s.style === undefined ? undefined : fromTextStyle(s.style) }))
  return compact({
    ...leafCommon(draft, parent, widget, base?.shadows, warn),
    kind: "text" as const,
    style: base === undefined ? {} : fromTextStyle(base),
    spans,
    textAlign: widget.textAlign,
    verticalAlign: widget.textAlignVertical,
    maxLines: widget.maxLines,
    truncate: widget.overflow === "ellipsis" ? (true as const) : undefined
  })
}

/** A leaf's common fields: its own blend mode and theme override the wrappers'. */
const leafCommon = (
  draft: Draft, parent: ParentLayout, widget: Extract<CogoWidget, { readonly type: "Text" | "RichText" | "Image" | "SvgPicture" }>,
  extraShadows: ReadonlyArray<BoxShadow> | undefined, warn: Warn
) => commonOf({ ...draft, ...compact({ blendMode: widget.blendMode, theme: widget.theme ?? draft.theme }) }, parent, extraShadows, warn)

export const imageNode = (draft: Draft, parent: ParentLayout, widget: Extract<CogoWidget, { readonly type: "Image" }>, warn: Warn): UuiNode => {
  leafOnly(draft, "Image", warn)
  return compact({
    ...leafCommon(draft, parent, widget, undefined, warn),
    kind: "shape" as const,
    shape: "rectangle" as const,
    fills: [fromImage(widget)]
  })
}

export const svgNode = (draft: Draft, parent: ParentLayout, widget: Extract<CogoWidget, { readonly type: "SvgPicture" }>, warn: Warn): UuiNode => {
  leafOnly(draft, "SvgPicture", warn)
  return compact({
    ...leafCommon(draft, parent, widget, undefined, warn),
    kind: "vector" as const,
    paths: widget.paths,
    fills: fills(widget, draft.id, warn),
    stroke: stroke(widget.stroke)
  })
}
