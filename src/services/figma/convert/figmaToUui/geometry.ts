import type { FigmaNode } from "../../../../domain/figma/FigmaInput.ts"
import type { VectorPath } from "../../../../domain/figma/Uui.ts"
import type { Warn } from "./context.ts"

/*
 * Vector paths drawn from size alone, for exports without geometry (no `geometry=paths`): rectangles,
 * ellipses, lines, stars and regular polygons, and boolean operations of those (from their children's
 * boxes). Paths are SVG path data in the node's own box (0,0 .. width,height).
 */

const DEFAULT_STAR_POINTS = 5
const DEFAULT_POLYGON_POINTS = 3
/** Figma's default star inner radius (ratio of the outer radius). */
const DEFAULT_INNER_RADIUS = 0.382

const n = (v: number): string => String(Math.round(v * 1000) / 1000)

interface Size { readonly width: number; readonly height: number }
interface Offset { readonly x: number; readonly y: number }

const rectangle = ({ width: w, height: h }: Size, o: Offset, radius: number): string => {
  const r = Math.max(0, Math.min(radius, w / 2, h / 2))
  if (r === 0) return `M${n(o.x)} ${n(o.y)}H${n(o.x + w)}V${n(o.y + h)}H${n(o.x)}Z`
  const arc = (x: number, y: number) => `A${n(r)} ${n(r)} 0 0 1 ${n(x)} ${n(y)}`
  return `M${n(o.x + r)} ${n(o.y)}H${n(o.x + w - r)}${arc(o.x + w, o.y + r)}V${n(o.y + h - r)}${arc(o.x + w - r, o.y + h)}` +
    `H${n(o.x + r)}${arc(o.x, o.y + h - r)}V${n(o.y + r)}${arc(o.x + r, o.y)}Z`
}

const ellipse = ({ width: w, height: h }: Size, o: Offset): string => {
  const rx = w / 2, ry = h / 2
  return `M${n(o.x)} ${n(o.y + ry)}A${n(rx)} ${n(ry)} 0 1 0 ${n(o.x + w)} ${n(o.y + ry)}A${n(rx)} ${n(ry)} 0 1 0 ${n(o.x)} ${n(o.y + ry)}Z`
}

/** Vertices on a circle from the top, clockwise, alternating outer/inner radius for stars, stretched to the box. */
const polygon = ({ width: w, height: h }: Size, o: Offset, points: number, inner: number | undefined): string => {
  const count = Math.max(3, Math.round(points))
  const vertices: Array<readonly [number, number]> = []
  const steps = inner === undefined ? count : count * 2
  for (let i = 0; i < steps; i++) {
    const angle = -Math.PI / 2 + (i * 2 * Math.PI) / steps
    const r = inner !== undefined && i % 2 === 1 ? inner : 1
    vertices.push([r * Math.cos(angle), r * Math.sin(angle)])
  }
  const xs = vertices.map((v) => v[0]), ys = vertices.map((v) => v[1])
  const minX = Math.min(...xs), minY = Math.min(...ys)
  const spanX = Math.max(...xs) - minX || 1, spanY = Math.max(...ys) - minY || 1
  return vertices.map(([x, y], i) =>
    `${i === 0 ? "M" : "L"}${n(o.x + ((x - minX) / spanX) * w)} ${n(o.y + ((y - minY) / spanY) * h)}`
  ).join("") + "Z"
}

const sizeOf = (node: FigmaNode): Size | undefined => {
  if (node.size !== undefined) return { width: node.size.x, height: node.size.y }
  const bbox = node.absoluteBoundingBox ?? undefined
  return bbox === undefined ? undefined : { width: bbox.width, height: bbox.height }
}

/** The path of one simple shape at `offset`, or undefined when its type cannot be drawn from its size. */
const shapePath = (node: FigmaNode, size: Size, offset: Offset): string | undefined => {
  switch (node.type) {
    case "RECTANGLE":
      return rectangle(size, offset, node.cornerRadius ?? 0)
    case "ELLIPSE":
      return ellipse(size, offset)
    case "LINE":
      return `M${n(offset.x)} ${n(offset.y)}L${n(offset.x + size.width)} ${n(offset.y)}`
    case "STAR":
      return polygon(size, offset, node.pointCount ?? DEFAULT_STAR_POINTS, node.innerRadius ?? DEFAULT_INNER_RADIUS)
    case "REGULAR_POLYGON":
      return polygon(size, offset, node.pointCount ?? DEFAULT_POLYGON_POINTS, undefined)
    default:
      return undefined
  }
}

const isRotated = (node: FigmaNode): boolean => {
  const m = node.relativeTransform
  return m !== undefined && (Math.abs(m[0]?.[1] ?? 0) > 1e-6 || Math.abs(m[1]?.[0] ?? 0) > 1e-6 || (m[0]?.[0] ?? 1) < 0 || (m[1]?.[1] ?? 1) < 0)
}

/** A boolean operation from its children's boxes (relative to the operation's bounding box). */
const booleanPaths = (node: FigmaNode, warn: Warn): Array<VectorPath> => {
  const origin = node.absoluteBoundingBox ?? undefined
  const data: Array<string> = []
  for (const child of node.children ?? []) {
    if (child.visible === false) continue
    const size = sizeOf(child)
    const bbox = child.absoluteBoundingBox ?? undefined
    const path = size === undefined || bbox === undefined || origin === undefined || isRotated(child) || child.fillGeometry !== undefined
      ? undefined
      : shapePath(child, size, { x: bbox.x - origin.x, y: bbox.y - origin.y })
    if (path === undefined) {
      warn(child.id, "boolean-operand-geometry-missing", `boolean operand ${child.type} (rotated, nested or without size) has no path; left out`)
    } else {
      data.push(path)
    }
  }
  if (data.length === 0) return []
  const operation = node.booleanOperation ?? "UNION"
  if (operation !== "UNION") {
    warn(node.id, "boolean-operation-approximated",
      `${operation} of paths drawn from size approximated by overlaying the operands with the even-odd rule`)
  }
  return [{ data: data.join(""), fillRule: operation === "UNION" ? "nonzero" : "evenodd", role: "fill" }]
}

/**
 * Paths for a vector node exported without geometry: simple shapes from their size, boolean operations from
 * their children. Returns no paths, with a warning, when the shape cannot be drawn; every synthesis is warned.
 */
export const synthesizedPaths = (node: FigmaNode, warn: Warn): Array<VectorPath> => {
  const size = sizeOf(node)
  const direct = size === undefined ? undefined : shapePath(node, size, { x: 0, y: 0 })
  if (direct !== undefined) {
    warn(node.id, "vector-geometry-synthesized", `no fillGeometry/strokeGeometry: ${node.type} path drawn from its size`)
    return [{ data: direct, fillRule: "nonzero", role: "fill" }]
  }
  if (node.type === "BOOLEAN_OPERATION") {
    const paths = booleanPaths(node, warn)
    if (paths.length > 0) {
      warn(node.id, "vector-geometry-synthesized", "no fillGeometry: boolean operation drawn from its operands' sizes")
      return paths
    }
  }
  warn(node.id, "vector-geometry-missing", `no fillGeometry/strokeGeometry (export without geometry=paths): ${node.type} cannot be drawn from its size; vector has no paths`)
  return []
}
