/**
 * Trace continuity across the outbox: each update stores the trace context of the request that appended it;
 * a batch serves many such traces. Each gets a `Projection.apply` span (child of the appending span), and
 * the batch's own span links to them, so one trace reaches from the request to the public rows.
 */
import { Effect, Option, Tracer } from "effect"
import { parseTraceparent, type TraceContext } from "../domain/platform/Traceparent.ts"
import type { ClaimedRow } from "./rows.ts"

/** The distinct trace contexts of a batch's updates (capped: a batch may serve thousands of traces). */
const batchTraces = (rows: ReadonlyArray<ClaimedRow>) => {
  const traces = new Map<string, { readonly context: TraceContext; updates: number }>()
  for (const row of rows) {
    const existing = row.traceparent === null ? undefined : traces.get(row.traceparent)
    if (existing !== undefined) existing.updates++
    else if (row.traceparent !== null && traces.size < 32) {
      Option.map(parseTraceparent(row.traceparent), (context) => traces.set(row.traceparent!, { context, updates: 1 }))
    }
  }
  return Array.from(traces.values())
}

/**
 * A `Projection.apply` span in every trace the batch serves, open until the enclosing scope closes (so it
 * covers apply and acknowledge).
 */
export const traceApply = (rows: ReadonlyArray<ClaimedRow>) =>
  Effect.forEach(batchTraces(rows), ({ context, updates }) =>
    Effect.makeSpanScoped("Projection.apply", {
      parent: Tracer.externalSpan(context),
      attributes: { "cogo.updates": updates, "cogo.batch.updates": rows.length }
    }), { discard: true })

/** Links from the batch's span to the traces it serves. */
export const traceLinks = (rows: ReadonlyArray<ClaimedRow>): Array<Tracer.SpanLink> =>
  batchTraces(rows).map(({ context, updates }) => ({ span: Tracer.externalSpan(context), attributes: { "cogo.updates": updates } }))
