import type { FigmaLocalVariables, FigmaNode, FigmaPaint, FigmaStyleMeta } from "../../../../domain/figma/FigmaInput.ts"
import type { DesignToken, TokenRefs } from "../../../../domain/figma/Uui.ts"
import { compact } from "../compact.ts"
import { lookup, type RecordStyle, type StyleSlot, type StyleValue, type Warn } from "./context.ts"
import { colorToHex } from "./paint.ts"

/*
 * Tokens: a node's references to styles and variables, and the document's design tokens built from the
 * file's styles (valued by the first node seen using each) and local variables (one value per mode).
 */

interface Usage {
  /** Nodes referencing the id (style) or binding it (variable). */
  count: number
  /** The converted value of the first node that had one. */
  value?: { readonly type: DesignToken["type"]; readonly value: StyleValue }
}

/**
 * The per-conversion record of token usage, filled while nodes are converted: how many nodes reference each
 * style and variable, and the value of the first node using it (a style's value, or a bound variable's
 * resolved colour, for exports that lack the style table or the variables).
 */
export interface TokenRecorder {
  readonly record: RecordStyle
  /** The node's token references; counts them as uses. */
  readonly refs: (node: FigmaNode) => TokenRefs | undefined
  readonly styles: ReadonlyMap<string, Usage>
  readonly variables: ReadonlyMap<string, Usage>
}

export const makeTokenRecorder = (): TokenRecorder => {
  const styles = new Map<string, Usage>()
  const variables = new Map<string, Usage>()
  const usage = (table: Map<string, Usage>, id: string): Usage => {
    const found = table.get(id)
    if (found !== undefined) return found
    const created: Usage = { count: 0 }
    table.set(id, created)
    return created
  }
  const record: RecordStyle = (node, slot, type, value) => {
    const styleId = styleIdOf(node, slot)
    if (styleId === undefined) return
    const used = usage(styles, styleId)
    if (used.value === undefined) used.value = { type, value }
  }
  const refs = (node: FigmaNode): TokenRefs | undefined => {
    const use = (id: string | undefined): string | undefined => {
      if (id !== undefined) usage(styles, id).count++
      return id === undefined ? undefined : `style:${id}`
    }
    const bound = (list: ReadonlyArray<FigmaPaint> | undefined): string | undefined => {
      const found = boundColorVariable(list)
      if (found === undefined) return undefined
      const used = usage(variables, found.id)
      used.count++
      if (used.value === undefined && found.color !== undefined) used.value = { type: "color", value: found.color }
      return `variable:${found.id}`
    }
    // A bound variable wins over a style in the same slot, but the style is still used by the node.
    const fillStyle = use(styleIdOf(node, "fill"))
    const strokeStyle = use(styleIdOf(node, "stroke"))
    const result = compact({
      fill: bound(node.fills) ?? fillStyle,
      stroke: bound(node.strokes) ?? strokeStyle,
      text: use(styleIdOf(node, "text")),
      effect: use(styleIdOf(node, "effect"))
    })
    return Object.keys(result).length > 0 ? result : undefined
  }
  return { record, refs, styles, variables }
}

const styleIdOf = (node: FigmaNode, slot: StyleSlot): string | undefined => {
  const styles = node.styles
  if (styles === undefined) return undefined
  return styles[slot] ?? styles[`${slot}s`]
}

const boundColorVariable = (list: ReadonlyArray<FigmaPaint> | undefined): { readonly id: string; readonly color?: string } | undefined => {
  for (const paint of list ?? []) {
    const id = paint.boundVariables?.color?.id
    if (id !== undefined) {
      return paint.color === undefined ? { id } : { id, color: colorToHex(paint.color, paint.opacity ?? 1) }
    }
  }
  return undefined
}

const STYLE_TYPES = { TEXT: "text", EFFECT: "effect" } as const

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`

/**
 * One token per style of the file's style table, plus one per style that nodes reference but the export does
 * not list (bare-node exports have no table): named by its id, valued from the first node using it.
 */
export const styleTokens = (
  styles: Readonly<Record<string, FigmaStyleMeta>>,
  usage: ReadonlyMap<string, Usage>,
  warn: Warn
): Array<DesignToken> => {
  const out: Array<DesignToken> = []
  for (const [styleId, meta] of Object.entries(styles)) {
    const used = usage.get(styleId)
    if (meta.styleType === "GRID") {
      warn(styleId, "style-grid", `grid style ${meta.name ?? styleId} not converted`)
      continue
    }
    if (used === undefined || used.count === 0) {
      warn(styleId, "style-unused", `style ${meta.name ?? styleId} is used by no converted node: token has no value`)
    } else if (used.value === undefined) {
      warn(styleId, "style-unvalued", `style ${meta.name ?? styleId} is used by ${count(used.count, "node")}, none with a convertible value: token has no value`)
    }
    out.push(compact({
      id: `style:${styleId}`,
      name: meta.name ?? styleId,
      type: used?.value?.type ?? lookup(STYLE_TYPES, meta.styleType) ?? "color",
      collection: "styles",
      description: meta.description !== undefined && meta.description !== "" ? meta.description : undefined,
      values: used?.value === undefined ? {} : { default: used.value.value }
    }))
  }
  for (const [styleId, used] of usage) {
    if (Object.hasOwn(styles, styleId) || used.count === 0) continue
    warn(styleId, "style-meta-missing",
      `style ${styleId} is used by ${count(used.count, "node")} but the export has no styles entry for it: token named by its id, valued from the first node using it`)
    out.push({
      id: `style:${styleId}`,
      name: styleId,
      type: used.value?.type ?? "color",
      collection: "styles",
      values: used.value === undefined ? {} : { default: used.value.value }
    })
  }
  return out
}

/** Tokens for variables bound to paints that the export's `variables` do not define: one mode, the resolved colour. */
export const missingVariableTokens = (
  variables: FigmaLocalVariables | undefined,
  usage: ReadonlyMap<string, Usage>,
  warn: Warn
): Array<DesignToken> => {
  const out: Array<DesignToken> = []
  for (const [variableId, used] of usage) {
    if (variables !== undefined && Object.hasOwn(variables.variables, variableId)) continue
    warn(variableId, "variable-missing",
      `variable ${variableId} is bound by ${count(used.count, "paint")} but the export has no variables entry for it: token named by its id, valued (mode "default") with the colour resolved in the first paint`)
    out.push({
      id: `variable:${variableId}`,
      name: variableId,
      type: "color",
      collection: "variables",
      values: used.value === undefined ? {} : { default: used.value.value }
    })
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
