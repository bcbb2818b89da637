import type { FigmaColor, FigmaEffect, FigmaNode, FigmaPaint, FigmaVector } from "../../../../domain/figma/FigmaInput.ts"
import type { BlendMode, Paint, Radius, Shadow, Stroke, Vec2 } from "../../../../domain/figma/Uui.ts"
import { compact } from "../compact.ts"
import { type ConversionContext, finite, lookup, type Warn } from "./context.ts"

/* Paint: fills, strokes, gradients, images, corner radii and effects (shadows, blurs); colours as `#rrggbbaa`. */

export const BLEND_MODES: Readonly<Record<string, BlendMode | "normal">> = {
  PASS_THROUGH: "normal", NORMAL: "normal", DARKEN: "darken", MULTIPLY: "multiply", LINEAR_BURN: "plusDarker",
  COLOR_BURN: "colorBurn", LIGHTEN: "lighten", SCREEN: "screen", LINEAR_DODGE: "plusLighter",
  COLOR_DODGE: "colorDodge", OVERLAY: "overlay", SOFT_LIGHT: "softLight", HARD_LIGHT: "hardLight",
  DIFFERENCE: "difference", EXCLUSION: "exclusion", HUE: "hue", SATURATION: "saturation", COLOR: "color",
  LUMINOSITY: "luminosity"
}
const SCALE_MODES = { FILL: "fill", FIT: "fit", STRETCH: "crop", TILE: "tile" } as const

const channel = (value: number): string => {
  const byte = Math.round(Math.min(1, Math.max(0, finite(value))) * 255)
  return byte.toString(16).padStart(2, "0")
}

/** Figma 0..1 float channels to `#rrggbbaa`; `opacity` multiplies alpha (paint opacity folded into colour). */
export const colorToHex = (color: FigmaColor, opacity = 1): string =>
  `#${channel(color.r)}${channel(color.g)}${channel(color.b)}${channel((color.a ?? 1) * opacity)}`

const toAlignment = (v: FigmaVector): Vec2 => ({ x: finite(v.x * 2 - 1), y: finite(v.y * 2 - 1) })

/** Converts a paint list (bottom-to-top), dropping the paints that cannot be carried. */
export const paints = (nodeId: string, list: ReadonlyArray<FigmaPaint> | undefined, role: string, warn: Warn): Array<Paint> => {
  const out: Array<Paint> = []
  for (const paint of list ?? []) {
    const converted = convertPaint(nodeId, paint, role, warn)
    if (converted !== undefined) out.push(converted)
  }
  return out
}

export const fillsOf = (node: FigmaNode, { warn, recordStyle }: ConversionContext): ReadonlyArray<Paint> | undefined => {
  const fills = paints(node.id, node.fills, "fill", warn)
  if (fills.length === 0) return undefined
  recordStyle(node, "fill", fills.length === 1 && fills[0]?.type === "solid" ? "color" : "paint",
    fills.length === 1 && fills[0]?.type === "solid" ? fills[0].color : { paints: fills })
  return fills
}

export const strokeOf = (node: FigmaNode, defaultAlign: Stroke["align"], { warn, recordStyle }: ConversionContext): Stroke | undefined => {
  const strokePaints = paints(node.id, node.strokes, "stroke", warn)
  const top = strokePaints.at(-1)
  if (top === undefined) return undefined
  if (strokePaints.length > 1) warn(node.id, "stroke-multiple-paints", "kept the top-most stroke paint only")
  const color = paintColor(node.id, top, "stroke", warn)
  if (color === undefined) return undefined
  recordStyle(node, "stroke", "color", color)
  const sides = node.individualStrokeWeights
  const uniform = sides === undefined || (sides.top === sides.right && sides.top === sides.bottom && sides.top === sides.left)
  if (node.strokeCap !== undefined && node.strokeCap !== "NONE") {
    warn(node.id, "stroke-cap", `stroke cap ${node.strokeCap} not carried; butt caps assumed`)
  }
  if (node.strokeJoin !== undefined && node.strokeJoin !== "MITER") {
    warn(node.id, "stroke-join", `stroke join ${node.strokeJoin} not carried; miter joins assumed`)
  }
  return compact({
    color,
    weight: uniform ? (sides?.top ?? node.strokeWeight ?? 1) : sides,
    align: node.strokeAlign === "INSIDE" ? "inside" : node.strokeAlign === "OUTSIDE" ? "outside"
      : node.strokeAlign === "CENTER" ? "center" : defaultAlign,
    dashes: node.strokeDashes !== undefined && node.strokeDashes.length > 0 ? node.strokeDashes : undefined
  })
}

/** Shadows and blurs, as the `shadows`/`layerBlur`/`backgroundBlur` fields of a node. */
export const effectsOf = (node: FigmaNode, { warn, recordStyle }: ConversionContext) => {
  const shadows: Array<Shadow> = []
  let layerBlur: number | undefined
  let backgroundBlur: number | undefined
  for (const effect of node.effects ?? []) {
    const kind = effect.type ?? "INNER_SHADOW"
    if (effect.visible === false) {
      warn(node.id, "effect-hidden", `hidden ${kind} dropped`)
      continue
    }
    if (kind === "DROP_SHADOW" || kind === "INNER_SHADOW") {
      shadows.push(convertShadow(node.id, kind, effect, warn))
    } else if (kind === "LAYER_BLUR" || kind === "BACKGROUND_BLUR") {
      if (effect.blurType === "PROGRESSIVE") warn(node.id, "blur-progressive", "progressive blur approximated as uniform blur")
      const radius = effect.radius ?? 0
      if (kind === "LAYER_BLUR") {
        if (layerBlur !== undefined) warn(node.id, "blur-multiple", "several layer blurs: kept the last")
        layerBlur = radius
      } else {
        if (backgroundBlur !== undefined) warn(node.id, "blur-multiple", "several background blurs: kept the last")
        backgroundBlur = radius
      }
    } else {
      warn(node.id, `effect-${kind.toLowerCase()}`, `effect ${kind} is not supported; dropped`)
    }
  }
  const effects = compact({ shadows: shadows.length > 0 ? shadows : undefined, layerBlur, backgroundBlur })
  if (shadows.length > 0 || layerBlur !== undefined || backgroundBlur !== undefined) {
    recordStyle(node, "effect", "effect", { shadows, ...compact({ layerBlur, backgroundBlur }) })
  }
  return effects
}

export const radiusOf = (node: FigmaNode, warn: Warn): Radius | undefined => {
  if (node.cornerSmoothing !== undefined && node.cornerSmoothing > 0) {
    warn(node.id, "corner-smoothing", "smoothed (squircle) corners approximated as circular")
  }
  const [topLeft, topRight, bottomRight, bottomLeft] = node.rectangleCornerRadii ?? []
  if (topLeft !== undefined && topRight !== undefined && bottomRight !== undefined && bottomLeft !== undefined &&
    !(topLeft === topRight && topLeft === bottomRight && topLeft === bottomLeft)) {
    return { topLeft, topRight, bottomRight, bottomLeft }
  }
  const radius = node.cornerRadius ?? topLeft
  return radius !== undefined && radius > 0 ? radius : undefined
}

const convertShadow = (nodeId: string, kind: "DROP_SHADOW" | "INNER_SHADOW", effect: FigmaEffect, warn: Warn): Shadow => {
  const blend = lookup(BLEND_MODES, effect.blendMode)
  if (blend !== undefined && blend !== "normal") warn(nodeId, "shadow-blend-mode", `shadow blend mode ${effect.blendMode} approximated as normal`)
  return {
    type: kind === "DROP_SHADOW" ? "drop" : "inner",
    color: colorToHex(effect.color ?? { r: 0, g: 0, b: 0, a: 0.25 }),
    offset: { x: effect.offset?.x ?? 0, y: effect.offset?.y ?? 0 },
    blur: effect.radius ?? 0,
    spread: effect.spread ?? 0
  }
}

const gradientHandles = (nodeId: string, paint: FigmaPaint, warn: Warn): readonly [FigmaVector, FigmaVector, FigmaVector] => {
  const [h0, h1, h2] = paint.gradientHandlePositions ?? []
  if (h0 !== undefined && h1 !== undefined && h2 !== undefined) return [h0, h1, h2]
  warn(nodeId, "gradient-handles-missing", "gradient without 3 handle positions: left-to-right geometry assumed")
  return [{ x: 0, y: 0.5 }, { x: 1, y: 0.5 }, { x: 0, y: 1 }]
}

export const convertPaint = (nodeId: string, paint: FigmaPaint, role: string, warn: Warn): Paint | undefined => {
  if (paint.visible === false) {
    warn(nodeId, `${role}-hidden`, `hidden ${paint.type} ${role} dropped`)
    return undefined
  }
  const blend = lookup(BLEND_MODES, paint.blendMode)
  if (blend !== undefined && blend !== "normal") warn(nodeId, "paint-blend-mode", `${role} blend mode ${paint.blendMode} approximated as normal`)
  const opacity = paint.opacity ?? 1
  switch (paint.type) {
    case "SOLID":
      return { type: "solid", color: colorToHex(paint.color ?? { r: 0, g: 0, b: 0 }, opacity) }
    case "GRADIENT_LINEAR":
    case "GRADIENT_RADIAL":
    case "GRADIENT_ANGULAR":
    case "GRADIENT_DIAMOND": {
      const stops = (paint.gradientStops ?? []).map((s) => ({ position: s.position, color: colorToHex(s.color, opacity) }))
      const [h0, h1, h2] = gradientHandles(nodeId, paint, warn)
      const center = toAlignment(h0)
      if (paint.type === "GRADIENT_LINEAR") return { type: "linear", stops, begin: center, end: toAlignment(h1) }
      if (paint.type === "GRADIENT_ANGULAR") {
        return { type: "angular", stops, center, startAngle: finite(Math.atan2(h1.y - h0.y, h1.x - h0.x)) }
      }
      if (Math.abs(h1.y - h0.y) > 1e-3 || Math.abs(h2.x - h0.x) > 1e-3) {
        warn(nodeId, "gradient-rotated-ellipse", "rotated or skewed gradient ellipse approximated as axis-aligned")
      }
      const radius = { x: finite(Math.hypot(h1.x - h0.x, h1.y - h0.y)), y: finite(Math.hypot(h2.x - h0.x, h2.y - h0.y)) }
      return paint.type === "GRADIENT_RADIAL" ? { type: "radial", stops, center, radius } : { type: "diamond", stops, center, radius }
    }
    case "IMAGE": {
      if (paint.imageRef === undefined || paint.imageRef === null) {
        warn(nodeId, "image-ref-missing", "image paint without imageRef dropped")
        return undefined
      }
      if (paint.filters !== undefined && Object.values(paint.filters).some((v) => v !== 0)) {
        warn(nodeId, "image-filters", "image adjustments (exposure, contrast, ...) dropped")
      }
      if (paint.rotation !== undefined && paint.rotation !== 0) warn(nodeId, "image-rotation", "image rotation dropped")
      if (paint.imageTransform !== undefined) warn(nodeId, "image-crop-transform", "crop transform dropped; image stretched to the box")
      if (paint.gifRef !== undefined && paint.gifRef !== null) warn(nodeId, "image-gif", "animated GIF shown as its still imageRef")
      return compact({
        type: "image" as const,
        imageRef: paint.imageRef,
        scaleMode: lookup(SCALE_MODES, paint.scaleMode) ?? "fill",
        opacity: opacity < 1 ? opacity : undefined,
        scalingFactor: paint.scaleMode === "TILE" ? paint.scalingFactor : undefined
      })
    }
    default:
      warn(nodeId, `paint-${paint.type.toLowerCase()}`, `${paint.type} ${role} is not supported; dropped`)
      return undefined
  }
}

/** A single colour for places that only take one (strokes, text): gradients fall back to their first stop. */
export const paintColor = (nodeId: string, paint: Paint, role: string, warn: Warn): string | undefined => {
  switch (paint.type) {
    case "solid":
      return paint.color
    case "image":
      warn(nodeId, `${role}-image`, `image ${role} is not supported; dropped`)
      return undefined
    default: {
      const first = paint.stops[0]
      warn(nodeId, `${role}-gradient`, `${paint.type} gradient ${role} approximated by its first stop colour`)
      return first?.color
    }
  }
}
