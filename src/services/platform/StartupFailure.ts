/** One clear line for a failed start-up: which setting is wrong, or which part could not start and why. */
import { Cause } from "effect"
import { Config } from "effect"

export const describeStartupFailure = (cause: Cause.Cause<unknown>): string => {
  const failure = cause.reasons.find(Cause.isFailReason)?.error ?? cause.reasons.find(Cause.isDieReason)?.defect
  if (failure instanceof Config.ConfigError) return `configuration error: ${oneLine(failure.message)}`
  if (failure instanceof Error) {
    const tag = "_tag" in failure && typeof failure._tag === "string" ? failure._tag : failure.name
    return `start-up failed: ${tag}: ${oneLine(causeChain(failure).join(": "))}`
  }
  return `start-up failed: ${oneLine(Cause.pretty(cause))}`
}

/** Wrapping errors (ServeError, SqlError) often carry the useful text only in their causes. */
const causeChain = (error: Error): ReadonlyArray<string> => {
  const messages: Array<string> = []
  for (let current: unknown = error; current instanceof Error && messages.length < 6; current = current.cause) {
    const text = current.message || ("code" in current ? String(current.code) : "")
    if (text.length > 0 && !messages.includes(text)) messages.push(text)
  }
  return messages
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, "; ").trim()
