import type { ConversionWarning } from "../../../domain/figma/ConversionWarning.ts"
import {
  type BoxDecoration, type BoxShadow, type CogoBlendMode, type CogoDocument, type CogoTextStyle, type CogoWidget,
  type DecorationImage, type Extent, type Gradient, COGO_SCHEMA_VERSION
} from "../../../domain/figma/CogoUi.ts"
import type {
  AxisSizing, BlendMode, GradientPaint, Paint, Shadow, Stroke, TextStyle, UuiContainer, UuiDocument, UuiNode, UuiRoot, UuiShape,
  UuiText, UuiVector
} from "../../../domain/figma/Uui.ts"
import { compact } from "./compact.ts"
import type { Converted } from "./figmaToUui.ts"

type Warn = (nodeId: string, feature: string, action: string) => void
type ParentLayout = "root" | "page" | "none" | "horizontal" | "vertical" | "wrap"

const IMAGE_FIT = { fill: "cover", fit: "contain", crop: "fill", tile: "none" } as const

const toCogoBlendMode = (mode: BlendMode | undefined, nodeId: string, warn: Warn): CogoBlendMode | undefined => {
  if (mode === undefined) return undefined
  if (mode === "plusLighter") return "plus"
  if (mode === "plusDarker") {
    warn(nodeId, "blend-mode-plus-darker", "plus darker (linear burn) approximated as multiply")
    return "multiply"
  }
  return mode
}

const toCogoShadow = (shadow: Shadow): BoxShadow =>
  compact({
    color: shadow.color,
    offset: shadow.offset,
    blurRadius: shadow.blur,
    spreadRadius: shadow.spread,
    inset: shadow.type === "inner" ? (true as const) : undefined
  })

const toCogoTextStyle = (style: TextStyle): CogoTextStyle =>
  compact({
    fontFamily: style.fontFamily,
    fontWeight: style.fontWeight,
    fontSize: style.fontSize,
    fontStyle: style.italic === undefined ? undefined : style.italic ? ("italic" as const) : ("normal" as const),
    lineHeight: style.lineHeight,
    letterSpacing: style.letterSpacing,
    decoration: style.decoration === "strikethrough" ? ("lineThrough" as const) : style.decoration,
    textCase: style.textCase,
    color: style.color
  })

const toGradient = (paint: GradientPaint, nodeId: string, warn: Warn): Gradient => {
  const colors = paint.stops.map((s) => s.color)
  const stops = paint.stops.map((s) => s.position)
  switch (paint.type) {
    case "linear":
      return { type: "linear", colors, stops, begin: paint.begin, end: paint.end }
    case "radial":
      return { type: "radial", colors, stops, center: paint.center, radius: paint.radius }
    case "angular":
      return { type: "sweep", colors, stops, center: paint.center, startAngle: paint.startAngle }
    case "diamond":
      warn(nodeId, "gradient-diamond", "diamond gradient approximated as a radial gradient")
      return { type: "radial", colors, stops, center: paint.center, radius: paint.radius }
  }
}

const toDecorationImage = (paint: Extract<Paint, { readonly type: "image" }>): DecorationImage =>
  compact({
    imageRef: paint.imageRef,
    fit: IMAGE_FIT[paint.scaleMode],
    repeat: paint.scaleMode === "tile" ? (true as const) : undefined,
    opacity: paint.opacity,
    scale: paint.scalingFactor
  })

/**
 * Flutter paints one colour or gradient and one image above it. Fills (bottom to top) of that shape map
 * exactly; anything else keeps the top-most colour/gradient and the top-most image, with a warning.
 */
const toPaintLayers = (fills: ReadonlyArray<Paint> | undefined, nodeId: string, warn: Warn) => {
  let color: string | undefined
  let gradient: Gradient | undefined
  let image: DecorationImage | undefined
  let base: Paint | undefined
  let imagePaint: Paint | undefined
  let exact = true
  for (const paint of fills ?? []) {
    if (paint.type === "image") {
      if (imagePaint !== undefined) exact = false
      imagePaint = paint
      image = toDecorationImage(paint)
    } else {
      if (base !== undefined || imagePaint !== undefined) exact = false
      base = paint
      color = paint.type === "solid" ? paint.color : undefined
      gradient = paint.type === "solid" ? undefined : toGradient(paint, nodeId, warn)
    }
  }
  if (!exact) {
    warn(nodeId, "fills-layered", `${fills?.length ?? 0} fill layers reduced to the top colour/gradient plus the top image`)
  }
  return { color, gradient, image }
}

const toBorder = (stroke: Stroke | undefined) =>
  stroke === undefined ? undefined : compact({
    color: stroke.color,
    width: stroke.weight,
    strokeAlign: stroke.align,
    dashPattern: stroke.dashes
  })

const hasKeys = (o: object): boolean => Object.keys(o).length > 0

export const uuiToCogo = (document: UuiDocument): Converted<CogoDocument> => {
  const warnings: Array<ConversionWarning> = []
  const warn: Warn = (nodeId, feature, action) => { warnings.push({ nodeId, feature, action }) }

  /** Width/height for the node's box: fixed size, fill as `infinity` unless the parent's flex axis handles it. */
  const extent = (sizing: AxisSizing, flexHandled: boolean): Extent | undefined =>
    sizing.mode === "fixed" ? sizing.size : sizing.mode === "fill" && !flexHandled ? "infinity" : undefined

  const mainAxisFill = (node: UuiNode, parent: ParentLayout): "width" | "height" | undefined => {
    if (node.position !== undefined) return undefined
    if (parent === "horizontal" && node.width.mode === "fill") return "width"
    if (parent === "vertical" && node.height.mode === "fill") return "height"
    return undefined
  }

  const decorationOf = (
    node: UuiContainer | UuiShape, shape: "rectangle" | "ellipse"
  ): BoxDecoration | undefined => {
    const decoration = compact({
      ...toPaintLayers(node.fills, node.id, warn),
      border: toBorder(node.stroke),
      borderRadius: node.radius,
      boxShadow: node.shadows?.map(toCogoShadow),
      shape: shape === "ellipse" ? ("ellipse" as const) : undefined
    })
    return hasKeys(decoration) ? decoration : undefined
  }

  const layoutWidget = (node: UuiContainer): CogoWidget => {
    const layout = node.layout
    const flow = layout.mode === "none" ? [] : node.children.filter((c) => c.position === undefined)
    const absolute = layout.mode === "none" ? node.children : node.children.filter((c) => c.position !== undefined)
    if (layout.mode === "none") return { type: "Stack", children: absolute.map((c) => nodeWidget(c, "none")) }
    const flowChildren = flow.map((c) => nodeWidget(c, layout.mode))
    const flex: CogoWidget = layout.mode === "wrap"
      ? compact({
        type: "Wrap" as const,
        spacing: layout.gap,
        runSpacing: layout.runGap,
        alignment: layout.mainAlign,
        runAlignment: layout.runAlign,
        crossAxisAlignment: layout.crossAlign,
        children: flowChildren
      })
      : compact({
        type: layout.mode === "vertical" ? ("Column" as const) : ("Row" as const),
        spacing: layout.gap,
        mainAxisAlignment: layout.mainAlign,
        crossAxisAlignment: layout.crossAlign,
        children: flowChildren
      })
    if (absolute.length === 0) return flex
    // Flutter's Row/Column cannot hold positioned children: Stack[flex, ...positioned] keeps both.
    const firstAbsolute = node.children.findIndex((c) => c.position !== undefined)
    if (node.children.slice(firstAbsolute).some((c) => c.position === undefined)) {
      warn(node.id, "absolute-z-order", "absolute children drawn above the auto-layout children")
    }
    return { type: "Stack", children: [flex, ...absolute.map((c) => nodeWidget(c, "none"))] }
  }

  const containerCore = (node: UuiContainer, parent: ParentLayout): CogoWidget => {
    const flexAxis = mainAxisFill(node, parent)
    const width = extent(node.width, flexAxis === "width")
    const height = extent(node.height, flexAxis === "height")
    const decoration = decorationOf(node, "rectangle")
    const blendMode = toCogoBlendMode(node.blendMode, node.id, warn)
    const child = layoutWidget(node)
    if (decoration !== undefined || node.limits !== undefined || blendMode !== undefined || node.tokens !== undefined ||
      (node.padding !== undefined && (width !== undefined || height !== undefined))) {
      return compact({
        type: "Container" as const,
        width, height,
        constraints: node.limits,
        padding: node.padding,
        decoration,
        blendMode,
        theme: node.tokens,
        child
      })
    }
    if (node.padding !== undefined) return { type: "Padding", padding: node.padding, child }
    if (width !== undefined || height !== undefined) return compact({ type: "SizedBox" as const, width, height, child })
    return child
  }

  /** Text, vectors and image shapes size through a SizedBox (or a Container when min/max limits apply). */
  const sized = (node: UuiNode, parent: ParentLayout, core: CogoWidget): CogoWidget => {
    const flexAxis = mainAxisFill(node, parent)
    const width = extent(node.width, flexAxis === "width")
    const height = extent(node.height, flexAxis === "height")
    if (node.limits !== undefined) {
      return compact({ type: "Container" as const, width, height, constraints: node.limits, child: core })
    }
    if (width === undefined && height === undefined) return core
    return compact({ type: "SizedBox" as const, width, height, child: core })
  }

  const shapeCore = (node: UuiShape, parent: ParentLayout): CogoWidget => {
    const [only, ...rest] = node.fills ?? []
    const blendMode = toCogoBlendMode(node.blendMode, node.id, warn)
    if (only?.type === "image" && rest.length === 0 && node.stroke === undefined && node.radius === undefined &&
      node.shadows === undefined && node.shape === "rectangle") {
      return sized(node, parent, compact({ type: "Image" as const, ...toDecorationImage(only), blendMode, theme: node.tokens }))
    }
    const flexAxis = mainAxisFill(node, parent)
    return compact({
      type: "Container" as const,
      width: extent(node.width, flexAxis === "width"),
      height: extent(node.height, flexAxis === "height"),
      constraints: node.limits,
      decoration: decorationOf(node, node.shape),
      blendMode,
      theme: node.tokens
    })
  }

  const textCore = (node: UuiText, parent: ParentLayout): CogoWidget => {
    const base = compact({ ...toCogoTextStyle(node.style), shadows: node.shadows?.map(toCogoShadow) })
    const style = hasKeys(base) ? base : undefined
    const shared = compact({
      textAlign: node.textAlign,
      textAlignVertical: node.verticalAlign,
      maxLines: node.maxLines,
      overflow: node.truncate === true ? ("ellipsis" as const) : undefined,
      blendMode: toCogoBlendMode(node.blendMode, node.id, warn),
      theme: node.tokens
    })
    const [single, ...more] = node.spans
    const core: CogoWidget = single !== undefined && more.length === 0 && single.style === undefined
      ? compact({ type: "Text" as const, data: single.text, style, ...shared })
      : compact({
        type: "RichText" as const,
        text: compact({
          style,
          children: node.spans.map((s) => compact({ text: s.text, style: s.style === undefined ? undefined : toCogoTextStyle(s.style) }))
        }),
        ...shared
      })
    return sized(node, parent, core)
  }

  const vectorCore = (node: UuiVector, parent: ParentLayout): CogoWidget => {
    const layers = toPaintLayers(node.fills, node.id, warn)
    if (node.shadows !== undefined) warn(node.id, "vector-shadow", "shadows on a vector dropped (SvgPicture has none)")
    return sized(node, parent, compact({
      type: "SvgPicture" as const,
      paths: node.paths,
      color: layers.color,
      gradient: layers.gradient,
      image: layers.image,
      stroke: toBorder(node.stroke),
      blendMode: toCogoBlendMode(node.blendMode, node.id, warn),
      theme: node.tokens
    }))
  }

  const coreWidget = (node: UuiNode, parent: ParentLayout): CogoWidget => {
    switch (node.kind) {
      case "shape":
        return shapeCore(node, parent)
      case "text":
        return textCore(node, parent)
      case "vector":
        return vectorCore(node, parent)
      default:
        return containerCore(node, parent)
    }
  }

  /** Canonical chain, outermost first: parent slot, symbol, screen, visibility, opacity, rotation, blurs, clip, box, core. */
  const nodeWidget = (node: UuiNode, parent: ParentLayout): CogoWidget => {
    let widget = coreWidget(node, parent)
    if (node.kind !== "shape" && node.kind !== "text" && node.kind !== "vector" && node.clip === true) {
      widget = compact({ type: "ClipRRect" as const, borderRadius: node.radius, child: widget })
    }
    if (node.backgroundBlur !== undefined) widget = { type: "BackdropFilter", blur: node.backgroundBlur, child: widget }
    if (node.layerBlur !== undefined) widget = { type: "ImageFiltered", blur: node.layerBlur, child: widget }
    if (node.rotation !== undefined || node.flipX === true || node.flipY === true) {
      widget = compact({ type: "Transform" as const, angle: node.rotation, flipX: node.flipX, flipY: node.flipY, child: widget })
    }
    if (node.opacity !== undefined) widget = { type: "Opacity", opacity: node.opacity, child: widget }
    if (node.hidden === true) widget = { type: "Visibility", visible: false, child: widget }
    switch (node.kind) {
      case "component":
      case "componentSet":
      case "instance":
      case "frame":
        if (node.screen === true) widget = { type: "Screen", child: widget }
    }
    switch (node.kind) {
      case "component":
        widget = compact({
          type: "SymbolDefinition" as const, symbolId: node.id, key: node.componentKey, description: node.description,
          variant: node.variant, propertyDefinitions: node.propertyDefinitions, child: widget
        })
        break
      case "componentSet":
        widget = compact({
          type: "SymbolSet" as const, symbolId: node.id, description: node.description,
          propertyDefinitions: node.propertyDefinitions, child: widget
        })
        break
      case "instance":
        widget = compact({
          type: "SymbolInstance" as const, symbolId: node.componentId, properties: node.properties,
          overrides: node.overrides, child: widget
        })
        break
    }
    const flexAxis = mainAxisFill(node, parent)
    if (node.position !== undefined) {
      widget = compact({
        type: "Positioned" as const, left: node.position.x, top: node.position.y,
        constraints: node.position.constraints, child: widget
      })
    } else if (flexAxis !== undefined) {
      const max = flexAxis === "width" ? node.limits?.maxWidth : node.limits?.maxHeight
      widget = { type: max === undefined ? "Expanded" : "Flexible", child: widget }
    }
    return { ...widget, ...compact({ id: node.id, name: node.name }) }
  }

  const rootWidget = (root: UuiRoot): CogoWidget =>
    root.kind === "page"
      ? compact({
        type: "Page" as const,
        id: root.id,
        name: root.name,
        backgroundColor: root.background,
        children: root.children.map((c) => nodeWidget(c, "page"))
      })
      : nodeWidget(root, "root")

  return {
    value: {
      schemaVersion: COGO_SCHEMA_VERSION,
      ...compact({ name: document.name }),
      roots: document.roots.map(rootWidget),
      theme: { tokens: document.tokens }
    },
    warnings
  }
}
