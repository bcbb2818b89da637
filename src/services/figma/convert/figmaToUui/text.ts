import type { FigmaNode, FigmaPaint, FigmaTypeStyle } from "../../../../domain/figma/FigmaInput.ts"
import type { TextSpan, TextStyle, UuiText } from "../../../../domain/figma/Uui.ts"
import { compact } from "../compact.ts"
import { commonFields } from "./common.ts"
import { type ConversionContext, lookup, type ParentContext, type Warn } from "./context.ts"
import { paintColor, paints } from "./paint.ts"

/* Text: the base style (font, line height, colour), mixed-style runs as spans, alignment and truncation. */

const TEXT_CASES = { UPPER: "upper", LOWER: "lower", TITLE: "title", SMALL_CAPS: "smallCaps", SMALL_CAPS_FORCED: "smallCaps" } as const
const TEXT_ALIGN = { CENTER: "center", RIGHT: "right", JUSTIFIED: "justify" } as const
const VERTICAL_ALIGN = { CENTER: "center", BOTTOM: "bottom" } as const

export const convertText = (node: FigmaNode, parent: ParentContext, context: ConversionContext): UuiText => {
  const { warn, recordStyle } = context
  const baseColor = textColor(node, node.fills, warn)
  const style = compact({ ...textStyle(node.id, node.style ?? {}, warn), color: baseColor })
  recordStyle(node, "text", "text", { textStyle: style })
  // A text node's colour is its fill: a colour style on it is used (and valued) here, not by fillsOf.
  if (baseColor !== undefined) recordStyle(node, "fill", "color", baseColor)
  const figmaStyle = node.style ?? {}
  if ((node.lineTypes ?? []).some((t) => t !== "NONE")) warn(node.id, "text-list", "list formatting dropped; plain paragraphs kept")
  return compact({
    ...commonFields(node, parent, context),
    kind: "text" as const,
    style,
    spans: textSpans(node, warn),
    textAlign: lookup(TEXT_ALIGN, figmaStyle.textAlignHorizontal),
    verticalAlign: lookup(VERTICAL_ALIGN, figmaStyle.textAlignVertical),
    maxLines: figmaStyle.maxLines ?? undefined,
    truncate: figmaStyle.textAutoResize === "TRUNCATE" || figmaStyle.textTruncation === "ENDING" ? (true as const) : undefined
  })
}

const textColor = (node: FigmaNode, fills: ReadonlyArray<FigmaPaint> | undefined, warn: Warn): string | undefined => {
  const converted = paints(node.id, fills, "text-fill", warn)
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
