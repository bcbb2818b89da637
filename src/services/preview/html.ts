/** HTML text and attribute escaping and number formatting for the preview renderer. */

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }

/** Escapes text for element content and double-quoted attribute values. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c)

/** A CSS length in px, rounded to 1/1000 px (short, and stable across platforms). */
export const px = (value: number): string => `${Math.round(value * 1000) / 1000}px`

/** A number rounded to 1/10000 (percentages, angles). */
export const num = (value: number): string => String(Math.round(value * 10000) / 10000)

/** A colour as CSS: the `#rrggbbaa` of COGO UI JSON is valid CSS as is; anything else falls back to transparent. */
export const cssColor = (color: string): string => (/^#[0-9a-fA-F]{8}$/.test(color) ? color.toLowerCase() : "transparent")

/** `prop:value` declarations joined for a `style` attribute (values are produced here, never user text). */
export const styleAttr = (declarations: ReadonlyArray<string>): string =>
  declarations.length === 0 ? "" : ` style="${escapeHtml(declarations.join(";"))}"`
