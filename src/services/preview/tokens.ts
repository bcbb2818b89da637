/**
 * Design tokens for the preview: a table of the project's tokens (its themes, or the document's own theme)
 * and resolution of a node's token references to the values the renderer paints. A token's value is taken
 * in the `default` mode when it has one, else its first mode; aliases are followed (at most 16 hops).
 */
import type { BoxShadow, CogoTextStyle, Gradient } from "../../domain/figma/CogoUi.ts"
import type { DesignToken, Paint, Shadow, TextStyle } from "../../domain/figma/Uui.ts"

type TokenValue = DesignToken["values"][string]

export type TokenTable = ReadonlyMap<string, DesignToken>

export const tokenTable = (tokens: Iterable<DesignToken>): TokenTable => {
  const table = new Map<string, DesignToken>()
  for (const token of tokens) table.set(token.id, token)
  return table
}

const modeValue = (token: DesignToken): TokenValue | undefined => {
  const values = token.values
  if ("default" in values) return values["default"]
  const first = Object.keys(values)[0]
  return first === undefined ? undefined : values[first]
}

/** The literal value of a token id, following aliases; undefined when unknown or cyclic. */
export const resolveToken = (table: TokenTable, id: string | undefined): TokenValue | undefined => {
  let current = id
  for (let hop = 0; hop < 16 && current !== undefined; hop++) {
    const token = table.get(current)
    if (token === undefined) return undefined
    const value = modeValue(token)
    if (value !== null && typeof value === "object" && "alias" in value) {
      current = value.alias
      continue
    }
    return value
  }
  return undefined
}

/** A paint as the colour or gradient COGO UI JSON uses (images have no token form here). */
const paintFill = (paint: Paint): { readonly color?: string; readonly gradient?: Gradient } | undefined => {
  const colors = "stops" in paint ? paint.stops.map((s) => s.color) : []
  const stops = "stops" in paint ? paint.stops.map((s) => s.position) : []
  switch (paint.type) {
    case "solid":
      return { color: paint.color }
    case "linear":
      return { gradient: { type: "linear", colors, stops, begin: paint.begin, end: paint.end } }
    case "radial":
    case "diamond":
      return { gradient: { type: "radial", colors, stops, center: paint.center, radius: paint.radius } }
    case "angular":
      return { gradient: { type: "sweep", colors, stops, center: paint.center, startAngle: paint.startAngle } }
    case "image":
      return undefined
  }
}

/** A fill or stroke token: a colour string, or the top paint of a paint style. */
export const tokenFill = (table: TokenTable, id: string | undefined): { readonly color?: string; readonly gradient?: Gradient } | undefined => {
  const value = resolveToken(table, id)
  if (typeof value === "string") return /^#[0-9a-f]{8}$/.test(value) ? { color: value } : undefined
  if (value !== null && typeof value === "object" && "paints" in value) {
    const top = value.paints.filter((p) => p.type !== "image").at(-1)
    return top === undefined ? undefined : paintFill(top)
  }
  return undefined
}

const cogoTextStyle = (style: TextStyle): CogoTextStyle => {
  const { italic, decoration, ...rest } = style
  return {
    ...rest,
    ...(italic === undefined ? {} : { fontStyle: italic ? "italic" : "normal" }),
    ...(decoration === undefined ? {} : { decoration: decoration === "strikethrough" ? "lineThrough" : decoration })
  }
}

export const tokenTextStyle = (table: TokenTable, id: string | undefined): CogoTextStyle | undefined => {
  const value = resolveToken(table, id)
  return value !== null && typeof value === "object" && "textStyle" in value ? cogoTextStyle(value.textStyle) : undefined
}

const boxShadow = (shadow: Shadow): BoxShadow => ({
  color: shadow.color,
  offset: shadow.offset,
  blurRadius: shadow.blur,
  spreadRadius: shadow.spread,
  ...(shadow.type === "inner" ? { inset: true as const } : {})
})

export const tokenShadows = (table: TokenTable, id: string | undefined): ReadonlyArray<BoxShadow> | undefined => {
  const value = resolveToken(table, id)
  return value !== null && typeof value === "object" && "shadows" in value ? value.shadows.map(boxShadow) : undefined
}
