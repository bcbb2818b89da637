/**
 * Paint as CSS: colours, gradients (in the node's pixel box when it is known), image fills (the asset's URL
 * or a neutral placeholder), radii, shadows, blend modes, and strokes drawn as an overlay that never takes
 * layout space (Figma strokes do not move children; a CSS border would).
 */
import type { Border, BoxShadow, CogoBlendMode, DecorationImage, Gradient } from "../../domain/figma/CogoUi.ts"
import type { Radius, Sides } from "../../domain/figma/Uui.ts"
import { cssColor, escapeHtml, num, px, styleAttr } from "./html.ts"

/** Box size in px when known (fixed extents); gradients and constraints use it. */
export interface BoxSize {
  readonly width: number | undefined
  readonly height: number | undefined
}

/** imageRef -> URL of the project's asset, when it has one. */
export type AssetUrls = ReadonlyMap<string, string>

const FALLBACK_SIZE = 100

const stopList = (colors: ReadonlyArray<string>, positions: ReadonlyArray<number>, map: (t: number) => number, unit = "%") =>
  colors.map((c, i) => `${cssColor(c)} ${num(map(positions[i] ?? i / Math.max(1, colors.length - 1)) * 100)}${unit}`).join(",")

/**
 * A linear gradient from `begin` to `end` (alignment space, -1..1) as CSS: the CSS gradient line runs through
 * the centre at an angle, so each stop's offset is re-projected onto it for the box's aspect ratio.
 */
const linearCss = (g: Extract<Gradient, { type: "linear" }>, box: BoxSize): string => {
  const w = box.width ?? FALLBACK_SIZE
  const h = box.height ?? FALLBACK_SIZE
  const bx = (g.begin.x + 1) / 2 * w, by = (g.begin.y + 1) / 2 * h
  const ex = (g.end.x + 1) / 2 * w, ey = (g.end.y + 1) / 2 * h
  const dx = ex - bx, dy = ey - by
  const length = Math.hypot(dx, dy)
  if (length === 0) return `linear-gradient(${cssColor(g.colors.at(-1) ?? "#00000000")},${cssColor(g.colors.at(-1) ?? "#00000000")})`
  const angle = Math.atan2(dx, -dy)
  const ux = Math.sin(angle), uy = -Math.cos(angle)
  const lineLength = Math.abs(w * ux) + Math.abs(h * uy)
  const centreOffset = (w / 2 - bx) * ux + (h / 2 - by) * uy
  const toCss = (t: number) => lineLength === 0 ? t : 0.5 + (t * length - centreOffset) / lineLength
  return `linear-gradient(${num(angle)}rad,${stopList(g.colors, g.stops, toCss)})`
}

export const gradientCss = (g: Gradient, box: BoxSize): string => {
  switch (g.type) {
    case "linear":
      return linearCss(g, box)
    case "radial":
      return `radial-gradient(ellipse ${num(g.radius.x * 100)}% ${num(g.radius.y * 100)}% at ${num((g.center.x + 1) * 50)}% ${num((g.center.y + 1) * 50)}%,${stopList(g.colors, g.stops, (t) => t)})`
    case "sweep":
      return `conic-gradient(from ${num(g.startAngle + Math.PI / 2)}rad at ${num((g.center.x + 1) * 50)}% ${num((g.center.y + 1) * 50)}%,${stopList(g.colors, g.stops, (t) => t)})`
  }
}

/** A neutral checker placeholder for an image with no URL (no network, same box). */
const PLACEHOLDER = "repeating-linear-gradient(45deg,#d9dde3 0 6px,#eceff3 6px 12px)"

const IMAGE_SIZE = { cover: "cover", contain: "contain", fill: "100% 100%", none: "auto" } as const

/** CSS background layers (top first) for an image over a colour/gradient. */
export const backgroundCss = (
  fill: { readonly color?: string | undefined; readonly gradient?: Gradient | undefined; readonly image?: DecorationImage | undefined },
  box: BoxSize,
  assets: AssetUrls
): ReadonlyArray<string> => {
  const layers: Array<string> = []
  const sizes: Array<string> = []
  const repeats: Array<string> = []
  const url = fill.image === undefined ? undefined : assets.get(fill.image.imageRef)
  if (fill.image !== undefined) {
    layers.push(url === undefined ? PLACEHOLDER : `url("${encodeURI(url).replace(/"/g, "%22")}")`)
    sizes.push(url === undefined ? "auto" : fill.image.repeat === true && fill.image.scale !== undefined ? `${num(fill.image.scale * 100)}%` : IMAGE_SIZE[fill.image.fit])
    repeats.push(url !== undefined && fill.image.repeat === true ? "repeat" : url === undefined ? "repeat" : "no-repeat")
  }
  if (fill.gradient !== undefined) {
    layers.push(gradientCss(fill.gradient, box))
    sizes.push("100% 100%")
    repeats.push("no-repeat")
  }
  const out: Array<string> = []
  if (layers.length > 0) {
    out.push(`background-image:${layers.join(",")}`, `background-size:${sizes.join(",")}`, `background-repeat:${repeats.join(",")}`,
      "background-position:center")
  }
  if (fill.color !== undefined) out.push(`background-color:${cssColor(fill.color)}`)
  return out
}

/** `border-radius` for a radius (one, or per corner) grown by `grow` px (for strokes drawn outside). */
export const radiusCss = (radius: Radius | undefined, ellipse: boolean, grow = 0): string | undefined => {
  if (ellipse) return "border-radius:50%"
  if (radius === undefined) return undefined
  const r = (v: number) => px(Math.max(0, v + (v > 0 ? grow : 0)))
  return typeof radius === "number"
    ? `border-radius:${r(radius)}`
    : `border-radius:${r(radius.topLeft)} ${r(radius.topRight)} ${r(radius.bottomRight)} ${r(radius.bottomLeft)}`
}

export const shadowCss = (shadows: ReadonlyArray<BoxShadow>, text = false): string =>
  shadows.map((s) =>
    text
      ? `${px(s.offset.x)} ${px(s.offset.y)} ${px(s.blurRadius)} ${cssColor(s.color)}`
      : `${s.inset === true ? "inset " : ""}${px(s.offset.x)} ${px(s.offset.y)} ${px(s.blurRadius)} ${px(s.spreadRadius)} ${cssColor(s.color)}`
  ).join(",")

const BLEND: Record<CogoBlendMode, string> = {
  darken: "darken", multiply: "multiply", colorBurn: "color-burn", lighten: "lighten", screen: "screen",
  plus: "plus-lighter", colorDodge: "color-dodge", overlay: "overlay", softLight: "soft-light", hardLight: "hard-light",
  difference: "difference", exclusion: "exclusion", hue: "hue", saturation: "saturation", color: "color", luminosity: "luminosity"
}

export const blendCss = (mode: CogoBlendMode | undefined): string | undefined =>
  mode === undefined ? undefined : `mix-blend-mode:${BLEND[mode]}`

const sidesOf = (width: number | Sides): Sides =>
  typeof width === "number" ? { top: width, right: width, bottom: width, left: width } : width

/** The stroke as an absolutely positioned overlay element inside the node (inside, centred or outside its edge). */
export const strokeOverlay = (border: Border, colorOverride: string | undefined, radius: Radius | undefined, ellipse: boolean): string => {
  const sides = sidesOf(border.width)
  const factor = border.strokeAlign === "inside" ? 0 : border.strokeAlign === "center" ? 0.5 : 1
  const grow = Math.max(sides.top, sides.right, sides.bottom, sides.left) * factor
  const style = [
    "position:absolute",
    `inset:${px(-sides.top * factor)} ${px(-sides.right * factor)} ${px(-sides.bottom * factor)} ${px(-sides.left * factor)}`,
    `border-style:${border.dashPattern !== undefined && border.dashPattern.length > 0 ? "dashed" : "solid"}`,
    `border-width:${px(sides.top)} ${px(sides.right)} ${px(sides.bottom)} ${px(sides.left)}`,
    `border-color:${cssColor(colorOverride ?? border.color)}`,
    "pointer-events:none",
    "box-sizing:border-box"
  ]
  const r = radiusCss(radius, ellipse, grow)
  if (r !== undefined) style.push(r)
  return `<div class="stroke"${styleAttr(style)}></div>`
}

const SVG_IMAGE_FIT = { cover: "xMidYMid slice", contain: "xMidYMid meet", fill: "none", none: "xMidYMid slice" } as const

/** An SVG pattern painting the image (or the neutral placeholder when it has no URL) over the node's box. */
const imagePattern = (image: DecorationImage, box: BoxSize, id: string, assets: AssetUrls): string => {
  const url = assets.get(image.imageRef)
  const opacity = image.opacity === undefined ? "" : ` opacity="${num(image.opacity)}"`
  if (url === undefined) {
    return `<pattern id="${id}" patternUnits="userSpaceOnUse" width="12" height="12" patternTransform="rotate(45)"><rect width="6" height="12" fill="#d9dde3"${opacity}/><rect x="6" width="6" height="12" fill="#eceff3"${opacity}/></pattern>`
  }
  const w = num(box.width ?? FALLBACK_SIZE), h = num(box.height ?? FALLBACK_SIZE)
  return `<pattern id="${id}" patternUnits="userSpaceOnUse" width="${w}" height="${h}"><image href="${escapeHtml(url)}" width="${w}" height="${h}" preserveAspectRatio="${SVG_IMAGE_FIT[image.fit]}"${opacity}/></pattern>`
}

/**
 * Inline SVG for an SvgPicture: fill paths in the colour/gradient (and the image fill above it, clipped to the
 * same paths), stroke-geometry paths in the stroke colour.
 */
export const svgMarkup = (
  paths: ReadonlyArray<{ readonly data: string; readonly fillRule: "nonzero" | "evenodd"; readonly role: "fill" | "stroke" }>,
  fill: { readonly color?: string | undefined; readonly gradient?: Gradient | undefined; readonly image?: DecorationImage | undefined },
  stroke: Border | undefined,
  box: BoxSize,
  ctx: { readonly nextId: () => string; readonly assets: AssetUrls }
): string => {
  const nextId = ctx.nextId
  let defs = ""
  let fillValue = fill.color === undefined ? (fill.gradient === undefined ? "none" : "") : cssColor(fill.color)
  if (fill.gradient !== undefined) {
    const id = nextId()
    const g = fill.gradient
    const stops = g.colors.map((c, i) => `<stop offset="${num(g.stops[i] ?? 0)}" stop-color="${cssColor(c)}"/>`).join("")
    defs = g.type === "linear"
      ? `<defs><linearGradient id="${id}" gradientUnits="objectBoundingBox" x1="${num((g.begin.x + 1) / 2)}" y1="${num((g.begin.y + 1) / 2)}" x2="${num((g.end.x + 1) / 2)}" y2="${num((g.end.y + 1) / 2)}">${stops}</linearGradient></defs>`
      : g.type === "radial"
      ? `<defs><radialGradient id="${id}" gradientUnits="objectBoundingBox" cx="${num((g.center.x + 1) / 2)}" cy="${num((g.center.y + 1) / 2)}" r="${num(Math.max(g.radius.x, g.radius.y))}">${stops}</radialGradient></defs>`
      : `<defs><linearGradient id="${id}">${stops}</linearGradient></defs>`
    fillValue = `url(#${id})`
  }
  const imageId = fill.image === undefined ? undefined : nextId()
  if (fill.image !== undefined && imageId !== undefined) defs += `<defs>${imagePattern(fill.image, box, imageId, ctx.assets)}</defs>`
  const hasStrokePaths = paths.some((p) => p.role === "stroke")
  const strokeColor = stroke === undefined ? undefined : cssColor(stroke.color)
  const strokeWidth = stroke === undefined ? 0 : typeof stroke.width === "number" ? stroke.width : stroke.width.top
  const body = paths.map((p) => {
    const d = escapeHtml(p.data)
    if (p.role === "stroke") return `<path d="${d}" fill-rule="${p.fillRule}" fill="${strokeColor ?? "none"}"/>`
    const strokeAttrs = !hasStrokePaths && strokeColor !== undefined && strokeWidth > 0
      ? ` stroke="${strokeColor}" stroke-width="${num(strokeWidth)}"`
      : ""
    if (imageId === undefined) return `<path d="${d}" fill-rule="${p.fillRule}" fill="${fillValue}"${strokeAttrs}/>`
    // The image layer sits above the colour/gradient; the stroke is drawn with the top layer.
    return `<path d="${d}" fill-rule="${p.fillRule}" fill="${fillValue}"/><path d="${d}" fill-rule="${p.fillRule}" fill="url(#${imageId})"${strokeAttrs}/>`
  }).join("")
  const size = `${box.width === undefined ? "" : ` width="${num(box.width)}"`}${box.height === undefined ? "" : ` height="${num(box.height)}"`}`
  return `<svg xmlns="http://www.w3.org/2000/svg"${size} overflow="visible" style="display:block;position:absolute;left:0;top:0">${defs}${body}</svg>`
}
