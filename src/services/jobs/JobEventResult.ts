/**
 * What job events carry of a job's result: ids and summaries, never payloads of hundreds of KB (a 4,000-frame
 * Figma import's result is ~700 KB). The full result stays in `cogo.jobs.result` (`JobQueue.get`).
 */

/** The largest result a `succeeded` event carries as is (JSON characters); larger ones are summarized. */
export const maxEventResultChars = 2048

/** A value of a summary: scalars as they are (strings cut), arrays as their length, objects one level deep. */
const summaryValue = (value: unknown, depth: number): unknown => {
  if (value === null || typeof value === "number" || typeof value === "boolean") return value
  if (typeof value === "string") return value.slice(0, 200)
  if (Array.isArray(value)) return value.length
  if (typeof value !== "object" || depth > 1) return null
  const out: Record<string, unknown> = {}
  for (const [key, inner] of Object.entries(value).slice(0, 32)) out[key] = summaryValue(inner, depth + 1)
  return out
}

/**
 * What a job's `succeeded` event carries as `result`: the result itself when its JSON is at most
 * `maxEventResultChars`, else a summary (`{ truncated: true, bytes, ...fields }`: counts and ids kept, lists
 * replaced by their lengths, cut again to the bound). The full result stays in `cogo.jobs.result`.
 */
export const eventResult = (result: unknown): unknown => {
  const text = JSON.stringify(result) ?? "null"
  if (text.length <= maxEventResultChars) return result
  const summarized = summaryValue(result, 0)
  const fields = typeof summarized === "object" && summarized !== null ? summarized : { value: summarized }
  const summary = { truncated: true, bytes: text.length, ...fields }
  return JSON.stringify(summary).length <= maxEventResultChars ? summary : { truncated: true, bytes: text.length }
}
