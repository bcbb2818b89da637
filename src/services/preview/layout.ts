/**
 * The widget walker: every node chain (see chain.ts) becomes one absolutely or flex-positioned <div> carrying
 * `data-node-id`. Row/Column/Wrap are flexbox with gap, padding and alignment; Stack and Page hold absolute
 * children (Positioned, with constraints when the parent's size is known); sizing is fixed (px), hug
 * (content size, no flex growth) or fill (`Expanded`/`Flexible` grow, `infinity` stretches on the cross axis).
 */
import type { CogoWidget, Extent } from "../../domain/figma/CogoUi.ts"
import type { Constraints } from "../../domain/figma/Uui.ts"
import { type Box, type Chain, foldChain } from "./chain.ts"
import { expandInstance, type SymbolTable } from "./components.ts"
import { cssColor, escapeHtml, num, px, styleAttr } from "./html.ts"
import { type AssetUrls, backgroundCss, blendCss, type BoxSize, radiusCss, shadowCss, strokeOverlay, svgMarkup } from "./paint.ts"
import { renderText } from "./text.ts"
import { type TokenTable, tokenFill, tokenShadows, tokenTextStyle } from "./tokens.ts"

export interface RenderContext {
  readonly tokens: TokenTable
  readonly assets: AssetUrls
  readonly symbols: SymbolTable
  readonly nextId: () => string
}

type ParentKind = "row" | "column" | "wrap" | "stack" | "block"

interface Parent {
  readonly kind: ParentKind
  /** The parent's size when fixed: content box for flex children, padding box for absolute ones (constraints). */
  readonly size: BoxSize
  /** Subtracted from Positioned offsets (a page's canvas origin). */
  readonly origin?: { readonly x: number; readonly y: number }
}

const MAIN = { start: "flex-start", center: "center", end: "flex-end", spaceBetween: "space-between" } as const
const CROSS = { start: "flex-start", center: "center", end: "flex-end", baseline: "baseline" } as const

const fixed = (extent: Extent | undefined): number | undefined => (typeof extent === "number" ? extent : undefined)

const sizeOf = (box: Box): BoxSize => ({ width: fixed(box.width), height: fixed(box.height) })

const innerSize = (box: Box): BoxSize => {
  const size = sizeOf(box)
  const p = box.padding
  return p === undefined ? size : {
    width: size.width === undefined ? undefined : size.width - p.left - p.right,
    height: size.height === undefined ? undefined : size.height - p.top - p.bottom
  }
}

/** One axis of a Positioned child: offset from the start, or from the end / centre per its constraint. */
const placeAxis = (
  start: "left" | "top", end: "right" | "bottom", offset: number, own: number | undefined, parent: number | undefined,
  constraint: Constraints["horizontal"] | undefined
): Array<string> => {
  if (parent !== undefined && own !== undefined && constraint === "end") return [`${end}:${px(parent - offset - own)}`]
  if (parent !== undefined && constraint === "center") return [`${start}:calc(50% + ${px(offset - parent / 2)})`]
  return [`${start}:${px(offset)}`]
}

/** Flex-item and absolute-position CSS of an element, from its slot and its extents. */
const slotCss = (chain: Chain, parent: Parent): Array<string> => {
  const css: Array<string> = []
  const slot = chain.slot
  const own = sizeOf(chain.box)
  if (slot?.type === "Positioned") {
    const x = slot.left - (parent.origin?.x ?? 0)
    const y = slot.top - (parent.origin?.y ?? 0)
    css.push("position:absolute",
      ...placeAxis("left", "right", x, own.width, parent.size.width, slot.constraints?.horizontal),
      ...placeAxis("top", "bottom", y, own.height, parent.size.height, slot.constraints?.vertical))
  } else if ((slot?.type === "Expanded" || slot?.type === "Flexible") && (parent.kind === "row" || parent.kind === "column")) {
    css.push(`flex:${num(slot.flex ?? 1)} 1 0px`)
  }
  const axis = (name: "width" | "height", extent: Extent | undefined) => {
    if (typeof extent === "number") css.push(`${name}:${px(extent)}`)
    else if (extent === "infinity") {
      const crossOfFlex = (parent.kind === "row" && name === "height") || (parent.kind === "column" && name === "width")
      const mainOfFlex = (parent.kind === "row" && name === "width") || (parent.kind === "column" && name === "height")
      css.push(crossOfFlex ? "align-self:stretch" : mainOfFlex ? "flex-grow:1" : `${name}:100%`)
    }
  }
  axis("width", chain.box.width)
  axis("height", chain.box.height)
  const b = chain.box
  if (b.minWidth !== undefined) css.push(`min-width:${px(b.minWidth)}`)
  if (b.maxWidth !== undefined && Number.isFinite(b.maxWidth)) css.push(`max-width:${px(b.maxWidth)}`)
  if (b.minHeight !== undefined) css.push(`min-height:${px(b.minHeight)}`)
  if (b.maxHeight !== undefined && Number.isFinite(b.maxHeight)) css.push(`max-height:${px(b.maxHeight)}`)
  return css
}

/** Opacity, rotation, blurs, clipping, visibility. */
const effectCss = (chain: Chain): Array<string> => {
  const css: Array<string> = []
  if (chain.hidden) css.push("display:none")
  if (chain.opacity !== undefined) css.push(`opacity:${num(chain.opacity)}`)
  const transform = [
    ...(chain.angle === undefined ? [] : [`rotate(${num(chain.angle)}rad)`]),
    ...(chain.flipX || chain.flipY ? [`scale(${chain.flipX ? -1 : 1},${chain.flipY ? -1 : 1})`] : [])
  ]
  // CSS applies the right-most function first: mirror, then rotate, both about the centre.
  if (transform.length > 0) css.push(`transform:${transform.join(" ")}`)
  if (chain.blur !== undefined) css.push(`filter:blur(${px(chain.blur / 2)})`)
  if (chain.backdrop !== undefined) css.push(`backdrop-filter:blur(${px(chain.backdrop / 2)})`)
  if (chain.clip !== undefined) {
    css.push("overflow:hidden")
    const r = radiusCss(chain.clip.borderRadius, false)
    if (r !== undefined && chain.box.decoration?.borderRadius === undefined) css.push(r)
  }
  return css
}

/** Background, radius, shadows, blend mode and padding of the box; the stroke overlay as extra markup. */
const boxCss = (box: Box, ctx: RenderContext): { readonly css: Array<string>; readonly overlay: string } => {
  const css: Array<string> = []
  const d = box.decoration
  if (box.padding !== undefined) {
    const p = box.padding
    css.push(`padding:${px(p.top)} ${px(p.right)} ${px(p.bottom)} ${px(p.left)}`)
  }
  const blend = blendCss(box.blendMode)
  if (blend !== undefined) css.push(blend)
  if (d === undefined) return { css, overlay: "" }
  const themed = tokenFill(ctx.tokens, box.theme?.fill)
  const fill = themed === undefined ? { color: d.color, gradient: d.gradient, image: d.image } : { ...themed, image: d.image }
  css.push(...backgroundCss(fill, sizeOf(box), ctx.assets))
  const ellipse = d.shape === "ellipse"
  const r = radiusCss(d.borderRadius, ellipse)
  if (r !== undefined) css.push(r)
  const shadows = tokenShadows(ctx.tokens, box.theme?.effect) ?? d.boxShadow
  if (shadows !== undefined && shadows.length > 0) css.push(`box-shadow:${shadowCss(shadows)}`)
  const strokeColor = tokenFill(ctx.tokens, box.theme?.stroke)?.color
  const overlay = d.border === undefined ? "" : strokeOverlay(d.border, strokeColor, d.borderRadius, ellipse)
  return { css, overlay }
}

const flexCss = (core: Extract<CogoWidget, { type: "Row" | "Column" | "Wrap" }>): Array<string> => {
  if (core.type === "Wrap") {
    const css = ["display:flex", "flex-direction:row", "flex-wrap:wrap"]
    if (core.spacing !== undefined) css.push(`column-gap:${px(core.spacing)}`)
    if (core.runSpacing !== undefined) css.push(`row-gap:${px(core.runSpacing)}`)
    css.push(`justify-content:${MAIN[core.alignment ?? "start"]}`, `align-content:${core.runAlignment === "spaceBetween" ? "space-between" : "flex-start"}`,
      `align-items:${CROSS[core.crossAxisAlignment ?? "start"]}`)
    return css
  }
  const css = ["display:flex", `flex-direction:${core.type === "Row" ? "row" : "column"}`]
  if (core.spacing !== undefined) css.push(`gap:${px(core.spacing)}`)
  css.push(`justify-content:${MAIN[core.mainAxisAlignment ?? "start"]}`, `align-items:${CROSS[core.crossAxisAlignment ?? "start"]}`)
  return css
}

const KIND = { Row: "row", Column: "column", Wrap: "wrap" } as const

/** A Stack whose first child is an unnamed Row/Column/Wrap and the rest Positioned: auto layout with absolute children. */
const flexWithAbsolutes = (core: CogoWidget) => {
  if (core.type !== "Stack" || core.id !== undefined) return undefined
  const [first, ...rest] = core.children
  if (first === undefined || first.id !== undefined || (first.type !== "Row" && first.type !== "Column" && first.type !== "Wrap")) return undefined
  return rest.every((c) => c.type === "Positioned") ? { flex: first, absolutes: rest } : undefined
}

/** Bounds of a page's Positioned children (for the canvas size and origin). */
const canvasBounds = (children: ReadonlyArray<CogoWidget>) => {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity
  for (const child of children) {
    if (child.type !== "Positioned") continue
    const size = sizeOf(foldChain(child).box)
    minX = Math.min(minX, child.left)
    minY = Math.min(minY, child.top)
    maxX = Math.max(maxX, child.left + (size.width ?? 0))
    maxY = Math.max(maxY, child.top + (size.height ?? 0))
  }
  return Number.isFinite(minX) ? { minX, minY, width: maxX - minX, height: maxY - minY } : { minX: 0, minY: 0, width: 0, height: 0 }
}

const renderChildren = (children: ReadonlyArray<CogoWidget>, parent: Parent, ctx: RenderContext): string =>
  children.map((c) => renderWidget(c, parent, ctx)).join("")

/** Core CSS and inner markup of the element. */
const coreOf = (chain: Chain, parent: Parent, ctx: RenderContext): { readonly css: Array<string>; readonly html: string } => {
  const core = chain.core
  const inner = innerSize(chain.box)
  if (core === undefined) return { css: [], html: "" }
  if (chain.nested) return { css: [], html: renderWidget(core, { kind: "block", size: inner }, ctx) }
  const mixed = flexWithAbsolutes(core)
  if (mixed !== undefined) {
    return {
      css: flexCss(mixed.flex),
      html: renderChildren(mixed.flex.children, { kind: KIND[mixed.flex.type], size: inner }, ctx) +
        renderChildren(mixed.absolutes, { kind: "stack", size: sizeOf(chain.box) }, ctx)
    }
  }
  switch (core.type) {
    case "Row":
    case "Column":
    case "Wrap":
      return { css: flexCss(core), html: renderChildren(core.children, { kind: KIND[core.type], size: inner }, ctx) }
    case "Stack":
      return { css: [], html: renderChildren(core.children, { kind: "stack", size: sizeOf(chain.box) }, ctx) }
    case "Page": {
      const bounds = canvasBounds(core.children)
      const css = [`width:${px(bounds.width)}`, `height:${px(bounds.height)}`]
      if (core.backgroundColor !== undefined) css.push(`background-color:${cssColor(core.backgroundColor)}`)
      const size = { width: bounds.width, height: bounds.height }
      return { css, html: renderChildren(core.children, { kind: "stack", size, origin: { x: bounds.minX, y: bounds.minY } }, ctx) }
    }
    case "Text":
    case "RichText": {
      const wraps = chain.box.width !== undefined || (parent.kind === "row" && chain.slot?.type !== undefined && chain.slot.type !== "Positioned")
      const text = renderText(core, tokenTextStyle(ctx.tokens, core.theme?.text), wraps)
      const themed = tokenFill(ctx.tokens, core.theme?.fill)?.color
      const blend = blendCss(core.blendMode)
      return { css: [...text.style, ...(themed === undefined ? [] : [`color:${cssColor(themed)}`]), ...(blend === undefined ? [] : [blend])], html: text.html }
    }
    case "Image": {
      const blend = blendCss(core.blendMode)
      return { css: [...backgroundCss({ image: core }, sizeOf(chain.box), ctx.assets), ...(blend === undefined ? [] : [blend])], html: "" }
    }
    case "SvgPicture": {
      const themed = tokenFill(ctx.tokens, core.theme?.fill)
      const fill = { ...(themed ?? { color: core.color, gradient: core.gradient }), image: core.image }
      const blend = blendCss(core.blendMode)
      return { css: blend === undefined ? [] : [blend], html: svgMarkup(core.paths, fill, core.stroke, sizeOf(chain.box), ctx) }
    }
    case "Align": {
      const x = (core.alignment.x + 1) * 50, y = (core.alignment.y + 1) * 50
      const css = ["display:flex", "width:100%", "height:100%", `justify-content:${x < 34 ? "flex-start" : x > 66 ? "flex-end" : "center"}`,
        `align-items:${y < 34 ? "flex-start" : y > 66 ? "flex-end" : "center"}`]
      return { css, html: renderWidget(core.child, { kind: "block", size: inner }, ctx) }
    }
    default:
      // Any other widget here is a wrapper the chain could not fold (out of order): a nested element.
      return { css: [], html: renderWidget(core, { kind: "block", size: inner }, ctx) }
  }
}

const symbolAttrs = (chain: Chain): string => {
  const symbol = chain.symbol
  if (symbol === undefined) return ""
  const kind = symbol.type === "SymbolInstance" ? "instance" : symbol.type === "SymbolSet" ? "set" : "component"
  return ` data-symbol="${kind}" data-symbol-id="${escapeHtml(symbol.symbolId)}"`
}

export const renderWidget = (widget: CogoWidget, parent: Parent, ctx: RenderContext): string => {
  const chain = foldChain(expandInstance(widget, ctx.symbols))
  const box = boxCss(chain.box, ctx)
  const core = coreOf(chain, parent, ctx)
  const css = [...slotCss(chain, parent), ...effectCss(chain), ...box.css, ...core.css]
  const id = chain.id === undefined ? "" : ` data-node-id="${escapeHtml(chain.id)}"`
  const screen = chain.screen ? " data-screen" : ""
  return `<div class="n"${id}${symbolAttrs(chain)}${screen}${styleAttr(css)}>${core.html}${box.overlay}</div>`
}

/** Renders top-level widgets (each as a block of its own). */
export const renderRoots = (roots: ReadonlyArray<CogoWidget>, ctx: RenderContext): string =>
  roots.map((root) => `<section class="root">${renderWidget(root, { kind: "block", size: { width: undefined, height: undefined } }, ctx)}</section>`).join("")
