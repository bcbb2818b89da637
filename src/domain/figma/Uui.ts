import { Schema } from "effect"

/*
 * UUI: the platform-neutral UI tree between Figma and COGO UI JSON (schema version 1).
 * Conventions: colours are `#rrggbbaa` (lower-case hex, 8 bits per channel); lengths are logical pixels;
 * angles are radians, clockwise positive; gradient geometry is in alignment space of the node's box
 * (-1 = left/top edge, 1 = right/bottom edge); an optional key that is absent means the default
 * (opacity 1, no rotation, visible, normal blend, no clip, zero gap/padding, start alignment).
 */

const Num = Schema.Finite
const opt = Schema.optionalKey

export const UUI_SCHEMA_VERSION = 1

export const Color = Schema.String.check(Schema.isPattern(/^#[0-9a-f]{8}$/)).annotate({ identifier: "Color" })
export const Vec2 = Schema.Struct({ x: Num, y: Num }).annotate({ identifier: "Vec2" })
export type Vec2 = typeof Vec2.Type
export const Sides = Schema.Struct({ top: Num, right: Num, bottom: Num, left: Num }).annotate({ identifier: "Sides" })
export type Sides = typeof Sides.Type
export const Corners = Schema.Struct({ topLeft: Num, topRight: Num, bottomRight: Num, bottomLeft: Num })
  .annotate({ identifier: "Corners" })
/** One radius for all corners, or one per corner. */
export const Radius = Schema.Union([Num, Corners]).annotate({ identifier: "Radius" })
export type Radius = typeof Radius.Type

/** Flutter's `BlendMode` names, plus `plusDarker` (Figma LINEAR_BURN) which Flutter lacks. */
export const BlendMode = Schema.Literals([
  "darken", "multiply", "plusDarker", "colorBurn", "lighten", "screen", "plusLighter", "colorDodge", "overlay",
  "softLight", "hardLight", "difference", "exclusion", "hue", "saturation", "color", "luminosity"
]).annotate({ identifier: "BlendMode" })
export type BlendMode = typeof BlendMode.Type

export const GradientStop = Schema.Struct({ position: Num, color: Color })
const stops = Schema.Array(GradientStop)

export const SolidPaint = Schema.Struct({ type: Schema.Literal("solid"), color: Color })
export const LinearGradientPaint = Schema.Struct({ type: Schema.Literal("linear"), stops, begin: Vec2, end: Vec2 })
/** `radius` is per axis, as a fraction of the node's width and height. */
export const RadialGradientPaint = Schema.Struct({ type: Schema.Literal("radial"), stops, center: Vec2, radius: Vec2 })
export const AngularGradientPaint = Schema.Struct({ type: Schema.Literal("angular"), stops, center: Vec2, startAngle: Num })
export const DiamondGradientPaint = Schema.Struct({ type: Schema.Literal("diamond"), stops, center: Vec2, radius: Vec2 })
export const ImageScaleMode = Schema.Literals(["fill", "fit", "crop", "tile"])
export const ImagePaint = Schema.Struct({
  type: Schema.Literal("image"),
  imageRef: Schema.String,
  scaleMode: ImageScaleMode,
  opacity: opt(Num),
  scalingFactor: opt(Num)
})
export const Paint = Schema.Union([
  SolidPaint, LinearGradientPaint, RadialGradientPaint, AngularGradientPaint, DiamondGradientPaint, ImagePaint
]).annotate({ identifier: "Paint" })
export type Paint = typeof Paint.Type
export type GradientPaint = Exclude<Paint, { readonly type: "solid" | "image" }>

export const StrokeAlign = Schema.Literals(["inside", "center", "outside"])
export const Stroke = Schema.Struct({
  color: Color,
  /** One weight, or one per side (Figma individual stroke weights). */
  weight: Schema.Union([Num, Sides]),
  align: StrokeAlign,
  dashes: opt(Schema.Array(Num))
}).annotate({ identifier: "Stroke" })
export type Stroke = typeof Stroke.Type

export const Shadow = Schema.Struct({
  type: Schema.Literals(["drop", "inner"]),
  color: Color,
  offset: Vec2,
  blur: Num,
  spread: Num
}).annotate({ identifier: "Shadow" })
export type Shadow = typeof Shadow.Type

export const AxisSizing = Schema.Union([
  Schema.Struct({ mode: Schema.Literal("fixed"), size: Num }),
  Schema.Struct({ mode: Schema.Literal("hug") }),
  Schema.Struct({ mode: Schema.Literal("fill") })
]).annotate({ identifier: "AxisSizing" })
export type AxisSizing = typeof AxisSizing.Type

export const SizeLimits = Schema.Struct({
  minWidth: opt(Num), maxWidth: opt(Num), minHeight: opt(Num), maxHeight: opt(Num)
}).annotate({ identifier: "SizeLimits" })
export type SizeLimits = typeof SizeLimits.Type

export const Constraint = Schema.Literals(["start", "end", "center", "stretch", "scale"])
export const Constraints = Schema.Struct({ horizontal: Constraint, vertical: Constraint })
export type Constraints = typeof Constraints.Type

/** Present only on absolutely positioned nodes: children of a `none` layout or of a page, and absolute children of auto layout. */
export const Position = Schema.Struct({ x: Num, y: Num, constraints: opt(Constraints) })
  .annotate({ identifier: "Position" })
export type Position = typeof Position.Type

export const MainAlign = Schema.Literals(["start", "center", "end", "spaceBetween"])
export const CrossAlign = Schema.Literals(["start", "center", "end", "baseline"])
export const WrapCrossAlign = Schema.Literals(["start", "center", "end"])
export const Layout = Schema.Union([
  Schema.Struct({ mode: Schema.Literal("none") }),
  Schema.Struct({
    mode: Schema.Literals(["horizontal", "vertical"]),
    gap: opt(Num),
    mainAlign: opt(MainAlign),
    crossAlign: opt(CrossAlign)
  }),
  /** Figma wraps horizontal auto layout only; `runGap` is its counter-axis spacing. */
  Schema.Struct({
    mode: Schema.Literal("wrap"),
    gap: opt(Num),
    runGap: opt(Num),
    mainAlign: opt(MainAlign),
    crossAlign: opt(WrapCrossAlign),
    runAlign: opt(Schema.Literals(["start", "spaceBetween"]))
  })
]).annotate({ identifier: "Layout" })
export type Layout = typeof Layout.Type

/** Design-token ids (see DesignToken) bound to this node's fill, stroke, text or effect. */
export const TokenRefs = Schema.Struct({
  fill: opt(Schema.String), stroke: opt(Schema.String), text: opt(Schema.String), effect: opt(Schema.String)
}).annotate({ identifier: "TokenRefs" })
export type TokenRefs = typeof TokenRefs.Type

export const LineHeight = Schema.Union([
  Schema.Struct({ unit: Schema.Literal("px"), value: Num }),
  Schema.Struct({ unit: Schema.Literal("percent"), value: Num })
])
export const TextStyle = Schema.Struct({
  fontFamily: opt(Schema.String),
  fontWeight: opt(Num),
  fontSize: opt(Num),
  italic: opt(Schema.Boolean),
  lineHeight: opt(LineHeight),
  letterSpacing: opt(Num),
  decoration: opt(Schema.Literals(["none", "underline", "strikethrough"])),
  textCase: opt(Schema.Literals(["original", "upper", "lower", "title", "smallCaps"])),
  color: opt(Color)
}).annotate({ identifier: "TextStyle" })
export type TextStyle = typeof TextStyle.Type

/** A run of characters; `style` overrides the text node's base style for this run. */
export const TextSpan = Schema.Struct({ text: Schema.String, style: opt(TextStyle) })
export type TextSpan = typeof TextSpan.Type

export const PropertyDefinition = Schema.Struct({
  type: Schema.Literals(["variant", "boolean", "text", "instanceSwap"]),
  defaultValue: Schema.Union([Schema.String, Schema.Boolean]),
  options: opt(Schema.Array(Schema.String))
})
export const PropertyDefinitions = Schema.Record(Schema.String, PropertyDefinition)
export const Override = Schema.Struct({ nodeId: Schema.String, fields: Schema.Array(Schema.String) })

export const VectorPath = Schema.Struct({
  data: Schema.String,
  fillRule: Schema.Literals(["nonzero", "evenodd"]),
  role: Schema.Literals(["fill", "stroke"])
})
export type VectorPath = typeof VectorPath.Type

/** Fields every drawable node has. */
const commonFields = {
  id: Schema.String,
  name: opt(Schema.String),
  hidden: opt(Schema.Literal(true)),
  opacity: opt(Num),
  rotation: opt(Num),
  /** Mirrored about the vertical (flipX) or horizontal (flipY) centre line, before `rotation` is applied. */
  flipX: opt(Schema.Literal(true)),
  flipY: opt(Schema.Literal(true)),
  blendMode: opt(BlendMode),
  width: AxisSizing,
  height: AxisSizing,
  limits: opt(SizeLimits),
  position: opt(Position),
  shadows: opt(Schema.Array(Shadow)),
  layerBlur: opt(Num),
  backgroundBlur: opt(Num),
  tokens: opt(TokenRefs)
}

/** Box styling shared by frames and shapes; `fills` are bottom-to-top. */
const boxFields = {
  fills: opt(Schema.Array(Paint)),
  stroke: opt(Stroke),
  radius: opt(Radius)
}

const containerFields = {
  ...commonFields,
  ...boxFields,
  layout: Layout,
  padding: opt(Sides),
  clip: opt(Schema.Literal(true)),
  /** Marked as a screen by the cogo plugin (`sharedPluginData.cogo.screen`). */
  screen: opt(Schema.Literal(true))
}

const frameFields = { ...containerFields, kind: Schema.Literal("frame") }
const componentFields = {
  ...containerFields,
  kind: Schema.Literal("component"),
  componentKey: opt(Schema.String),
  description: opt(Schema.String),
  /** Variant values when the component is a member of a component set (`Size=Large, State=Hover`). */
  variant: opt(Schema.Record(Schema.String, Schema.String)),
  propertyDefinitions: opt(PropertyDefinitions)
}
const componentSetFields = {
  ...containerFields,
  kind: Schema.Literal("componentSet"),
  description: opt(Schema.String),
  propertyDefinitions: opt(PropertyDefinitions)
}
const instanceFields = {
  ...containerFields,
  kind: Schema.Literal("instance"),
  componentId: Schema.String,
  properties: opt(Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Boolean]))),
  overrides: opt(Schema.Array(Override))
}
const pageFields = {
  kind: Schema.Literal("page"),
  id: Schema.String,
  name: opt(Schema.String),
  background: opt(Color)
}

export const UuiShape = Schema.Struct({
  ...commonFields,
  ...boxFields,
  kind: Schema.Literal("shape"),
  shape: Schema.Literals(["rectangle", "ellipse"])
}).annotate({ identifier: "UuiShape" })
export type UuiShape = typeof UuiShape.Type

export const UuiText = Schema.Struct({
  ...commonFields,
  kind: Schema.Literal("text"),
  style: TextStyle,
  spans: Schema.Array(TextSpan),
  textAlign: opt(Schema.Literals(["left", "center", "right", "justify"])),
  verticalAlign: opt(Schema.Literals(["top", "center", "bottom"])),
  maxLines: opt(Num),
  truncate: opt(Schema.Literal(true))
}).annotate({ identifier: "UuiText" })
export type UuiText = typeof UuiText.Type

/** Paths are SVG path data in the node's own coordinate space (Figma fill/stroke geometry). */
export const UuiVector = Schema.Struct({
  ...commonFields,
  kind: Schema.Literal("vector"),
  paths: Schema.Array(VectorPath),
  fills: opt(Schema.Array(Paint)),
  stroke: opt(Stroke)
}).annotate({ identifier: "UuiVector" })
export type UuiVector = typeof UuiVector.Type

export interface UuiFrame extends Schema.Struct.Type<typeof frameFields> { readonly children: ReadonlyArray<UuiNode> }
export interface UuiComponent extends Schema.Struct.Type<typeof componentFields> {
  readonly children: ReadonlyArray<UuiNode>
}
export interface UuiComponentSet extends Schema.Struct.Type<typeof componentSetFields> {
  readonly children: ReadonlyArray<UuiNode>
}
export interface UuiInstance extends Schema.Struct.Type<typeof instanceFields> {
  readonly children: ReadonlyArray<UuiNode>
}
export interface UuiPage extends Schema.Struct.Type<typeof pageFields> { readonly children: ReadonlyArray<UuiNode> }

export type UuiContainer = UuiFrame | UuiComponent | UuiComponentSet | UuiInstance
export type UuiNode = UuiContainer | UuiShape | UuiText | UuiVector
export type UuiRoot = UuiPage | UuiNode

const children = Schema.Array(Schema.suspend((): Schema.Codec<UuiNode> => UuiNode))

export const UuiFrame: Schema.Codec<UuiFrame> = Schema.Struct({ ...frameFields, children })
  .annotate({ identifier: "UuiFrame" })
export const UuiComponent: Schema.Codec<UuiComponent> = Schema.Struct({ ...componentFields, children })
  .annotate({ identifier: "UuiComponent" })
export const UuiComponentSet: Schema.Codec<UuiComponentSet> = Schema.Struct({ ...componentSetFields, children })
  .annotate({ identifier: "UuiComponentSet" })
export const UuiInstance: Schema.Codec<UuiInstance> = Schema.Struct({ ...instanceFields, children })
  .annotate({ identifier: "UuiInstance" })
export const UuiNode: Schema.Codec<UuiNode> = Schema.Union([
  UuiFrame, UuiComponent, UuiComponentSet, UuiInstance, UuiShape, UuiText, UuiVector
]).annotate({ identifier: "UuiNode" })
export const UuiPage: Schema.Codec<UuiPage> = Schema.Struct({ ...pageFields, children })
  .annotate({ identifier: "UuiPage" })

/** A token value: literal, alias to another token, or a composite style value. */
export const TokenValue = Schema.Union([
  Schema.String,
  Num,
  Schema.Boolean,
  Schema.Struct({ alias: Schema.String }),
  Schema.Struct({ paints: Schema.Array(Paint) }),
  Schema.Struct({ textStyle: TextStyle }),
  Schema.Struct({ shadows: Schema.Array(Shadow), layerBlur: opt(Num), backgroundBlur: opt(Num) })
]).annotate({ identifier: "TokenValue" })

/** A design token from a Figma style (one mode, `default`) or a variable (one value per mode name). */
export const DesignToken = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  type: Schema.Literals(["color", "paint", "number", "string", "boolean", "text", "effect"]),
  collection: Schema.String,
  description: opt(Schema.String),
  values: Schema.Record(Schema.String, TokenValue)
}).annotate({ identifier: "DesignToken" })
export type DesignToken = typeof DesignToken.Type

export const UuiDocument = Schema.Struct({
  schemaVersion: Schema.Literal(UUI_SCHEMA_VERSION),
  name: opt(Schema.String),
  roots: Schema.Array(Schema.Union([UuiPage, UuiNode])),
  tokens: Schema.Array(DesignToken)
}).annotate({ identifier: "UuiDocument" })
export type UuiDocument = typeof UuiDocument.Type
