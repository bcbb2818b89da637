import type { FigmaNode } from "../../../../domain/figma/FigmaInput.ts"
import type { UuiNode, VectorPath } from "../../../../domain/figma/Uui.ts"
import { compact } from "../compact.ts"
import { commonFields } from "./common.ts"
import type { ConversionContext, ParentContext } from "./context.ts"
import { synthesizedPaths } from "./geometry.ts"
import { fillsOf, radiusOf, strokeOf } from "./paint.ts"

/* Leaf drawables: rectangles and ellipses as shapes, everything path-based as vectors with SVG path data. */

export const convertShape = (
  node: FigmaNode, parent: ParentContext, shape: "rectangle" | "ellipse", context: ConversionContext
): UuiNode =>
  compact({
    ...commonFields(node, parent, context),
    kind: "shape" as const,
    shape,
    fills: fillsOf(node, context),
    stroke: strokeOf(node, "inside", context),
    radius: shape === "rectangle" ? radiusOf(node, context.warn) : undefined
  })

export const convertVector = (node: FigmaNode, parent: ParentContext, context: ConversionContext): UuiNode => {
  const paths: Array<VectorPath> = []
  const addPaths = (list: typeof node.fillGeometry, role: VectorPath["role"]) => {
    for (const path of list ?? []) {
      paths.push({ data: path.path, fillRule: path.windingRule === "EVENODD" ? "evenodd" : "nonzero", role })
    }
  }
  addPaths(node.fillGeometry, "fill")
  addPaths(node.strokeGeometry, "stroke")
  const drawn = paths.length > 0 ? paths : synthesizedPaths(node, context.warn)
  const fills = fillsOf(node, context)
  return compact({
    ...commonFields(node, parent, context),
    kind: "vector" as const,
    paths: drawn,
    fills,
    stroke: strokeOf(node, "center", context)
  })
}
