import type { FigmaNode } from "../../../../domain/figma/FigmaInput.ts"
import type { AxisSizing, Constraints, Layout, Position, Sides, SizeLimits } from "../../../../domain/figma/Uui.ts"
import { compact } from "../compact.ts"
import { type FigmaBox, finite, lookup, type ParentContext, type Warn } from "./context.ts"

/*
 * Geometry and layout: boxes, rotation, auto layout (direction, gap, alignment, wrap), padding, hug/fill/fixed
 * sizing per axis, min/max limits, absolute position and constraints.
 */

const CONSTRAINTS: Readonly<Record<string, Constraints["horizontal"]>> = {
  LEFT: "start", TOP: "start", MIN: "start", RIGHT: "end", BOTTOM: "end", MAX: "end", CENTER: "center",
  LEFT_RIGHT: "stretch", TOP_BOTTOM: "stretch", STRETCH: "stretch", SCALE: "scale"
}
const MAIN_ALIGN = { CENTER: "center", MAX: "end", SPACE_BETWEEN: "spaceBetween" } as const
const CROSS_ALIGN = { CENTER: "center", MAX: "end", BASELINE: "baseline" } as const

export const boxOf = (node: FigmaNode): FigmaBox | undefined => {
  const bbox = node.absoluteBoundingBox ?? undefined
  if (node.size !== undefined) return { x: bbox?.x ?? 0, y: bbox?.y ?? 0, width: node.size.x, height: node.size.y }
  return bbox
}

/** Radians, clockwise positive. Figma rotates counter-clockwise; relativeTransform is preferred over `rotation`. */
export const rotationOf = (node: FigmaNode): number => {
  const m = node.relativeTransform
  const a = m?.[0]?.[0]
  const c = m?.[1]?.[0]
  if (a !== undefined && c !== undefined) return finite(Math.atan2(c, a))
  return -(node.rotation ?? 0)
}

const isAutoLayout = (layout: ParentContext["layout"]): layout is "horizontal" | "vertical" | "wrap" =>
  layout === "horizontal" || layout === "vertical" || layout === "wrap"

export const axisSizing = (
  node: FigmaNode, axis: "horizontal" | "vertical", parent: ParentContext, box: FigmaBox | undefined
): AxisSizing => {
  const fixed: AxisSizing = { mode: "fixed", size: (axis === "horizontal" ? box?.width : box?.height) ?? 0 }
  const explicit = axis === "horizontal" ? node.layoutSizingHorizontal : node.layoutSizingVertical
  if (explicit === "HUG") return { mode: "hug" }
  if (explicit === "FILL") return { mode: "fill" }
  if (explicit === "FIXED") return fixed
  // Older exports: derive from the pre-2023 auto layout fields.
  const absolute = node.layoutPositioning === "ABSOLUTE"
  if (isAutoLayout(parent.layout) && !absolute) {
    const parentMain = parent.layout === "vertical" ? "vertical" : "horizontal"
    if (axis === parentMain && node.layoutGrow === 1) return { mode: "fill" }
    if (axis !== parentMain && node.layoutAlign === "STRETCH") return { mode: "fill" }
  }
  if (node.layoutMode === "HORIZONTAL" || node.layoutMode === "VERTICAL") {
    const ownMain = node.layoutMode === "VERTICAL" ? "vertical" : "horizontal"
    const mode = axis === ownMain ? node.primaryAxisSizingMode : node.counterAxisSizingMode
    return mode === "FIXED" ? fixed : { mode: "hug" }
  }
  if (node.type === "TEXT") {
    const resize = node.style?.textAutoResize
    if (resize === "WIDTH_AND_HEIGHT") return { mode: "hug" }
    if (resize === "HEIGHT" && axis === "vertical") return { mode: "hug" }
  }
  return fixed
}

export const limitsOf = (node: FigmaNode): SizeLimits | undefined => {
  const limits = compact({
    minWidth: node.minWidth ?? undefined,
    maxWidth: node.maxWidth ?? undefined,
    minHeight: node.minHeight ?? undefined,
    maxHeight: node.maxHeight ?? undefined
  })
  return Object.keys(limits).length > 0 ? limits : undefined
}

export const positionOf = (node: FigmaNode, parent: ParentContext, box: FigmaBox | undefined, warn: Warn): Position | undefined => {
  const positioned = parent.layout === "page" || parent.layout === "none" ||
    (isAutoLayout(parent.layout) && node.layoutPositioning === "ABSOLUTE")
  if (!positioned) return undefined
  const bbox = node.absoluteBoundingBox ?? undefined
  const translation = node.relativeTransform
  const tx = translation?.[0]?.[2]
  const ty = translation?.[1]?.[2]
  let x: number
  let y: number
  if (tx !== undefined && ty !== undefined && parent.layout !== "page") {
    x = tx
    y = ty
  } else if (bbox !== undefined) {
    x = finite(bbox.x - (parent.box?.x ?? 0))
    y = finite(bbox.y - (parent.box?.y ?? 0))
  } else {
    warn(node.id, "position-missing", "no relativeTransform or absoluteBoundingBox: placed at 0,0")
    x = box?.x ?? 0
    y = box?.y ?? 0
  }
  const horizontal = lookup(CONSTRAINTS, node.constraints?.horizontal) ?? "start"
  const vertical = lookup(CONSTRAINTS, node.constraints?.vertical) ?? "start"
  const constraints = horizontal === "start" && vertical === "start" ? undefined : { horizontal, vertical }
  return compact({ x, y, constraints })
}

export const layoutOf = (node: FigmaNode, warn: Warn): Layout => {
  const mode = node.layoutMode
  if (mode === "GRID") {
    warn(node.id, "layout-grid", "grid auto layout approximated by absolute positions of the children")
    return { mode: "none" }
  }
  if (mode !== "HORIZONTAL" && mode !== "VERTICAL") return { mode: "none" }
  if (node.itemReverseZIndex === true) warn(node.id, "layout-reverse-z-index", "first-on-top stacking not carried; last child drawn on top")
  if (node.strokesIncludedInLayout === true) warn(node.id, "layout-strokes-included", "strokes not included in layout size")
  const gap = node.itemSpacing !== undefined && node.itemSpacing !== 0 ? node.itemSpacing : undefined
  const mainAlign = lookup(MAIN_ALIGN, node.primaryAxisAlignItems)
  const crossAlign = lookup(CROSS_ALIGN, node.counterAxisAlignItems)
  if (node.layoutWrap === "WRAP") {
    if (mode === "VERTICAL") warn(node.id, "layout-wrap-vertical", "vertical wrap converted as horizontal wrap")
    if (crossAlign === "baseline") warn(node.id, "layout-wrap-baseline", "baseline alignment in wrap approximated as start")
    return compact({
      mode: "wrap" as const,
      gap,
      runGap: node.counterAxisSpacing !== undefined && node.counterAxisSpacing !== 0 ? node.counterAxisSpacing : undefined,
      mainAlign,
      crossAlign: crossAlign === "baseline" ? undefined : crossAlign,
      runAlign: node.counterAxisAlignContent === "SPACE_BETWEEN" ? ("spaceBetween" as const) : undefined
    })
  }
  // SPACE_BETWEEN distributes the free space; Figma ignores itemSpacing there (it only shows when switching back).
  return compact({
    mode: mode === "VERTICAL" ? ("vertical" as const) : ("horizontal" as const),
    gap: mainAlign === "spaceBetween" ? undefined : gap,
    mainAlign,
    crossAlign
  })
}

export const paddingOf = (node: FigmaNode): Sides | undefined => {
  const top = node.paddingTop ?? 0
  const right = node.paddingRight ?? 0
  const bottom = node.paddingBottom ?? 0
  const left = node.paddingLeft ?? 0
  return top === 0 && right === 0 && bottom === 0 && left === 0 ? undefined : { top, right, bottom, left }
}
