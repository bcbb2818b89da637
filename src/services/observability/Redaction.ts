/**
 * Secrets never leave the process through telemetry: span attributes, span events, stored traces and log
 * lines pass through these functions. Query parameters `access_token`, `apikey`, `token` (any case) keep
 * their name and lose their value; `Authorization`/`apikey`/`cookie`/`x-cogo-signature` header values,
 * bearer credentials and JWT-shaped strings are replaced wherever they appear in text.
 */

export const redactedQueryParams: ReadonlyArray<string> = ["access_token", "apikey", "token"]
export const redactedHeaders: ReadonlyArray<string> = ["authorization", "apikey", "cookie", "set-cookie", "x-cogo-signature", "x-api-key"]

export const REDACTED = "REDACTED"

const queryParam = new RegExp(`([?&;](?:${redactedQueryParams.join("|")})=)[^&#\\s"'<>]*`, "gi")
const bearer = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi
/** Three base64url segments, the first a JSON header (`{"` encodes as `eyJ`). */
const jwt = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g
const headerAttribute = new RegExp(`^http\\.(?:request|response)\\.header\\.(?:${redactedHeaders.join("|")})$`, "i")

/** Text with every secret this module knows replaced by `REDACTED`. Cheap when there is nothing to hide. */
export const redactText = (text: string): string => {
  if (!/token|apikey|bearer|basic|eyJ/i.test(text)) return text
  return text.replace(queryParam, `$1${REDACTED}`).replace(bearer, `$1 ${REDACTED}`).replace(jwt, REDACTED)
}

/** A span attribute value as it may be exported: secret headers blanked, strings (and arrays of them) redacted. */
export const redactAttribute = (key: string, value: unknown): unknown => {
  if (headerAttribute.test(key)) return REDACTED
  if (typeof value === "string") return redactText(value)
  if (Array.isArray(value)) return value.map((item: unknown) => (typeof item === "string" ? redactText(item) : item))
  return value
}

export const redactAttributes = (attributes: Record<string, unknown> | undefined): Record<string, unknown> | undefined => {
  if (attributes === undefined) return undefined
  const result: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(attributes)) result[key] = redactAttribute(key, value)
  return result
}
