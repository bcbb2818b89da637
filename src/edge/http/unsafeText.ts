/**
 * Input the database or the runtime cannot take, refused at the edge with a 400 naming the field:
 * - JSON nested deeper than a limit (serialising it again, or PostgreSQL's jsonb parser, would exhaust a stack);
 * - text PostgreSQL cannot store: NUL (U+0000; `text`, `jsonb` and identifiers refuse it) and lone UTF-16
 *   surrogates (not encodable as UTF-8).
 * Checked before any handler runs (src/edge/http/EdgeMiddleware.ts), so such input never becomes a 5xx.
 */

/** Why `text` cannot be stored, or undefined when it can. */
export const unsafeTextReason = (text: string): string | undefined => {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit === 0) return "contains a NUL character (\\u0000)"
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) i++
      else return "contains a lone UTF-16 surrogate"
    } else if (unit >= 0xdc00 && unit <= 0xdfff) return "contains a lone UTF-16 surrogate"
  }
  return undefined
}

export interface UnsafeText {
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

/** The first string (key or value) of a JSON value that cannot be stored, with its path (iterative: any depth). */
export const findUnsafeText = (root: unknown, rootPath: ReadonlyArray<string | number> = []): UnsafeText | undefined => {
  const stack: Array<readonly [unknown, ReadonlyArray<string | number>]> = [[root, rootPath]]
  while (stack.length > 0) {
    const [value, path] = stack.pop()!
    if (typeof value === "string") {
      const message = unsafeTextReason(value)
      if (message !== undefined) return { path, message }
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], [...path, i]])
    } else if (typeof value === "object" && value !== null) {
      const entries = Object.entries(value)
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!
        const message = unsafeTextReason(key)
        if (message !== undefined) return { path: [...path, key], message: `key ${message}` }
        stack.push([child, [...path, key]])
      }
    }
  }
  return undefined
}

/**
 * Cheap pre-check of a raw JSON body: such text can only arrive as a `\u0000` or `\uD800`-`\uDFFF` escape
 * (UTF-8 decoding replaces invalid bytes, and JSON forbids a raw NUL in strings).
 */
const suspiciousEscape = /\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})/

/** The unsafe text of a JSON body (`payload.<path>`), or undefined when it is clean or not JSON. */
export const findUnsafeJsonText = (body: string): UnsafeText | undefined => {
  if (!suspiciousEscape.test(body)) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    return undefined // not JSON: the handler's own decoding answers 400
  }
  return findUnsafeText(parsed, ["payload"])
}

/** Whether a JSON text nests arrays/objects deeper than `max` (brackets inside strings do not count). */
export const jsonDeeperThan = (body: string, max: number): boolean => {
  if (body.length <= max * 2) return false
  let depth = 0
  let inString = false
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // backslash: skip the escaped character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true
    } else if (c === 0x5d || c === 0x7d) depth--
  }
  return false
}

/**
 * Cheap pre-check of a URL: only a NUL or a surrogate written as is, `%00`, or an escape of a byte outside
 * ASCII (which may be a surrogate's encoding or malformed UTF-8) can decode to text that cannot be stored.
 */
const suspiciousUrl = /%(?![0-7][0-9a-fA-F])|%00|[\u0000\ud800-\udfff]/

/** The unsafe text of a URL's path segments and query parameters (decoded), or a malformed escape. */
export const findUnsafeUrlText = (url: string): UnsafeText | undefined => {
  if (!suspiciousUrl.test(url)) return undefined
  const queryStart = url.indexOf("?")
  const path = queryStart < 0 ? url : url.slice(0, queryStart)
  for (const segment of path.split("/")) {
    let decoded: string
    try {
      decoded = decodeURIComponent(segment)
    } catch {
      return { path: ["path"], message: "malformed percent-encoding" }
    }
    const message = unsafeTextReason(decoded)
    if (message !== undefined) return { path: ["path"], message }
  }
  if (queryStart < 0) return undefined
  for (const [name, value] of new URLSearchParams(url.slice(queryStart + 1))) {
    const message = unsafeTextReason(name) ?? unsafeTextReason(value)
    if (message !== undefined) return { path: ["query", name], message }
  }
  return undefined
}
