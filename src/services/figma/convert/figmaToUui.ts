import type { ConversionWarning } from "../../../domain/figma/ConversionWarning.ts"
import type {
  FigmaColor, FigmaEffect, FigmaLocalVariables, FigmaNode, FigmaPaint, FigmaStyleMeta, FigmaTypeStyle, FigmaVector,
  FigmaComponentMeta
} from "../../../domain/figma/FigmaInput.ts"
import {
  type AxisSizing, type BlendMode, type Constraints, type DesignToken, type Layout, type Paint, type Position,
  type Radius, type Shadow, type Sides, type SizeLimits, type Stroke, type TextSpan, type TextStyle, type TokenRefs,
  type UuiContainer, type UuiDocument, type UuiNode, type UuiPage, type UuiRoot, type UuiText, type Vec2,
  type VectorPath, UUI_SCHEMA_VERSION
} from "../../../domain/figma/Uui.ts"
import { compact } from "./compact.ts"

/** Every input shape, reduced to the node trees plus the file-level tables they reference. */
export interface FigmaSource {
  readonly name?: string
  readonly documents: ReadonlyArray<FigmaNode>
  readonly components: Readonly<Record<string, typeof FigmaComponentMeta.Type>>
  readonly componentSets: Readonly<Record<string, typeof FigmaComponentMeta.Type>>
  readonly styles: Readonly<Record<string, FigmaStyleMeta>>
  readonly variables?: FigmaLocalVariables
}

export interface Converted<A> {
  readonly value: A
  readonly warnings: ReadonlyArray<ConversionWarning>
}

type Warn = (nodeId: string, feature: string, action: string) => void

/** What a child needs to know about its parent to decide positioning and sizing. */
interface ParentContext {
  readonly layout: "root" | "page" | "none" | "horizontal" | "vertical" | "wrap"
  readonly box: FigmaBox | undefined
  readonly isComponentSet: boolean
}

interface FigmaBox { readonly x: number; readonly y: number; readonly width: number; readonly height: number }

type StyleSlot = "fill" | "stroke" | "text" | "effect"
type StyleValue = DesignToken["values"][string]

const ROOT: ParentContext = { layout: "root", box: undefined, isComponentSet: false }
const EPSILON = 1e-6

const CONTAINER_TYPES = new Set(["FRAME", "GROUP", "SECTION", "COMPONENT", "COMPONENT_SET", "INSTANCE"])
const VECTOR_TYPES = new Set(["VECTOR", "BOOLEAN_OPERATION", "STAR", "LINE", "REGULAR_POLYGON"])

const BLEND_MODES: Readonly<Record<string, BlendMode | "normal">> = {
  PASS_THROUGH: "normal", NORMAL: "normal", DARKEN: "darken", MULTIPLY: "multiply", LINEAR_BURN: "plusDarker",
  COLOR_BURN: "colorBurn", LIGHTEN: "lighten", SCREEN: "screen", LINEAR_DODGE: "plusLighter",
  COLOR_DODGE: "colorDodge", OVERLAY: "overlay", SOFT_LIGHT: "softLight", HARD_LIGHT: "hardLight",
  DIFFERENCE: "difference", EXCLUSION: "exclusion", HUE: "hue", SATURATION: "saturation", COLOR: "color",
  LUMINOSITY: "luminosity"
}
const CONSTRAINTS: Readonly<Record<string, Constraints["horizontal"]>> = {
  LEFT: "start", TOP: "start", MIN: "start", RIGHT: "end", BOTTOM: "end", MAX: "end", CENTER: "center",
  LEFT_RIGHT: "stretch", TOP_BOTTOM: "stretch", STRETCH: "stretch", SCALE: "scale"
}
const MAIN_ALIGN = { CENTER: "center", MAX: "end", SPACE_BETWEEN: "spaceBetween" } as const
const CROSS_ALIGN = { CENTER: "center", MAX: "end", BASELINE: "baseline" } as const
const SCALE_MODES = { FILL: "fill", FIT: "fit", STRETCH: "crop", TILE: "tile" } as const
const TEXT_CASES = { UPPER: "upper", LOWER: "lower", TITLE: "title", SMALL_CAPS: "smallCaps", SMALL_CAPS_FORCED: "smallCaps" } as const
const TEXT_ALIGN = { CENTER: "center", RIGHT: "right", JUSTIFIED: "justify" } as const
const VERTICAL_ALIGN = { CENTER: "center", BOTTOM: "bottom" } as const

const lookup = <V>(table: Readonly<Record<string, V>>, key: string | undefined): V | undefined =>
  key !== undefined && Object.hasOwn(table, key) ? table[key] : undefined

/** Arithmetic on finite inputs can still overflow (1e308 * 2): clamp so outputs stay valid JSON numbers. */
const finite = (n: number): number => (Number.isFinite(n) ? n : Number.isNaN(n) ? 0 : Math.sign(n) * Number.MAX_VALUE)

const channel = (value: number): string => {
  const byte = Math.round(Math.min(1, Math.max(0, finite(value))) * 255)
  return byte.toString(16).padStart(2, "0")
}

/** Figma 0..1 float channels to `#rrggbbaa`; `opacity` multiplies alpha (paint opacity folded into colour). */
const colorToHex = (color: FigmaColor, opacity = 1): string =>
  `#${channel(color.r)}${channel(color.g)}${channel(color.b)}${channel((color.a ?? 1) * opacity)}`

const toAlignment = (v: FigmaVector): Vec2 => ({ x: finite(v.x * 2 - 1), y: finite(v.y * 2 - 1) })

/** Converts one Figma source into a UUI document. Total: unknown or malformed features become warnings. */
export const figmaToUui = (source: FigmaSource): Converted<UuiDocument> => {
  const warnings: Array<ConversionWarning> = []
  const warn: Warn = (nodeId, feature, action) => { warnings.push({ nodeId, feature, action }) }
  const styleValues = new Map<string, { readonly type: DesignToken["type"]; readonly value: StyleValue }>()

  const recordStyle = (node: FigmaNode, slot: StyleSlot, type: DesignToken["type"], value: StyleValue) => {
    const styleId = styleIdOf(node, slot)
    if (styleId !== undefined && !styleValues.has(styleId)) styleValues.set(styleId, { type, value })
  }

  const paints = (node: FigmaNode, list: ReadonlyArray<FigmaPaint> | undefined, role: string): Array<Paint> => {
    const out: Array<Paint> = []
    for (const paint of list ?? []) {
      const converted = convertPaint(node.id, paint, role, warn)
      if (converted !== undefined) out.push(converted)
    }
    return out
  }

  const fillsOf = (node: FigmaNode): ReadonlyArray<Paint> | undefined => {
    const fills = paints(node, node.fills, "fill")
    if (fills.length === 0) return undefined
    recordStyle(node, "fill", fills.length === 1 && fills[0]?.type === "solid" ? "color" : "paint",
      fills.length === 1 && fills[0]?.type === "solid" ? fills[0].color : { paints: fills })
    return fills
  }

  const strokeOf = (node: FigmaNode, defaultAlign: Stroke["align"]): Stroke | undefined => {
    const strokePaints = paints(node, node.strokes, "stroke")
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

  const effectsOf = (node: FigmaNode) => {
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

  const tokensOf = (node: FigmaNode): TokenRefs | undefined => {
    const refs = compact({
      fill: boundColorVariable(node.fills) ?? styleToken(node, "fill"),
      stroke: boundColorVariable(node.strokes) ?? styleToken(node, "stroke"),
      text: styleToken(node, "text"),
      effect: styleToken(node, "effect")
    })
    return Object.keys(refs).length > 0 ? refs : undefined
  }

  /** Fields every drawable node shares: identity, visibility, transform, sizing, position, effects. */
  const common = (node: FigmaNode, parent: ParentContext) => {
    warnUnsupportedNodeFeatures(node, warn)
    const box = boxOf(node)
    const width = axisSizing(node, "horizontal", parent, box)
    const height = axisSizing(node, "vertical", parent, box)
    if (box === undefined && (width.mode === "fixed" || height.mode === "fixed")) {
      warn(node.id, "size-missing", "fixed size without size or absoluteBoundingBox: sized 0")
    }
    const blend = lookup(BLEND_MODES, node.blendMode)
    if (node.blendMode !== undefined && blend === undefined) {
      warn(node.id, "blend-mode-unknown", `blend mode ${node.blendMode} unknown; normal used`)
    }
    const rotation = rotationOf(node)
    return compact({
      id: node.id,
      name: node.name,
      hidden: node.visible === false ? (true as const) : undefined,
      opacity: node.opacity !== undefined && node.opacity < 1 ? node.opacity : undefined,
      rotation: Math.abs(rotation) > EPSILON ? rotation : undefined,
      blendMode: blend === "normal" ? undefined : blend,
      width,
      height,
      limits: limitsOf(node),
      position: positionOf(node, parent, box, warn),
      ...effectsOf(node),
      tokens: tokensOf(node)
    })
  }

  const convertText = (node: FigmaNode, parent: ParentContext): UuiText => {
    const baseColor = textColor(node, node.fills, warn)
    const style = compact({ ...textStyle(node.id, node.style ?? {}, warn), color: baseColor })
    recordStyle(node, "text", "text", { textStyle: style })
    const figmaStyle = node.style ?? {}
    if ((node.lineTypes ?? []).some((t) => t !== "NONE")) warn(node.id, "text-list", "list formatting dropped; plain paragraphs kept")
    return compact({
      ...common(node, parent),
      kind: "text" as const,
      style,
      spans: textSpans(node, warn),
      textAlign: lookup(TEXT_ALIGN, figmaStyle.textAlignHorizontal),
      verticalAlign: lookup(VERTICAL_ALIGN, figmaStyle.textAlignVertical),
      maxLines: figmaStyle.maxLines ?? undefined,
      truncate: figmaStyle.textAutoResize === "TRUNCATE" || figmaStyle.textTruncation === "ENDING" ? (true as const) : undefined
    })
  }

  const convertVector = (node: FigmaNode, parent: ParentContext): UuiNode => {
    const paths: Array<VectorPath> = []
    const addPaths = (list: typeof node.fillGeometry, role: VectorPath["role"]) => {
      for (const path of list ?? []) {
        paths.push({ data: path.path, fillRule: path.windingRule === "EVENODD" ? "evenodd" : "nonzero", role })
      }
    }
    addPaths(node.fillGeometry, "fill")
    addPaths(node.strokeGeometry, "stroke")
    if (paths.length === 0) {
      warn(node.id, "vector-geometry-missing", "no fillGeometry/strokeGeometry (export without geometry=paths): vector has no paths")
    }
    const fills = fillsOf(node)
    return compact({
      ...common(node, parent),
      kind: "vector" as const,
      paths,
      fills,
      stroke: strokeOf(node, "center")
    })
  }

  const convertShape = (node: FigmaNode, parent: ParentContext, shape: "rectangle" | "ellipse"): UuiNode =>
    compact({
      ...common(node, parent),
      kind: "shape" as const,
      shape,
      fills: fillsOf(node),
      stroke: strokeOf(node, "inside"),
      radius: shape === "rectangle" ? radiusOf(node, warn) : undefined
    })

  const convertContainer = (node: FigmaNode, parent: ParentContext): UuiContainer => {
    const layout = layoutOf(node, warn)
    const context: ParentContext = {
      layout: layout.mode === "wrap" ? "wrap" : layout.mode,
      box: boxOf(node),
      isComponentSet: node.type === "COMPONENT_SET"
    }
    const base = compact({
      ...common(node, parent),
      fills: fillsOf(node),
      stroke: strokeOf(node, "inside"),
      radius: radiusOf(node, warn),
      layout,
      padding: paddingOf(node),
      clip: node.clipsContent === true ? (true as const) : undefined,
      screen: isMarkedScreen(node) ? (true as const) : undefined,
      children: convertChildren(node, context)
    })
    switch (node.type) {
      case "COMPONENT": {
        const meta = lookup(source.components, node.id)
        return compact({
          ...base,
          kind: "component" as const,
          componentKey: meta?.key,
          description: meta?.description !== undefined && meta.description !== "" ? meta.description : undefined,
          variant: parent.isComponentSet || meta?.componentSetId !== undefined ? parseVariantName(node.name) : undefined,
          propertyDefinitions: propertyDefinitions(node)
        })
      }
      case "COMPONENT_SET":
        return compact({
          ...base,
          kind: "componentSet" as const,
          description: lookup(source.componentSets, node.id)?.description || undefined,
          propertyDefinitions: propertyDefinitions(node) ?? variantDefinitionsFromChildren(node)
        })
      case "INSTANCE":
        if (node.componentId === undefined) {
          warn(node.id, "instance-component-missing", "instance without componentId converted as a frame")
          return { ...base, kind: "frame" }
        }
        return compact({
          ...base,
          kind: "instance" as const,
          componentId: node.componentId,
          properties: instanceProperties(node, lookup(source.components, node.componentId)),
          overrides: node.overrides !== undefined && node.overrides.length > 0
            ? node.overrides.map((o) => ({ nodeId: o.id, fields: o.overriddenFields }))
            : undefined
        })
      default:
        return { ...base, kind: "frame" }
    }
  }

  const convertNode = (node: FigmaNode, parent: ParentContext): UuiNode | undefined => {
    const type = node.type
    if (CONTAINER_TYPES.has(type)) return convertContainer(node, parent)
    if (type === "TEXT") return convertText(node, parent)
    if (type === "RECTANGLE") return convertShape(node, parent, "rectangle")
    if (type === "ELLIPSE") {
      const arc = node.arcData
      const fullEllipse = arc === undefined ||
        (Math.abs(arc.innerRadius) < EPSILON && Math.abs(Math.abs(arc.endingAngle - arc.startingAngle) - 2 * Math.PI) < 1e-3)
      if (fullEllipse) return convertShape(node, parent, "ellipse")
      if (node.fillGeometry !== undefined) return convertVector(node, parent)
      warn(node.id, "ellipse-arc", "arc/donut without geometry approximated as a full ellipse")
      return convertShape(node, parent, "ellipse")
    }
    if (VECTOR_TYPES.has(type)) return convertVector(node, parent)
    if (type === "SLICE") {
      warn(node.id, "slice", "export slice is not rendered; dropped")
      return undefined
    }
    if (node.children !== undefined) {
      warn(node.id, `node-type-${type.toLowerCase()}`, `node type ${type} converted as a frame`)
      return convertContainer({ ...node, type: "FRAME" }, parent)
    }
    warn(node.id, `node-type-${type.toLowerCase()}`, `node type ${type} is not supported; dropped`)
    return undefined
  }

  const convertChildren = (node: FigmaNode, context: ParentContext): Array<UuiNode> => {
    const out: Array<UuiNode> = []
    for (const child of node.children ?? []) {
      if (child.isMask === true) warn(child.id, "mask", "mask layer kept as a normal layer; masking not applied")
      const converted = convertNode(child, context)
      if (converted !== undefined) out.push(converted)
    }
    return out
  }

  const convertPage = (canvas: FigmaNode): UuiPage => {
    warnUnsupportedNodeFeatures(canvas, warn)
    return compact({
      kind: "page" as const,
      id: canvas.id,
      name: canvas.name,
      background: canvas.backgroundColor !== undefined ? colorToHex(canvas.backgroundColor) : undefined,
      children: convertChildren(canvas, { layout: "page", box: undefined, isComponentSet: false })
    })
  }

  const convertRoot = (node: FigmaNode): ReadonlyArray<UuiRoot> => {
    if (node.type === "DOCUMENT") return (node.children ?? []).flatMap(convertRoot)
    if (node.type === "CANVAS") return [convertPage(node)]
    const converted = convertNode(node, ROOT)
    return converted === undefined ? [] : [converted]
  }

  const roots = source.documents.flatMap(convertRoot)
  const tokens = [
    ...styleTokens(source.styles, styleValues, warn),
    ...(source.variables === undefined ? [] : variableTokens(source.variables, warn))
  ]
  return {
    value: { schemaVersion: UUI_SCHEMA_VERSION, ...compact({ name: source.name }), roots, tokens },
    warnings
  }
}

const boxOf = (node: FigmaNode): FigmaBox | undefined => {
  const bbox = node.absoluteBoundingBox ?? undefined
  if (node.size !== undefined) return { x: bbox?.x ?? 0, y: bbox?.y ?? 0, width: node.size.x, height: node.size.y }
  return bbox
}

/** Radians, clockwise positive. Figma rotates counter-clockwise; relativeTransform is preferred over `rotation`. */
const rotationOf = (node: FigmaNode): number => {
  const m = node.relativeTransform
  const a = m?.[0]?.[0]
  const c = m?.[1]?.[0]
  if (a !== undefined && c !== undefined) return finite(Math.atan2(c, a))
  return -(node.rotation ?? 0)
}

const isAutoLayout = (layout: ParentContext["layout"]): layout is "horizontal" | "vertical" | "wrap" =>
  layout === "horizontal" || layout === "vertical" || layout === "wrap"

const axisSizing = (
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

const limitsOf = (node: FigmaNode): SizeLimits | undefined => {
  const limits = compact({
    minWidth: node.minWidth ?? undefined,
    maxWidth: node.maxWidth ?? undefined,
    minHeight: node.minHeight ?? undefined,
    maxHeight: node.maxHeight ?? undefined
  })
  return Object.keys(limits).length > 0 ? limits : undefined
}

const positionOf = (node: FigmaNode, parent: ParentContext, box: FigmaBox | undefined, warn: Warn): Position | undefined => {
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

const layoutOf = (node: FigmaNode, warn: Warn): Layout => {
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
  return compact({ mode: mode === "VERTICAL" ? ("vertical" as const) : ("horizontal" as const), gap, mainAlign, crossAlign })
}

const paddingOf = (node: FigmaNode): Sides | undefined => {
  const top = node.paddingTop ?? 0
  const right = node.paddingRight ?? 0
  const bottom = node.paddingBottom ?? 0
  const left = node.paddingLeft ?? 0
  return top === 0 && right === 0 && bottom === 0 && left === 0 ? undefined : { top, right, bottom, left }
}

const radiusOf = (node: FigmaNode, warn: Warn): Radius | undefined => {
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

const convertPaint = (nodeId: string, paint: FigmaPaint, role: string, warn: Warn): Paint | undefined => {
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
const paintColor = (nodeId: string, paint: Paint, role: string, warn: Warn): string | undefined => {
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

const textColor = (node: FigmaNode, fills: ReadonlyArray<FigmaPaint> | undefined, warn: Warn): string | undefined => {
  const converted: Array<Paint> = []
  for (const fill of fills ?? []) {
    const paint = convertPaint(node.id, fill, "text-fill", warn)
    if (paint !== undefined) converted.push(paint)
  }
  const top = converted.at(-1)
  if (converted.length > 1) warn(node.id, "text-fill-multiple", "kept the top-most text fill only")
  return top === undefined ? undefined : paintColor(node.id, top, "text-fill", warn)
}

const textStyle = (nodeId: string, style: FigmaTypeStyle, warn: Warn): TextStyle => {
  if (style.hyperlink !== undefined) warn(nodeId, "text-hyperlink", "hyperlink dropped; text kept")
  if (style.opentypeFlags !== undefined && Object.keys(style.opentypeFlags).length > 0) {
    warn(nodeId, "text-opentype", "OpenType feature flags dropped")
  }
  if ((style.paragraphSpacing ?? 0) !== 0 || (style.paragraphIndent ?? 0) !== 0) {
    warn(nodeId, "text-paragraph-spacing", "paragraph spacing/indent dropped")
  }
  if (style.textCase === "SMALL_CAPS_FORCED") warn(nodeId, "text-small-caps-forced", "forced small caps approximated as small caps")
  return compact({
    fontFamily: style.fontFamily,
    fontWeight: style.fontWeight,
    fontSize: style.fontSize,
    italic: style.italic,
    lineHeight: style.lineHeightUnit === "FONT_SIZE_%" && style.lineHeightPercentFontSize !== undefined
      ? { unit: "percent" as const, value: style.lineHeightPercentFontSize }
      : style.lineHeightUnit !== "INTRINSIC_%" && style.lineHeightPx !== undefined
      ? { unit: "px" as const, value: style.lineHeightPx }
      : undefined,
    letterSpacing: style.letterSpacing !== undefined && style.letterSpacing !== 0 ? style.letterSpacing : undefined,
    decoration: style.textDecoration === "UNDERLINE" ? ("underline" as const)
      : style.textDecoration === "STRIKETHROUGH" ? ("strikethrough" as const) : undefined,
    textCase: lookup(TEXT_CASES, style.textCase)
  })
}

/** Groups consecutive characters sharing a style override into spans (override 0 = the base style). */
const textSpans = (node: FigmaNode, warn: Warn): Array<TextSpan> => {
  const characters = node.characters ?? ""
  const overrides = node.characterStyleOverrides ?? []
  const table = node.styleOverrideTable ?? {}
  const styleCache = new Map<number, TextStyle | undefined>()
  const styleFor = (id: number): TextStyle | undefined => {
    if (!styleCache.has(id)) {
      const override = id === 0 ? undefined : lookup(table, String(id))
      const style = override === undefined ? undefined : compact({
        ...textStyle(node.id, override, warn),
        color: override.fills === undefined ? undefined : textColor(node, override.fills, warn)
      })
      styleCache.set(id, style !== undefined && Object.keys(style).length > 0 ? style : undefined)
    }
    return styleCache.get(id)
  }
  const spans: Array<TextSpan> = []
  let start = 0
  while (start < characters.length || spans.length === 0) {
    const id = overrides[start] ?? 0
    let end = start + 1
    while (end < characters.length && (overrides[end] ?? 0) === id) end++
    spans.push(compact({ text: characters.slice(start, end), style: styleFor(id) }))
    start = end
  }
  return spans
}

const parseVariantName = (name: string | undefined): Record<string, string> | undefined => {
  if (name === undefined || !name.includes("=")) return undefined
  const variant: Record<string, string> = {}
  for (const part of name.split(",")) {
    const [key, ...rest] = part.split("=")
    if (key !== undefined && rest.length > 0) variant[key.trim()] = rest.join("=").trim()
  }
  return variant
}

const PROPERTY_TYPES = { VARIANT: "variant", BOOLEAN: "boolean", TEXT: "text", INSTANCE_SWAP: "instanceSwap" } as const

const propertyDefinitions = (node: FigmaNode) => {
  const definitions = node.componentPropertyDefinitions
  if (definitions === undefined) return undefined
  const out: Record<string, { type: (typeof PROPERTY_TYPES)[keyof typeof PROPERTY_TYPES]; defaultValue: string | boolean; options?: ReadonlyArray<string> }> = {}
  for (const [name, definition] of Object.entries(definitions)) {
    out[name] = compact({
      type: lookup(PROPERTY_TYPES, definition.type) ?? "text",
      defaultValue: definition.defaultValue ?? "",
      options: definition.variantOptions
    })
  }
  return out
}

/** Older exports have no componentPropertyDefinitions: variant options come from the member names. */
const variantDefinitionsFromChildren = (node: FigmaNode) => {
  const options = new Map<string, Array<string>>()
  for (const child of node.children ?? []) {
    for (const [key, value] of Object.entries(parseVariantName(child.name) ?? {})) {
      const values = options.get(key) ?? []
      if (!values.includes(value)) values.push(value)
      options.set(key, values)
    }
  }
  if (options.size === 0) return undefined
  const out: Record<string, { type: "variant"; defaultValue: string; options: ReadonlyArray<string> }> = {}
  for (const [key, values] of options) out[key] = { type: "variant", defaultValue: values[0] ?? "", options: values }
  return out
}

/** Property values; older exports lack componentProperties, so variant values come from the component's name. */
const instanceProperties = (node: FigmaNode, component: typeof FigmaComponentMeta.Type | undefined) => {
  if (node.componentProperties !== undefined) {
    const out: Record<string, string | boolean> = {}
    for (const [name, property] of Object.entries(node.componentProperties)) out[name] = property.value
    return out
  }
  return component?.componentSetId !== undefined ? parseVariantName(component.name) : undefined
}

const isMarkedScreen = (node: FigmaNode): boolean => {
  const cogo = node.sharedPluginData?.["cogo"]
  return typeof cogo === "object" && cogo !== null && "screen" in cogo && cogo.screen === "true"
}

const warnUnsupportedNodeFeatures = (node: FigmaNode, warn: Warn): void => {
  if (node.reactions !== undefined && node.reactions.length > 0) warn(node.id, "prototype-reactions", "prototype interactions not converted")
  if (node.layoutGrids !== undefined && node.layoutGrids.length > 0) warn(node.id, "layout-grids", "layout grids (design guides) not converted")
  if (node.exportSettings !== undefined && node.exportSettings.length > 0) warn(node.id, "export-settings", "export settings not converted")
}

const styleIdOf = (node: FigmaNode, slot: StyleSlot): string | undefined => {
  const styles = node.styles
  if (styles === undefined) return undefined
  return styles[slot] ?? styles[`${slot}s`]
}

const styleToken = (node: FigmaNode, slot: StyleSlot): string | undefined => {
  const id = styleIdOf(node, slot)
  return id === undefined ? undefined : `style:${id}`
}

const boundColorVariable = (list: ReadonlyArray<FigmaPaint> | undefined): string | undefined => {
  for (const paint of list ?? []) {
    const id = paint.boundVariables?.color?.id
    if (id !== undefined) return `variable:${id}`
  }
  return undefined
}

const styleTokens = (
  styles: Readonly<Record<string, FigmaStyleMeta>>,
  values: ReadonlyMap<string, { readonly type: DesignToken["type"]; readonly value: StyleValue }>,
  warn: Warn
): Array<DesignToken> => {
  const out: Array<DesignToken> = []
  for (const [styleId, meta] of Object.entries(styles)) {
    const used = values.get(styleId)
    if (meta.styleType === "GRID") {
      warn(styleId, "style-grid", `grid style ${meta.name ?? styleId} not converted`)
      continue
    }
    if (used === undefined) warn(styleId, "style-unused", `style ${meta.name ?? styleId} is used by no converted node: token has no value`)
    out.push(compact({
      id: `style:${styleId}`,
      name: meta.name ?? styleId,
      type: used?.type ?? (meta.styleType === "TEXT" ? "text" : meta.styleType === "EFFECT" ? "effect" : "color"),
      collection: "styles",
      description: meta.description !== undefined && meta.description !== "" ? meta.description : undefined,
      values: used === undefined ? {} : { default: used.value }
    }))
  }
  return out
}

const VARIABLE_TYPES = { COLOR: "color", FLOAT: "number", STRING: "string", BOOLEAN: "boolean" } as const

const variableTokens = (variables: FigmaLocalVariables, warn: Warn): Array<DesignToken> => {
  const out: Array<DesignToken> = []
  for (const variable of Object.values(variables.variables)) {
    const type = lookup(VARIABLE_TYPES, variable.resolvedType)
    if (type === undefined) {
      warn(variable.id, "variable-type", `variable type ${variable.resolvedType} not supported; dropped`)
      continue
    }
    const collection = variable.variableCollectionId === undefined
      ? undefined
      : lookup(variables.variableCollections, variable.variableCollectionId)
    const modeNames = new Map((collection?.modes ?? []).map((m) => [m.modeId, m.name]))
    const values: Record<string, StyleValue> = {}
    for (const [modeId, value] of Object.entries(variable.valuesByMode)) {
      const converted = variableValue(type, value)
      if (converted === undefined) {
        warn(variable.id, "variable-value", `value for mode ${modeId} does not match type ${variable.resolvedType}; dropped`)
      } else {
        values[modeNames.get(modeId) ?? modeId] = converted
      }
    }
    out.push(compact({
      id: `variable:${variable.id}`,
      name: variable.name,
      type,
      collection: collection?.name ?? "variables",
      description: variable.description !== undefined && variable.description !== "" ? variable.description : undefined,
      values
    }))
  }
  return out
}

const variableValue = (
  type: (typeof VARIABLE_TYPES)[keyof typeof VARIABLE_TYPES],
  value: FigmaLocalVariables["variables"][string]["valuesByMode"][string]
): StyleValue | undefined => {
  if (typeof value === "object") {
    if ("id" in value) return { alias: `variable:${value.id}` }
    return type === "color" ? colorToHex(value) : undefined
  }
  if (type === "number") return typeof value === "number" ? value : undefined
  if (type === "boolean") return typeof value === "boolean" ? value : undefined
  if (type === "string") return typeof value === "string" ? value : undefined
  return undefined
}
