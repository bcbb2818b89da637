/** What the observability endpoints return: finished spans and traces, alert states, artifact listings. */
import { Schema } from "effect"

export const TraceId = Schema.String.check(Schema.isPattern(/^[0-9a-f]{32}$/)).pipe(Schema.brand("TraceId"))
export type TraceId = typeof TraceId.Type

export const SpanKind = Schema.Literals(["internal", "server", "client", "producer", "consumer"])

export const SpanRecord = Schema.Struct({
  traceId: Schema.String,
  spanId: Schema.String,
  /** The parent's id; it may belong to another process (an incoming traceparent, a stored job trace). */
  parentSpanId: Schema.NullOr(Schema.String),
  name: Schema.String,
  kind: SpanKind,
  /** Wall-clock start, ISO 8601, and the same instant in Unix nanoseconds (string: exceeds 2^53). */
  startTime: Schema.String,
  startUnixNano: Schema.String,
  durationMs: Schema.Number,
  status: Schema.Literals(["ok", "error", "interrupted"]),
  error: Schema.NullOr(Schema.String),
  attributes: Schema.Record(Schema.String, Schema.Unknown)
})
export type SpanRecord = typeof SpanRecord.Type

export const TraceSummary = Schema.Struct({
  traceId: Schema.String,
  /** Name of the earliest span whose parent is not in this trace's recorded spans. */
  name: Schema.String,
  startTime: Schema.String,
  durationMs: Schema.Number,
  spanCount: Schema.Number,
  errorCount: Schema.Number,
  /** Spans not kept because the trace reached the per-trace limit. */
  droppedSpans: Schema.Number,
  /** A background loop's trace (its root is neither a request, a message nor a continued trace). */
  background: Schema.Boolean
})
export type TraceSummary = typeof TraceSummary.Type

export const TraceDetail = Schema.Struct({
  ...TraceSummary.fields,
  spans: Schema.Array(SpanRecord)
})
export type TraceDetail = typeof TraceDetail.Type

export const AlertSeverity = Schema.Literals(["warning", "critical"])
export type AlertSeverity = typeof AlertSeverity.Type

export const AlertState = Schema.Struct({
  rule: Schema.String,
  description: Schema.String,
  severity: AlertSeverity,
  state: Schema.Literals(["firing", "ok"]),
  /** The signal's last value and the threshold it is compared with. */
  value: Schema.NullOr(Schema.Number),
  threshold: Schema.Number,
  /** When the current state began (ISO), and when the rule was last evaluated. */
  since: Schema.NullOr(Schema.String),
  evaluatedAt: Schema.NullOr(Schema.String),
  /** Set when the signal could not be read (e.g. database down): the state is kept as it was. */
  error: Schema.NullOr(Schema.String)
})
export type AlertState = typeof AlertState.Type

export const ArtifactEntry = Schema.Struct({
  /** Path relative to the job's directory, `/`-separated. */
  path: Schema.String,
  size: Schema.Number,
  contentType: Schema.String,
  modifiedAt: Schema.String,
  /** Where to GET it. */
  url: Schema.String
})
export type ArtifactEntry = typeof ArtifactEntry.Type
