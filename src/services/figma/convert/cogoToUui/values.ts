import type {
  BoxDecoration, BoxShadow, CogoBlendMode, CogoTextStyle, CogoWidget, DecorationImage, Extent, Gradient
} from "../../../../domain/figma/CogoUi.ts"
import type { AxisSizing, BlendMode, Layout, Paint, Shadow, Stroke, TextStyle } from "../../../../domain/figma/Uui.ts"
import { compact } from "../compact.ts"
import type { Warn } from "../figmaToUui/context.ts"

/* COGO -> UUI value mappings: blend modes, shadows, text styles, images, gradients, fills, borders, sizing, flex layouts. */

const IMAGE_SCALE = { cover: "fill", contain: "fit", fill: "crop", none: "tile" } as const

export const fromBlendMode = (mode: CogoBlendMode | undefined): BlendMode | undefined =>
  mode === "plus" ? "plusLighter" : mode

export const fromShadow = (shadow: BoxShadow): Shadow => ({
  type: shadow.inset === true ? "inner" : "drop",
  color: shadow.color,
  offset: shadow.offset,
  blur: shadow.blurRadius,
  spread: shadow.spreadRadius
})

export const fromTextStyle = (style: CogoTextStyle): TextStyle =>
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

export const fromImage = (image: DecorationImage): Paint =>
  compact({
    type: "image" as const,
    imageRef: image.imageRef,
    scaleMode: IMAGE_SCALE[image.fit],
    opacity: image.opacity,
    scalingFactor: image.scale
  })

export const sizing = (extent: Extent | undefined): AxisSizing =>
  extent === undefined ? { mode: "hug" } : extent === "infinity" ? { mode: "fill" } : { mode: "fixed", size: extent }

export const alignmentToMain = (value: number) => (value < -0.5 ? undefined : value > 0.5 ? ("end" as const) : ("center" as const))

const fromGradient = (gradient: Gradient, nodeId: string, warn: Warn): Paint => {
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

/** A decoration's (or picture's) colour or gradient, then its image, as bottom-to-top UUI fills. */
export const fills = (
  layers: { readonly color?: string; readonly gradient?: Gradient; readonly image?: DecorationImage }, nodeId: string, warn: Warn
) => {
  const out: Array<Paint> = []
  if (layers.gradient !== undefined) {
    if (layers.color !== undefined) warn(nodeId, "decoration-color-and-gradient", "colour ignored: Flutter paints the gradient")
    out.push(fromGradient(layers.gradient, nodeId, warn))
  } else if (layers.color !== undefined) {
    out.push({ type: "solid", color: layers.color })
  }
  if (layers.image !== undefined) out.push(fromImage(layers.image))
  return out.length > 0 ? out : undefined
}

export const stroke = (border: BoxDecoration["border"]): Stroke | undefined =>
  border === undefined ? undefined : compact({
    color: border.color, weight: border.width, align: border.strokeAlign, dashes: border.dashPattern
  })

export const flexLayout = (widget: Extract<CogoWidget, { readonly type: "Column" | "Row" | "Wrap" }>): Layout =>
  widget.type === "Wrap"
    ? compact({
      mode: "wrap" as const, gap: widget.spacing, runGap: widget.runSpacing, mainAlign: widget.alignment,
      crossAlign: widget.crossAxisAlignment, runAlign: widget.runAlignment
    })
    : compact({
      mode: widget.type === "Column" ? ("vertical" as const) : ("horizontal" as const),
      gap: widget.spacing, mainAlign: widget.mainAxisAlignment, crossAlign: widget.crossAxisAlignment
    })
