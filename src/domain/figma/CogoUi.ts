import { Schema } from "effect"
import { Color, Constraints, DesignToken, PropertyDefinitions, Override, Radius, Sides, TokenRefs, Vec2, VectorPath } from "./Uui.ts"

/*
 * COGO UI JSON (schema version 1): the Flutter-oriented widget tree rendered by the IDE and the Starter.
 * Widgets are tagged by `type` with Flutter's names and (mostly) Flutter's property names. Alignments are
 * Flutter `Alignment(x, y)` values (-1..1). Colours are `#rrggbbaa`. Where Flutter has no property for a
 * design feature that the tree still carries (dash patterns, inner shadows, `textCase`, line heights in px,
 * gradient radii per axis), the renderer implements it; the fields are named after what they mean.
 *
 * Node boundaries: the outermost widget emitted for a UUI node carries its `id` (and `name`); widgets
 * without an `id` wrapping a core widget belong to the same node.
 */

const Num = Schema.Finite
const opt = Schema.optionalKey

export const COGO_SCHEMA_VERSION = 1

const identity = { id: opt(Schema.String), name: opt(Schema.String) }

/** `"infinity"` is Flutter's `double.infinity`: fill the parent on that axis. */
export const Extent = Schema.Union([Num, Schema.Literal("infinity")])
export type Extent = typeof Extent.Type

export const BoxConstraints = Schema.Struct({
  minWidth: opt(Num), maxWidth: opt(Num), minHeight: opt(Num), maxHeight: opt(Num)
}).annotate({ identifier: "BoxConstraints" })

const gradientColors = { colors: Schema.Array(Color), stops: Schema.Array(Num) }
export const Gradient = Schema.Union([
  Schema.Struct({ type: Schema.Literal("linear"), ...gradientColors, begin: Vec2, end: Vec2 }),
  /** `radius`: per axis, fraction of width / height (renderer: RadialGradient + GradientTransform). */
  Schema.Struct({ type: Schema.Literal("radial"), ...gradientColors, center: Vec2, radius: Vec2 }),
  Schema.Struct({ type: Schema.Literal("sweep"), ...gradientColors, center: Vec2, startAngle: Num })
]).annotate({ identifier: "Gradient" })
export type Gradient = typeof Gradient.Type

export const DecorationImage = Schema.Struct({
  imageRef: Schema.String,
  fit: Schema.Literals(["cover", "contain", "fill", "none"]),
  repeat: opt(Schema.Literal(true)),
  opacity: opt(Num),
  scale: opt(Num)
}).annotate({ identifier: "DecorationImage" })
export type DecorationImage = typeof DecorationImage.Type

export const Border = Schema.Struct({
  color: Color,
  width: Schema.Union([Num, Sides]),
  strokeAlign: Schema.Literals(["inside", "center", "outside"]),
  dashPattern: opt(Schema.Array(Num))
}).annotate({ identifier: "Border" })
export type Border = typeof Border.Type

export const BoxShadow = Schema.Struct({
  color: Color,
  offset: Vec2,
  blurRadius: Num,
  spreadRadius: Num,
  inset: opt(Schema.Literal(true))
}).annotate({ identifier: "BoxShadow" })
export type BoxShadow = typeof BoxShadow.Type

export const BoxDecoration = Schema.Struct({
  color: opt(Color),
  gradient: opt(Gradient),
  image: opt(DecorationImage),
  border: opt(Border),
  borderRadius: opt(Radius),
  boxShadow: opt(Schema.Array(BoxShadow)),
  shape: opt(Schema.Literal("ellipse"))
}).annotate({ identifier: "BoxDecoration" })
export type BoxDecoration = typeof BoxDecoration.Type

/** Flutter's BlendMode names (`plus` is Figma LINEAR_DODGE). */
export const CogoBlendMode = Schema.Literals([
  "darken", "multiply", "colorBurn", "lighten", "screen", "plus", "colorDodge", "overlay", "softLight",
  "hardLight", "difference", "exclusion", "hue", "saturation", "color", "luminosity"
]).annotate({ identifier: "CogoBlendMode" })
export type CogoBlendMode = typeof CogoBlendMode.Type

export const CogoTextStyle = Schema.Struct({
  fontFamily: opt(Schema.String),
  fontWeight: opt(Num),
  fontSize: opt(Num),
  fontStyle: opt(Schema.Literals(["normal", "italic"])),
  lineHeight: opt(Schema.Union([
    Schema.Struct({ unit: Schema.Literal("px"), value: Num }),
    Schema.Struct({ unit: Schema.Literal("percent"), value: Num })
  ])),
  letterSpacing: opt(Num),
  decoration: opt(Schema.Literals(["none", "underline", "lineThrough"])),
  textCase: opt(Schema.Literals(["original", "upper", "lower", "title", "smallCaps"])),
  color: opt(Color),
  shadows: opt(Schema.Array(BoxShadow))
}).annotate({ identifier: "CogoTextStyle" })
export type CogoTextStyle = typeof CogoTextStyle.Type

const textFields = {
  textAlign: opt(Schema.Literals(["left", "center", "right", "justify"])),
  textAlignVertical: opt(Schema.Literals(["top", "center", "bottom"])),
  maxLines: opt(Num),
  overflow: opt(Schema.Literal("ellipsis")),
  blendMode: opt(CogoBlendMode),
  theme: opt(TokenRefs)
}

export const CogoText = Schema.Struct({
  ...identity, ...textFields, type: Schema.Literal("Text"), data: Schema.String, style: opt(CogoTextStyle)
}).annotate({ identifier: "Text" })
export type CogoText = typeof CogoText.Type

export const CogoRichText = Schema.Struct({
  ...identity,
  ...textFields,
  type: Schema.Literal("RichText"),
  text: Schema.Struct({
    style: opt(CogoTextStyle),
    children: Schema.Array(Schema.Struct({ text: Schema.String, style: opt(CogoTextStyle) }))
  })
}).annotate({ identifier: "RichText" })
export type CogoRichText = typeof CogoRichText.Type

export const CogoImage = Schema.Struct({
  ...identity,
  ...DecorationImage.fields,
  type: Schema.Literal("Image"),
  blendMode: opt(CogoBlendMode),
  theme: opt(TokenRefs)
}).annotate({ identifier: "Image" })
export type CogoImage = typeof CogoImage.Type

export const CogoSvgPicture = Schema.Struct({
  ...identity,
  type: Schema.Literal("SvgPicture"),
  paths: Schema.Array(VectorPath),
  color: opt(Color),
  gradient: opt(Gradient),
  /** An image fill clipped to the fill paths, painted above `color` / `gradient`. */
  image: opt(DecorationImage),
  stroke: opt(Border),
  blendMode: opt(CogoBlendMode),
  theme: opt(TokenRefs)
}).annotate({ identifier: "SvgPicture" })
export type CogoSvgPicture = typeof CogoSvgPicture.Type

const positionedFields = { ...identity, type: Schema.Literal("Positioned"), left: Num, top: Num, constraints: opt(Constraints) }
const expandedFields = { ...identity, type: Schema.Literal("Expanded"), flex: opt(Num) }
const flexibleFields = { ...identity, type: Schema.Literal("Flexible"), flex: opt(Num) }
const symbolDefinitionFields = {
  ...identity,
  type: Schema.Literal("SymbolDefinition"),
  symbolId: Schema.String,
  key: opt(Schema.String),
  description: opt(Schema.String),
  variant: opt(Schema.Record(Schema.String, Schema.String)),
  propertyDefinitions: opt(PropertyDefinitions)
}
const symbolSetFields = {
  ...identity,
  type: Schema.Literal("SymbolSet"),
  symbolId: Schema.String,
  description: opt(Schema.String),
  propertyDefinitions: opt(PropertyDefinitions)
}
/** A component instance: a reference to the symbol plus the instance's resolved tree in `child`. */
const symbolInstanceFields = {
  ...identity,
  type: Schema.Literal("SymbolInstance"),
  symbolId: Schema.String,
  properties: opt(Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Boolean]))),
  overrides: opt(Schema.Array(Override))
}
const screenFields = { ...identity, type: Schema.Literal("Screen") }
const visibilityFields = { ...identity, type: Schema.Literal("Visibility"), visible: Schema.Boolean }
const opacityFields = { ...identity, type: Schema.Literal("Opacity"), opacity: Num }
/**
 * About the centre: mirror first (`flipX` about the vertical centre line, `flipY` about the horizontal one), then
 * rotate by `angle` radians clockwise (Flutter `Transform` with `Matrix4.rotationZ(angle) * diag(-1|1, -1|1)`).
 */
const transformFields = {
  ...identity,
  type: Schema.Literal("Transform"),
  angle: opt(Num),
  flipX: opt(Schema.Literal(true)),
  flipY: opt(Schema.Literal(true))
}
const imageFilteredFields = { ...identity, type: Schema.Literal("ImageFiltered"), blur: Num }
const backdropFilterFields = { ...identity, type: Schema.Literal("BackdropFilter"), blur: Num }
const clipRRectFields = { ...identity, type: Schema.Literal("ClipRRect"), borderRadius: opt(Radius) }
const paddingFields = { ...identity, type: Schema.Literal("Padding"), padding: Sides }
const alignFields = { ...identity, type: Schema.Literal("Align"), alignment: Vec2 }
const sizedBoxFields = { ...identity, type: Schema.Literal("SizedBox"), width: opt(Extent), height: opt(Extent) }
const containerFields = {
  ...identity,
  type: Schema.Literal("Container"),
  width: opt(Extent),
  height: opt(Extent),
  constraints: opt(BoxConstraints),
  padding: opt(Sides),
  alignment: opt(Vec2),
  decoration: opt(BoxDecoration),
  blendMode: opt(CogoBlendMode),
  theme: opt(TokenRefs)
}
const flexFields = {
  ...identity,
  mainAxisAlignment: opt(Schema.Literals(["start", "center", "end", "spaceBetween"])),
  crossAxisAlignment: opt(Schema.Literals(["start", "center", "end", "baseline"])),
  spacing: opt(Num)
}
const columnFields = { ...flexFields, type: Schema.Literal("Column") }
const rowFields = { ...flexFields, type: Schema.Literal("Row") }
const wrapFields = {
  ...identity,
  type: Schema.Literal("Wrap"),
  spacing: opt(Num),
  runSpacing: opt(Num),
  alignment: opt(Schema.Literals(["start", "center", "end", "spaceBetween"])),
  runAlignment: opt(Schema.Literals(["start", "spaceBetween"])),
  crossAxisAlignment: opt(Schema.Literals(["start", "center", "end"]))
}
const stackFields = { ...identity, type: Schema.Literal("Stack") }
/** A Figma page: a canvas of positioned top-level frames. Not a Flutter widget; the IDE lists it. */
const pageFields = { ...identity, type: Schema.Literal("Page"), backgroundColor: opt(Color) }

type Single<F extends Schema.Struct.Fields> = Schema.Struct.Type<F> & { readonly child: CogoWidget }
type Optional<F extends Schema.Struct.Fields> = Schema.Struct.Type<F> & { readonly child?: CogoWidget }
type Multi<F extends Schema.Struct.Fields> = Schema.Struct.Type<F> & { readonly children: ReadonlyArray<CogoWidget> }

export type CogoPositioned = Single<typeof positionedFields>
export type CogoExpanded = Single<typeof expandedFields>
export type CogoFlexible = Single<typeof flexibleFields>
export type CogoSymbolDefinition = Single<typeof symbolDefinitionFields>
export type CogoSymbolSet = Single<typeof symbolSetFields>
export type CogoSymbolInstance = Single<typeof symbolInstanceFields>
export type CogoScreen = Single<typeof screenFields>
export type CogoVisibility = Single<typeof visibilityFields>
export type CogoOpacity = Single<typeof opacityFields>
export type CogoTransform = Single<typeof transformFields>
export type CogoImageFiltered = Single<typeof imageFilteredFields>
export type CogoBackdropFilter = Single<typeof backdropFilterFields>
export type CogoClipRRect = Single<typeof clipRRectFields>
export type CogoPadding = Single<typeof paddingFields>
export type CogoAlign = Single<typeof alignFields>
export type CogoSizedBox = Optional<typeof sizedBoxFields>
export type CogoContainer = Optional<typeof containerFields>
export type CogoColumn = Multi<typeof columnFields>
export type CogoRow = Multi<typeof rowFields>
export type CogoWrap = Multi<typeof wrapFields>
export type CogoStack = Multi<typeof stackFields>
export type CogoPage = Multi<typeof pageFields>

export type CogoWidget =
  | CogoPositioned | CogoExpanded | CogoFlexible | CogoSymbolDefinition | CogoSymbolSet | CogoSymbolInstance
  | CogoScreen | CogoVisibility | CogoOpacity | CogoTransform | CogoImageFiltered | CogoBackdropFilter
  | CogoClipRRect | CogoPadding | CogoAlign | CogoSizedBox | CogoContainer | CogoColumn | CogoRow | CogoWrap
  | CogoStack | CogoPage | CogoText | CogoRichText | CogoImage | CogoSvgPicture

const child = Schema.suspend((): Schema.Codec<CogoWidget> => CogoWidget)
const children = Schema.Array(child)

const single = <F extends Schema.Struct.Fields>(fields: F, identifier: string) =>
  Schema.Struct({ ...fields, child }).annotate({ identifier })
const optional = <F extends Schema.Struct.Fields>(fields: F, identifier: string) =>
  Schema.Struct({ ...fields, child: opt(child) }).annotate({ identifier })
const multi = <F extends Schema.Struct.Fields>(fields: F, identifier: string) =>
  Schema.Struct({ ...fields, children }).annotate({ identifier })

export const CogoWidget: Schema.Codec<CogoWidget> = Schema.Union([
  single(positionedFields, "Positioned"),
  single(expandedFields, "Expanded"),
  single(flexibleFields, "Flexible"),
  single(symbolDefinitionFields, "SymbolDefinition"),
  single(symbolSetFields, "SymbolSet"),
  single(symbolInstanceFields, "SymbolInstance"),
  single(screenFields, "Screen"),
  single(visibilityFields, "Visibility"),
  single(opacityFields, "Opacity"),
  single(transformFields, "Transform"),
  single(imageFilteredFields, "ImageFiltered"),
  single(backdropFilterFields, "BackdropFilter"),
  single(clipRRectFields, "ClipRRect"),
  single(paddingFields, "Padding"),
  single(alignFields, "Align"),
  optional(sizedBoxFields, "SizedBox"),
  optional(containerFields, "Container"),
  multi(columnFields, "Column"),
  multi(rowFields, "Row"),
  multi(wrapFields, "Wrap"),
  multi(stackFields, "Stack"),
  multi(pageFields, "Page"),
  CogoText,
  CogoRichText,
  CogoImage,
  CogoSvgPicture
]).annotate({ identifier: "CogoWidget" })

export const CogoDocument = Schema.Struct({
  schemaVersion: Schema.Literal(COGO_SCHEMA_VERSION),
  name: opt(Schema.String),
  roots: Schema.Array(CogoWidget),
  theme: Schema.Struct({ tokens: Schema.Array(DesignToken) })
}).annotate({ identifier: "CogoDocument" })
export type CogoDocument = typeof CogoDocument.Type
