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

/** The linear part and translation of `relativeTransform` (x' = a x + b y + tx, y' = c x + d y + ty). */
interface Affine { readonly a: number; readonly b: number; readonly c: number; readonly d: number; readonly tx: number; readonly ty: number }

const affineOf = (node: FigmaNode): Affine | undefined => {
  const [row0, row1] = node.relativeTransform ?? []
  const [a, b, tx] = row0 ?? []
  const [c, d, ty] = row1 ?? []
  return a === undefined || b === undefined || c === undefined || d === undefined || tx === undefined || ty === undefined
    ? undefined
    : { a, b, c, d, tx, ty }
}

/**
 * The node's own (unrotated) box: `size` when present, else `absoluteBoundingBox`, which for a rotated node is
 * the box of the rotated rectangle, so the unrotated size is solved from it (ambiguous near 45°: kept as is).
 * `x`/`y` stay the absolute bounding box origin (children of groups are placed from it).
 */
export const boxOf = (node: FigmaNode): FigmaBox | undefined => {
  const bbox = node.absoluteBoundingBox ?? undefined
  if (node.size !== undefined) return { x: bbox?.x ?? 0, y: bbox?.y ?? 0, width: node.size.x, height: node.size.y }
  if (bbox === undefined) return undefined
  const { rotation } = orientationOf(node)
  const cos = Math.abs(Math.cos(rotation)), sin = Math.abs(Math.sin(rotation))
  const det = cos * cos - sin * sin
  if (sin < 1e-6 || Math.abs(det) < ROTATED_SIZE_MIN_DET) return bbox
  return {
    ...bbox,
    width: finite(Math.max(0, (cos * bbox.width - sin * bbox.height) / det)),
    height: finite(Math.max(0, (cos * bbox.height - sin * bbox.width) / det))
  }
}

/** Below this |cos²θ - sin²θ| the unrotated size cannot be solved from the rotated bounding box. */
const ROTATED_SIZE_MIN_DET = 0.1

/** True when a rotated node without `size` keeps its bounding box as its size (see boxOf). */
export const rotatedSizeAmbiguous = (node: FigmaNode): boolean => {
  if (node.size !== undefined || node.absoluteBoundingBox == null) return false
  const { rotation } = orientationOf(node)
  const sin = Math.abs(Math.sin(rotation))
  return sin >= 1e-6 && Math.abs(Math.cos(2 * rotation)) < ROTATED_SIZE_MIN_DET
}

export interface Orientation { readonly rotation: number; readonly flipX: boolean; readonly flipY: boolean }

/**
 * Rotation (radians, clockwise positive; Figma rotates counter-clockwise) and mirroring, from relativeTransform
 * when present (else REST `rotation`). A negative determinant is a mirror: the linear part is R(θ)·diag(-1, 1)
 * (flipX) or, equivalently, R(θ + π)·diag(1, -1) (flipY); the form with the smaller rotation is chosen.
 */
export const orientationOf = (node: FigmaNode): Orientation => {
  const m = affineOf(node)
  if (m === undefined) return { rotation: -(node.rotation ?? 0), flipX: false, flipY: false }
  if (m.a * m.d - m.b * m.c >= 0) return { rotation: finite(Math.atan2(m.c, m.a)), flipX: false, flipY: false }
  const asFlipX = finite(Math.atan2(-m.c, -m.a))
  const asFlipY = finite(Math.atan2(m.c, m.a))
  return Math.abs(asFlipX) <= Math.abs(asFlipY)
    ? { rotation: asFlipX, flipX: true, flipY: false }
    : { rotation: asFlipY, flipX: false, flipY: true }
}

const isAutoLayout = (layout: ParentContext["layout"]): layout is "horizontal" | "vertical" | "wrap" =>
  layout === "horizontal" || layout === "vertical" || layout === "wrap"

/** A child laid out by its parent's auto layout (not absolutely positioned). */
export const isFlowChild = (node: FigmaNode, parent: ParentContext): boolean =>
  isAutoLayout(parent.layout) && node.layoutPositioning !== "ABSOLUTE"

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

/**
 * Where an absolutely positioned node goes: its unrotated box, placed so that mirroring and rotating it about
 * its centre (as the Transform widget does) covers what Figma draws. The centre comes from relativeTransform
 * (the transformed centre of the box) or, for children of pages and groups (whose relativeTransform is relative
 * to another container) and nodes without one, from the centre of the absolute bounding boxes.
 */
export const positionOf = (node: FigmaNode, parent: ParentContext, box: FigmaBox | undefined, warn: Warn): Position | undefined => {
  const positioned = parent.layout === "page" || parent.layout === "none" ||
    (isAutoLayout(parent.layout) && node.layoutPositioning === "ABSOLUTE")
  if (!positioned) return undefined
  const bbox = node.absoluteBoundingBox ?? undefined
  const m = affineOf(node)
  const width = box?.width ?? 0
  const height = box?.height ?? 0
  let centre: { readonly x: number; readonly y: number }
  if (m !== undefined && parent.layout !== "page" && parent.group !== true) {
    centre = { x: m.tx + (m.a * width + m.b * height) / 2, y: m.ty + (m.c * width + m.d * height) / 2 }
  } else if (bbox !== undefined) {
    centre = { x: bbox.x + bbox.width / 2 - (parent.box?.x ?? 0), y: bbox.y + bbox.height / 2 - (parent.box?.y ?? 0) }
  } else {
    warn(node.id, "position-missing", "no relativeTransform or absoluteBoundingBox: placed at 0,0")
    centre = { x: width / 2, y: height / 2 }
  }
  const horizontal = lookup(CONSTRAINTS, node.constraints?.horizontal) ?? "start"
  const vertical = lookup(CONSTRAINTS, node.constraints?.vertical) ?? "start"
  const constraints = horizontal === "start" && vertical === "start" ? undefined : { horizontal, vertical }
  return compact({ x: finite(centre.x - width / 2), y: finite(centre.y - height / 2), constraints })
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
