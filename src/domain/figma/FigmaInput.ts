import { Schema } from "effect"

/*
 * Figma input, decoded leniently where Figma is lenient (types follow @figma/rest-api-spec 0.43):
 * - unknown fields are ignored (Effect structs drop excess keys by default);
 * - every field except a node's `id` and `type` is optional, so exports from older schema eras
 *   (no layoutSizing*, componentProperties, boundVariables, ...) still decode;
 * - enum-like fields are plain strings: Figma adds values (node types, paint types, effects) over time and
 *   the converter warns about the ones it does not know instead of rejecting the whole file;
 * - a field that is present with the wrong JSON type (a string where a number belongs) is a decode
 *   failure that names its path.
 */

const Num = Schema.Finite
const opt = Schema.optionalKey

export const FigmaColor = Schema.Struct({ r: Num, g: Num, b: Num, a: opt(Num) }).annotate({ identifier: "FigmaColor" })
export type FigmaColor = typeof FigmaColor.Type

export const FigmaVector = Schema.Struct({ x: Num, y: Num }).annotate({ identifier: "FigmaVector" })
export type FigmaVector = typeof FigmaVector.Type

export const FigmaRectangle = Schema.Struct({ x: Num, y: Num, width: Num, height: Num })
  .annotate({ identifier: "FigmaRectangle" })

export const FigmaVariableAlias = Schema.Struct({ type: opt(Schema.String), id: Schema.String })
  .annotate({ identifier: "FigmaVariableAlias" })

const ColorBinding = Schema.Struct({ color: opt(FigmaVariableAlias) })

export const FigmaColorStop = Schema.Struct({ position: Num, color: FigmaColor, boundVariables: opt(ColorBinding) })

/** SOLID, GRADIENT_*, IMAGE, PATTERN, ... in one lenient struct; `type` selects the meaningful fields. */
export const FigmaPaint = Schema.Struct({
  type: Schema.String,
  visible: opt(Schema.Boolean),
  opacity: opt(Num),
  blendMode: opt(Schema.String),
  color: opt(FigmaColor),
  boundVariables: opt(ColorBinding),
  gradientHandlePositions: opt(Schema.Array(FigmaVector)),
  gradientStops: opt(Schema.Array(FigmaColorStop)),
  scaleMode: opt(Schema.String),
  imageRef: opt(Schema.NullOr(Schema.String)),
  imageTransform: opt(Schema.Array(Schema.Array(Num))),
  scalingFactor: opt(Num),
  rotation: opt(Num),
  filters: opt(Schema.Record(Schema.String, Num)),
  gifRef: opt(Schema.NullOr(Schema.String))
}).annotate({ identifier: "FigmaPaint" })
export type FigmaPaint = typeof FigmaPaint.Type

/** DROP_SHADOW, INNER_SHADOW, LAYER_BLUR, BACKGROUND_BLUR, TEXTURE, NOISE, ... */
export const FigmaEffect = Schema.Struct({
  type: opt(Schema.String), // INNER_SHADOW omits `type` in some exports (it is optional in the spec)
  visible: opt(Schema.Boolean),
  color: opt(FigmaColor),
  blendMode: opt(Schema.String),
  offset: opt(FigmaVector),
  radius: opt(Num),
  spread: opt(Num),
  showShadowBehindNode: opt(Schema.Boolean),
  blurType: opt(Schema.String)
}).annotate({ identifier: "FigmaEffect" })
export type FigmaEffect = typeof FigmaEffect.Type

export const FigmaHyperlink = Schema.Struct({ type: opt(Schema.String), url: opt(Schema.String), nodeID: opt(Schema.String) })

export const FigmaTypeStyle = Schema.Struct({
  fontFamily: opt(Schema.String),
  fontPostScriptName: opt(Schema.NullOr(Schema.String)),
  fontStyle: opt(Schema.String),
  italic: opt(Schema.Boolean),
  fontWeight: opt(Num),
  fontSize: opt(Num),
  textCase: opt(Schema.String),
  textAlignHorizontal: opt(Schema.String),
  textAlignVertical: opt(Schema.String),
  letterSpacing: opt(Num),
  fills: opt(Schema.Array(FigmaPaint)),
  hyperlink: opt(FigmaHyperlink),
  opentypeFlags: opt(Schema.Record(Schema.String, Num)),
  paragraphSpacing: opt(Num),
  paragraphIndent: opt(Num),
  listSpacing: opt(Num),
  textDecoration: opt(Schema.String),
  textAutoResize: opt(Schema.String),
  textTruncation: opt(Schema.String),
  maxLines: opt(Schema.NullOr(Num)),
  lineHeightPx: opt(Num),
  lineHeightPercent: opt(Num),
  lineHeightPercentFontSize: opt(Num),
  lineHeightUnit: opt(Schema.String)
}).annotate({ identifier: "FigmaTypeStyle" })
export type FigmaTypeStyle = typeof FigmaTypeStyle.Type

export const FigmaPath = Schema.Struct({ path: Schema.String, windingRule: opt(Schema.String), overrideID: opt(Num) })
export type FigmaPath = typeof FigmaPath.Type

export const FigmaComponentProperty = Schema.Struct({
  type: Schema.String,
  value: Schema.Union([Schema.String, Schema.Boolean])
})

export const FigmaComponentPropertyDefinition = Schema.Struct({
  type: Schema.String,
  defaultValue: opt(Schema.Union([Schema.String, Schema.Boolean])),
  variantOptions: opt(Schema.Array(Schema.String))
})

const StrokeWeights = Schema.Struct({ top: Num, right: Num, bottom: Num, left: Num })

const nodeFields = {
  id: Schema.String,
  type: Schema.String,
  name: opt(Schema.String),
  visible: opt(Schema.Boolean),
  locked: opt(Schema.Boolean),
  rotation: opt(Num),
  opacity: opt(Num),
  blendMode: opt(Schema.String),
  isMask: opt(Schema.Boolean),
  absoluteBoundingBox: opt(Schema.NullOr(FigmaRectangle)),
  size: opt(FigmaVector),
  relativeTransform: opt(Schema.Array(Schema.Array(Num))),
  constraints: opt(Schema.Struct({ horizontal: opt(Schema.String), vertical: opt(Schema.String) })),
  layoutAlign: opt(Schema.String),
  layoutGrow: opt(Num),
  layoutPositioning: opt(Schema.String),
  layoutSizingHorizontal: opt(Schema.String),
  layoutSizingVertical: opt(Schema.String),
  minWidth: opt(Schema.NullOr(Num)),
  maxWidth: opt(Schema.NullOr(Num)),
  minHeight: opt(Schema.NullOr(Num)),
  maxHeight: opt(Schema.NullOr(Num)),
  layoutMode: opt(Schema.String),
  layoutWrap: opt(Schema.String),
  primaryAxisSizingMode: opt(Schema.String),
  counterAxisSizingMode: opt(Schema.String),
  primaryAxisAlignItems: opt(Schema.String),
  counterAxisAlignItems: opt(Schema.String),
  counterAxisAlignContent: opt(Schema.String),
  paddingLeft: opt(Num),
  paddingRight: opt(Num),
  paddingTop: opt(Num),
  paddingBottom: opt(Num),
  itemSpacing: opt(Num),
  counterAxisSpacing: opt(Num),
  itemReverseZIndex: opt(Schema.Boolean),
  strokesIncludedInLayout: opt(Schema.Boolean),
  clipsContent: opt(Schema.Boolean),
  fills: opt(Schema.Array(FigmaPaint)),
  strokes: opt(Schema.Array(FigmaPaint)),
  strokeWeight: opt(Num),
  individualStrokeWeights: opt(StrokeWeights),
  strokeAlign: opt(Schema.String),
  strokeDashes: opt(Schema.Array(Num)),
  strokeCap: opt(Schema.String),
  strokeJoin: opt(Schema.String),
  cornerRadius: opt(Num),
  cornerSmoothing: opt(Num),
  rectangleCornerRadii: opt(Schema.Array(Num)),
  effects: opt(Schema.Array(FigmaEffect)),
  styles: opt(Schema.Record(Schema.String, Schema.String)),
  fillGeometry: opt(Schema.Array(FigmaPath)),
  strokeGeometry: opt(Schema.Array(FigmaPath)),
  arcData: opt(Schema.Struct({ startingAngle: Num, endingAngle: Num, innerRadius: Num })),
  /** STAR / REGULAR_POLYGON (plugin API names; REST sends them only via plugins): point count, inner radius ratio. */
  pointCount: opt(Num),
  innerRadius: opt(Num),
  booleanOperation: opt(Schema.String),
  backgroundColor: opt(FigmaColor),
  characters: opt(Schema.String),
  style: opt(FigmaTypeStyle),
  characterStyleOverrides: opt(Schema.Array(Num)),
  styleOverrideTable: opt(Schema.Record(Schema.String, FigmaTypeStyle)),
  lineTypes: opt(Schema.Array(Schema.String)),
  componentId: opt(Schema.String),
  componentProperties: opt(Schema.Record(Schema.String, FigmaComponentProperty)),
  componentPropertyDefinitions: opt(Schema.Record(Schema.String, FigmaComponentPropertyDefinition)),
  overrides: opt(Schema.Array(Schema.Struct({ id: Schema.String, overriddenFields: Schema.Array(Schema.String) }))),
  layoutGrids: opt(Schema.Array(Schema.Unknown)),
  reactions: opt(Schema.Array(Schema.Unknown)),
  exportSettings: opt(Schema.Array(Schema.Unknown)),
  // `{ [namespace]: { [key]: string } }`; cogo reads `sharedPluginData.cogo.screen === "true"` (see docs).
  sharedPluginData: opt(Schema.Record(Schema.String, Schema.Unknown))
}

export interface FigmaNode extends Schema.Struct.Type<typeof nodeFields> {
  readonly children?: ReadonlyArray<FigmaNode>
}

export const FigmaNode: Schema.Codec<FigmaNode> = Schema.Struct({
  ...nodeFields,
  children: opt(Schema.Array(Schema.suspend((): Schema.Codec<FigmaNode> => FigmaNode)))
}).annotate({ identifier: "FigmaNode" })

export const FigmaComponentMeta = Schema.Struct({
  key: opt(Schema.String),
  name: opt(Schema.String),
  description: opt(Schema.String),
  componentSetId: opt(Schema.String)
}).annotate({ identifier: "FigmaComponentMeta" })

export const FigmaStyleMeta = Schema.Struct({
  key: opt(Schema.String),
  name: opt(Schema.String),
  description: opt(Schema.String),
  styleType: opt(Schema.String)
}).annotate({ identifier: "FigmaStyleMeta" })
export type FigmaStyleMeta = typeof FigmaStyleMeta.Type

/** Values a variable takes in one mode: a literal, a colour or an alias to another variable. */
export const FigmaVariableValue = Schema.Union([Schema.Boolean, Num, Schema.String, FigmaColor, FigmaVariableAlias])

export const FigmaVariable = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  variableCollectionId: opt(Schema.String),
  resolvedType: Schema.String,
  description: opt(Schema.String),
  valuesByMode: Schema.Record(Schema.String, FigmaVariableValue)
}).annotate({ identifier: "FigmaVariable" })
export type FigmaVariable = typeof FigmaVariable.Type

export const FigmaVariableCollection = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  modes: Schema.Array(Schema.Struct({ modeId: Schema.String, name: Schema.String })),
  defaultModeId: opt(Schema.String)
}).annotate({ identifier: "FigmaVariableCollection" })
export type FigmaVariableCollection = typeof FigmaVariableCollection.Type

/**
 * The `meta` of `GET /v1/files/:key/variables/local`. Not part of the file response: the cogo plugin
 * (or a caller that fetched both) may attach it as a top-level `variables` field of any container shape.
 */
export const FigmaLocalVariables = Schema.Struct({
  variables: Schema.Record(Schema.String, FigmaVariable),
  variableCollections: Schema.Record(Schema.String, FigmaVariableCollection)
}).annotate({ identifier: "FigmaLocalVariables" })
export type FigmaLocalVariables = typeof FigmaLocalVariables.Type

const libraryFields = {
  components: opt(Schema.Record(Schema.String, FigmaComponentMeta)),
  componentSets: opt(Schema.Record(Schema.String, FigmaComponentMeta)),
  styles: opt(Schema.Record(Schema.String, FigmaStyleMeta)),
  schemaVersion: opt(Num),
  variables: opt(FigmaLocalVariables)
}

/** `GET /v1/files/:key` */
export const FigmaFileResponse = Schema.Struct({
  name: opt(Schema.String),
  lastModified: opt(Schema.String),
  version: opt(Schema.String),
  editorType: opt(Schema.String),
  document: FigmaNode,
  ...libraryFields
}).annotate({ identifier: "FigmaFileResponse" })
export type FigmaFileResponse = typeof FigmaFileResponse.Type

/** One entry of a nodes response, and also what the plugin's `exportAsync({ format: "JSON_REST_V1" })` returns. */
export const FigmaNodeEntry = Schema.Struct({ document: FigmaNode, ...libraryFields })
  .annotate({ identifier: "FigmaNodeEntry" })
export type FigmaNodeEntry = typeof FigmaNodeEntry.Type

/** `GET /v1/files/:key/nodes?ids=...`; an id Figma could not find maps to `null`. */
export const FigmaNodesResponse = Schema.Struct({
  name: opt(Schema.String),
  lastModified: opt(Schema.String),
  version: opt(Schema.String),
  nodes: Schema.Record(Schema.String, Schema.NullOr(FigmaNodeEntry)),
  variables: opt(FigmaLocalVariables)
}).annotate({ identifier: "FigmaNodesResponse" })
export type FigmaNodesResponse = typeof FigmaNodesResponse.Type

/** Every shape a user may send; `detectFigmaShape` picks the member before decoding so errors name real paths. */
export const FigmaInput = Schema.Union([FigmaFileResponse, FigmaNodesResponse, FigmaNodeEntry, FigmaNode])
  .annotate({ identifier: "FigmaInput" })

export type FigmaInputShape = "file" | "nodes" | "pluginExport" | "node"

const isRecord = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** A file response carries file metadata beside `document`; the plugin export has `document` only. */
export const detectFigmaShape = (input: unknown): FigmaInputShape | undefined => {
  if (!isRecord(input)) return undefined
  if ("nodes" in input) return "nodes"
  if ("document" in input) {
    return "lastModified" in input || "version" in input || "editorType" in input ? "file" : "pluginExport"
  }
  if ("id" in input && "type" in input) return "node"
  return undefined
}
