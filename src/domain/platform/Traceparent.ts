/**
 * W3C trace context (`traceparent`) for work that outlives its request: jobs and outbox rows store the
 * traceparent of the span that created them, and the worker that picks them up continues that trace.
 */
import { Effect, Option } from "effect"

const pattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/

export interface TraceContext {
  readonly traceId: string
  readonly spanId: string
  readonly sampled: boolean
}

export const parseTraceparent = (value: string | null | undefined): Option.Option<TraceContext> => {
  const match = value === null || value === undefined ? null : pattern.exec(value.trim().toLowerCase())
  if (match === null) return Option.none()
  const [, traceId, spanId, flags] = match
  if (/^0+$/.test(traceId!) || /^0+$/.test(spanId!)) return Option.none()
  return Option.some({ traceId: traceId!, spanId: spanId!, sampled: (parseInt(flags!, 16) & 1) === 1 })
}

export const formatTraceparent = (span: { readonly traceId: string; readonly spanId: string; readonly sampled: boolean }) =>
  `00-${span.traceId}-${span.spanId}-${span.sampled ? "01" : "00"}`

/** The traceparent of the current span, to store on rows created now (undefined outside any span). */
export const currentTraceparent: Effect.Effect<string | undefined> = Effect.currentSpan.pipe(
  Effect.map(formatTraceparent),
  Effect.orElseSucceed(() => undefined)
)
