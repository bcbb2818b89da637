import type { FigmaLocalVariables, FigmaNode, FigmaPaint, FigmaStyleMeta } from "../../../../domain/figma/FigmaInput.ts"
import type { DesignToken, TokenRefs } from "../../../../domain/figma/Uui.ts"
import { compact } from "../compact.ts"
import { lookup, type RecordStyle, type StyleSlot, type StyleValue, type Warn } from "./context.ts"
import { colorToHex } from "./paint.ts"

/*
 * Tokens: a node's references to styles and variables, and the document's design tokens built from the
 * file's styles (valued by the first node seen using each) and local variables (one value per mode).
 */

type StyleValues = ReadonlyMap<string, { readonly type: DesignToken["type"]; readonly value: StyleValue }>

/** The per-conversion record of style values, filled while nodes are converted and read by `styleTokens`. */
export const makeStyleRecorder = (): { readonly record: RecordStyle; readonly values: StyleValues } => {
  const values = new Map<string, { readonly type: DesignToken["type"]; readonly value: StyleValue }>()
  const record: RecordStyle = (node, slot, type, value) => {
    const styleId = styleIdOf(node, slot)
    if (styleId !== undefined && !values.has(styleId)) values.set(styleId, { type, value })
  }
  return { record, values }
}

export const tokensOf = (node: FigmaNode): TokenRefs | undefined => {
  const refs = compact({
    fill: boundColorVariable(node.fills) ?? styleToken(node, "fill"),
    stroke: boundColorVariable(node.strokes) ?? styleToken(node, "stroke"),
    text: styleToken(node, "text"),
    effect: styleToken(node, "effect")
  })
  return Object.keys(refs).length > 0 ? refs : undefined
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

export const styleTokens = (
  styles: Readonly<Record<string, FigmaStyleMeta>>,
  values: StyleValues,
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

export const variableTokens = (variables: FigmaLocalVariables, warn: Warn): Array<DesignToken> => {
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
