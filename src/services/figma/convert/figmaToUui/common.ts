import type { FigmaNode } from "../../../../domain/figma/FigmaInput.ts"
import { compact } from "../compact.ts"
import { type ConversionContext, EPSILON, lookup, type ParentContext, type Warn } from "./context.ts"
import { axisSizing, boxOf, isFlowChild, limitsOf, orientationOf, positionOf, rotatedSizeAmbiguous } from "./layout.ts"
import { BLEND_MODES, effectsOf } from "./paint.ts"

/** Warns about node features that have no UUI counterpart (pages and drawable nodes alike). */
export const warnUnsupportedNodeFeatures = (node: FigmaNode, warn: Warn): void => {
  if (node.reactions !== undefined && node.reactions.length > 0) warn(node.id, "prototype-reactions", "prototype interactions not converted")
  if (node.layoutGrids !== undefined && node.layoutGrids.length > 0) warn(node.id, "layout-grids", "layout grids (design guides) not converted")
  if (node.exportSettings !== undefined && node.exportSettings.length > 0) warn(node.id, "export-settings", "export settings not converted")
}

/** Fields every drawable node shares: identity, visibility, transform, sizing, position, effects, tokens. */
export const commonFields = (node: FigmaNode, parent: ParentContext, context: ConversionContext) => {
  const { warn } = context
  warnUnsupportedNodeFeatures(node, warn)
  const box = boxOf(node)
  const sizedWidth = axisSizing(node, "horizontal", parent, box)
  // A FILL child of a wrapping row shares its line with the others in Figma; a wrap cannot express that
  // (fill would take a whole line), so it keeps the width Figma gave it.
  const fillInWrap = parent.layout === "wrap" && node.layoutPositioning !== "ABSOLUTE" && sizedWidth.mode === "fill"
  if (fillInWrap) warn(node.id, "layout-fill-in-wrap", "fill width in a wrapping row kept at its current width")
  const width: typeof sizedWidth = fillInWrap ? { mode: "fixed", size: box?.width ?? 0 } : sizedWidth
  const height = axisSizing(node, "vertical", parent, box)
  if (box === undefined && (width.mode === "fixed" || height.mode === "fixed")) {
    warn(node.id, "size-missing", "fixed size without size or absoluteBoundingBox: sized 0")
  }
  const blend = lookup(BLEND_MODES, node.blendMode)
  if (node.blendMode !== undefined && blend === undefined) {
    warn(node.id, "blend-mode-unknown", `blend mode ${node.blendMode} unknown; normal used`)
  }
  const { rotation, flipX, flipY } = orientationOf(node)
  if (rotatedSizeAmbiguous(node)) {
    warn(node.id, "rotated-size-ambiguous", "rotated near 45° without size: the bounding box is used as the unrotated size")
  }
  if (isFlowChild(node, parent) && Math.abs(Math.sin(rotation)) > EPSILON) {
    warn(node.id, "rotation-in-auto-layout", "rotated auto-layout child laid out by its unrotated box (Figma uses the rotated bounds)")
  }
  return compact({
    id: node.id,
    name: node.name,
    hidden: node.visible === false ? (true as const) : undefined,
    opacity: node.opacity !== undefined && node.opacity < 1 ? node.opacity : undefined,
    rotation: Math.abs(rotation) > EPSILON ? rotation : undefined,
    flipX: flipX ? (true as const) : undefined,
    flipY: flipY ? (true as const) : undefined,
    blendMode: blend === "normal" ? undefined : blend,
    width,
    height,
    limits: limitsOf(node),
    position: positionOf(node, parent, box, warn),
    ...effectsOf(node, context),
    tokens: context.tokenRefs(node)
  })
}
