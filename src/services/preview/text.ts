/**
 * Text and RichText: the base style on the node's element, one <span> per style run, alignment, line
 * clamping and ellipsis. A text with no width of its own (hug) does not wrap, like Figma's auto width.
 */
import type { CogoRichText, CogoText, CogoTextStyle } from "../../domain/figma/CogoUi.ts"
import { cssColor, escapeHtml, num, px } from "./html.ts"
import { shadowCss } from "./paint.ts"

const cssString = (text: string): string => `"${text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\n\r\f]/g, " ")}"`

const TEXT_CASE = { upper: "text-transform:uppercase", lower: "text-transform:lowercase", title: "text-transform:capitalize" } as const

export const textStyleCss = (style: CogoTextStyle | undefined): Array<string> => {
  if (style === undefined) return []
  const out: Array<string> = []
  if (style.fontFamily !== undefined) out.push(`font-family:${cssString(style.fontFamily)},"DejaVu Sans",sans-serif`)
  if (style.fontWeight !== undefined) out.push(`font-weight:${num(style.fontWeight)}`)
  if (style.fontSize !== undefined) out.push(`font-size:${px(style.fontSize)}`)
  if (style.fontStyle !== undefined) out.push(`font-style:${style.fontStyle}`)
  if (style.lineHeight !== undefined) {
    out.push(`line-height:${style.lineHeight.unit === "px" ? px(style.lineHeight.value) : `${num(style.lineHeight.value)}%`}`)
  }
  if (style.letterSpacing !== undefined) out.push(`letter-spacing:${px(style.letterSpacing)}`)
  if (style.decoration !== undefined) {
    out.push(`text-decoration:${style.decoration === "lineThrough" ? "line-through" : style.decoration}`)
  }
  if (style.textCase === "smallCaps") out.push("font-variant:small-caps")
  else if (style.textCase !== undefined && style.textCase !== "original") out.push(TEXT_CASE[style.textCase])
  if (style.color !== undefined) out.push(`color:${cssColor(style.color)}`)
  if (style.shadows !== undefined && style.shadows.length > 0) out.push(`text-shadow:${shadowCss(style.shadows, true)}`)
  return out
}

const VERTICAL = { top: "flex-start", center: "center", bottom: "flex-end" } as const

export interface RenderedText {
  readonly style: ReadonlyArray<string>
  readonly html: string
}

/**
 * The element styles and content of a text node. `baseOverride` (a text token from the theme) wins over the
 * literal base style; `wraps` says whether the box has a width of its own to wrap in.
 */
export const renderText = (widget: CogoText | CogoRichText, baseOverride: CogoTextStyle | undefined, wraps: boolean): RenderedText => {
  const literal = widget.type === "Text" ? widget.style : widget.text.style
  const base = baseOverride === undefined ? literal : { ...literal, ...baseOverride }
  const style = [...textStyleCss(base), `white-space:${wraps ? "pre-wrap" : "pre"}`, "overflow-wrap:break-word"]
  if (widget.textAlign !== undefined) style.push(`text-align:${widget.textAlign}`)
  if (widget.maxLines !== undefined) {
    style.push("display:-webkit-box", "-webkit-box-orient:vertical", `-webkit-line-clamp:${Math.max(1, Math.floor(widget.maxLines))}`, "overflow:hidden")
  }
  if (widget.overflow === "ellipsis") style.push("text-overflow:ellipsis", "overflow:hidden")
  const content = widget.type === "Text"
    ? escapeHtml(widget.data)
    : widget.text.children.map((run) => {
      const css = textStyleCss(run.style)
      return css.length === 0 ? `<span>${escapeHtml(run.text)}</span>` : `<span style="${escapeHtml(css.join(";"))}">${escapeHtml(run.text)}</span>`
    }).join("")
  if (widget.textAlignVertical !== undefined && widget.textAlignVertical !== "top" && widget.maxLines === undefined) {
    style.push("display:flex", "flex-direction:column", `justify-content:${VERTICAL[widget.textAlignVertical]}`)
    return { style, html: `<span class="t">${content}</span>` }
  }
  return { style, html: content }
}
