import type { ConversionWarning } from "../../../domain/figma/ConversionWarning.ts"
import type { FigmaNode } from "../../../domain/figma/FigmaInput.ts"
import {
  type UuiContainer, type UuiDocument, type UuiNode, type UuiPage, type UuiRoot, UUI_SCHEMA_VERSION
} from "../../../domain/figma/Uui.ts"
import { compact } from "./compact.ts"
import { commonFields, warnUnsupportedNodeFeatures } from "./figmaToUui/common.ts"
import { containerOfKind } from "./figmaToUui/components.ts"
import {
  type ConversionContext, type Converted, EPSILON, type FigmaSource, type ParentContext, ROOT, type Warn
} from "./figmaToUui/context.ts"
import { boxOf, layoutOf, paddingOf } from "./figmaToUui/layout.ts"
import { colorToHex, fillsOf, radiusOf, strokeOf } from "./figmaToUui/paint.ts"
import { convertShape, convertVector } from "./figmaToUui/shapes.ts"
import { convertText } from "./figmaToUui/text.ts"
import { makeTokenRecorder, missingVariableTokens, styleTokens, variableTokens } from "./figmaToUui/tokens.ts"

/*
 * The Figma -> UUI walker: dispatches each node to its part (figmaToUui/: layout, paint, text, shapes,
 * components, tokens) and assembles pages, containers and the document. Order of calls is part of the
 * output (warnings are listed in the order they are raised; the first node using a style values its token).
 */

export type { Converted, FigmaSource } from "./figmaToUui/context.ts"

const CONTAINER_TYPES = new Set(["FRAME", "GROUP", "SECTION", "COMPONENT", "COMPONENT_SET", "INSTANCE"])
const VECTOR_TYPES = new Set(["VECTOR", "BOOLEAN_OPERATION", "STAR", "LINE", "REGULAR_POLYGON"])

const isMarkedScreen = (node: FigmaNode): boolean => {
  const cogo = node.sharedPluginData?.["cogo"]
  return typeof cogo === "object" && cogo !== null && "screen" in cogo && cogo.screen === "true"
}

/** Converts one Figma source into a UUI document. Total: unknown or malformed features become warnings. */
export const figmaToUui = (source: FigmaSource): Converted<UuiDocument> => {
  const warnings: Array<ConversionWarning> = []
  const warn: Warn = (nodeId, feature, action) => { warnings.push({ nodeId, feature, action }) }
  const tokens = makeTokenRecorder()
  const context: ConversionContext = { source, warn, recordStyle: tokens.record, tokenRefs: tokens.refs }

  const convertContainer = (node: FigmaNode, parent: ParentContext): UuiContainer => {
    const layout = layoutOf(node, warn)
    const childParent: ParentContext = {
      layout: layout.mode === "wrap" ? "wrap" : layout.mode,
      box: boxOf(node),
      isComponentSet: node.type === "COMPONENT_SET",
      ...(node.type === "GROUP" ? { group: true as const } : {})
    }
    const base = compact({
      ...commonFields(node, parent, context),
      fills: fillsOf(node, context),
      stroke: strokeOf(node, "inside", context),
      radius: radiusOf(node, warn),
      layout,
      padding: paddingOf(node),
      clip: node.clipsContent === true ? (true as const) : undefined,
      screen: isMarkedScreen(node) ? (true as const) : undefined,
      children: convertChildren(node, childParent)
    })
    return containerOfKind(node, parent, base, context)
  }

  const convertNode = (node: FigmaNode, parent: ParentContext): UuiNode | undefined => {
    const type = node.type
    if (CONTAINER_TYPES.has(type)) return convertContainer(node, parent)
    if (type === "TEXT") return convertText(node, parent, context)
    if (type === "RECTANGLE") return convertShape(node, parent, "rectangle", context)
    if (type === "ELLIPSE") {
      const arc = node.arcData
      const fullEllipse = arc === undefined ||
        (Math.abs(arc.innerRadius) < EPSILON && Math.abs(Math.abs(arc.endingAngle - arc.startingAngle) - 2 * Math.PI) < 1e-3)
      if (fullEllipse) return convertShape(node, parent, "ellipse", context)
      if (node.fillGeometry !== undefined) return convertVector(node, parent, context)
      warn(node.id, "ellipse-arc", "arc/donut without geometry approximated as a full ellipse")
      return convertShape(node, parent, "ellipse", context)
    }
    if (VECTOR_TYPES.has(type)) return convertVector(node, parent, context)
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

  const convertChildren = (node: FigmaNode, parent: ParentContext): Array<UuiNode> => {
    const out: Array<UuiNode> = []
    for (const child of node.children ?? []) {
      if (child.isMask === true) warn(child.id, "mask", "mask layer kept as a normal layer; masking not applied")
      const converted = convertNode(child, parent)
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
  const designTokens = [
    ...styleTokens(source.styles, tokens.styles, warn),
    ...(source.variables === undefined ? [] : variableTokens(source.variables, warn)),
    ...missingVariableTokens(source.variables, tokens.variables, warn)
  ]
  return {
    value: { schemaVersion: UUI_SCHEMA_VERSION, ...compact({ name: source.name }), roots, tokens: designTokens },
    warnings
  }
}
