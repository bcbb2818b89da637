/**
 * Tracing for the whole process. Every span effect creates (`Effect.fn`, `Effect.withSpan`, the HTTP server
 * span, sql-pg query spans) goes through one `Tracer` (`TelemetryTracer.ts`: redaction, semantic-convention
 * span names, idle background polls dropped) that
 * - exports it over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, with effect's native exporter or the
 *   OpenTelemetry SDK (`COGO_TRACER`, see `ExportingTracer.ts`), and
 * - records it, once finished, in a bounded in-process store: at most `TRACES_MAX` request/job traces and
 *   `TRACES_MAX_BACKGROUND` traces of background loops (separate budgets, so pollers cannot evict requests),
 *   each with at most `TRACES_MAX_SPANS_PER_TRACE` spans, none older than `TRACES_RETENTION` (least recently
 *   updated trace evicted first). `GET /traces` and `GET /traces/:traceId` read it; it is per process, not shared between
 *   replicas (use the OTLP backend for that).
 *
 * Incoming `traceparent` headers become the parent of the HTTP server span (effect's HTTP server tracer does
 * this through `HttpTraceContext`), so a caller's trace continues here.
 *
 * A root span that ends without children and is not a server span (a lone query of a background loop) is not
 * kept. When an entry span ends (a server or consumer span without parent, or any span whose parent is in
 * another process: an incoming traceparent, a worker continuing a stored job/outbox traceparent), a `trace` bus event (kind `trace.finished`) is published by
 * `Telemetry.eventsLayer`: at most `TRACE_EVENTS_PER_SECOND` per second, deduplicated by trace, untraced
 * themselves, so tracing can never flood `cogo.bus_events`.
 */
import { Cause, Config, Context, Duration, Effect, Exit, Layer, Metric, Option, PubSub, Queue, Schedule, Tracer } from "effect"
import { Headers, HttpMiddleware, type HttpServerRequest, UrlParams } from "effect/http"
import type { SpanRecord, TraceDetail, TraceSummary } from "../../domain/observability/Observability.ts"
import { formatTraceparent } from "../../domain/platform/Traceparent.ts"
import { Database, DbRole } from "../platform/Database.ts"
import { EventBus } from "../platform/EventBus.ts"
import { exportingTracer } from "./ExportingTracer.ts"
import { redactedHeaders, redactedQueryParams, redactText } from "./Redaction.ts"
import { makeTelemetryTracer } from "./TelemetryTracer.ts"

export const spansRecorded = Metric.counter("trace_spans_recorded_total", {
  description: "Finished spans recorded in the in-process trace store",
  incremental: true
})
export const spansDropped = Metric.counter("trace_spans_dropped_total", {
  description: "Finished spans not kept because their trace reached TRACES_MAX_SPANS_PER_TRACE",
  incremental: true
})
export const tracesStored = Metric.gauge("traces_stored", { description: "Traces currently held in the in-process store" })
export const traceEventsPublished = Metric.counter("trace_events_published_total", {
  description: "trace.finished bus events published",
  incremental: true
})
export const traceEventsDropped = Metric.counter("trace_events_dropped_total", {
  description: "trace.finished bus events skipped by the TRACE_EVENTS_PER_SECOND limit",
  incremental: true
})

/** Paths whose requests are not traced: the trace and status views poll them, and would bury real traces. */
const untracedPathPrefixes = ["/traces", "/status"] as const
const isUntracedRequest = (request: HttpServerRequest.HttpServerRequest): boolean => {
  const path = request.url.split("?")[0] ?? ""
  return untracedPathPrefixes.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))
}

export interface TraceStoreLimits {
  /** Marks the summaries of this store's traces (background loops rather than requests or jobs). */
  readonly background: boolean
  readonly maxTraces: number
  readonly maxSpansPerTrace: number
  readonly retention: Duration.Duration
}

interface StoredTrace {
  readonly spans: Array<SpanRecord>
  dropped: number
  updatedAtMs: number
}

const nanosToIso = (nanos: bigint): string => new Date(Number(nanos / 1_000_000n)).toISOString()

const jsonSafe = (value: unknown): unknown => {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return value
    case "bigint":
      return value.toString()
    default:
      if (value === null || value === undefined) return null
      if (Array.isArray(value)) return value.map(jsonSafe)
      return String(value)
  }
}

const spanStatus = (exit: Exit.Exit<unknown, unknown>): Pick<SpanRecord, "status" | "error"> => {
  if (Exit.isSuccess(exit)) return { status: "ok", error: null }
  if (Cause.hasInterruptsOnly(exit.cause)) return { status: "interrupted", error: null }
  const first = Cause.prettyErrors(exit.cause)[0]
  return { status: "error", error: first === undefined ? "error" : redactText(`${first.name}: ${first.message}`) }
}

/** The finished span as stored and served (ended spans only). */
const toSpanRecord = (span: Tracer.Span): SpanRecord | undefined => {
  if (span.status._tag !== "Ended") return undefined
  const { startTime, endTime, exit } = span.status
  const attributes: Record<string, unknown> = {}
  for (const [key, value] of span.attributes) attributes[key] = jsonSafe(value)
  return {
    traceId: span.traceId,
    spanId: span.spanId,
    parentSpanId: Option.isSome(span.parent) ? span.parent.value.spanId : null,
    name: span.name,
    kind: span.kind,
    startTime: nanosToIso(startTime),
    startUnixNano: startTime.toString(),
    durationMs: Number(endTime - startTime) / 1e6,
    ...spanStatus(exit),
    attributes
  }
}

const summarize = (traceId: string, stored: StoredTrace, background: boolean): TraceSummary => {
  const ids = new Set(stored.spans.map((s) => s.spanId))
  let start: bigint | undefined
  let end = 0n
  let root: SpanRecord | undefined
  let errorCount = 0
  for (const span of stored.spans) {
    const spanStart = BigInt(span.startUnixNano)
    const spanEnd = spanStart + BigInt(Math.round(span.durationMs * 1e6))
    if (start === undefined || spanStart < start) start = spanStart
    if (spanEnd > end) end = spanEnd
    if (span.status === "error") errorCount++
    const isRoot = span.parentSpanId === null || !ids.has(span.parentSpanId)
    if (isRoot && (root === undefined || spanStart < BigInt(root.startUnixNano))) root = span
  }
  return {
    traceId,
    name: root?.name ?? "",
    startTime: root?.startTime ?? nanosToIso(start ?? 0n),
    durationMs: start === undefined ? 0 : Number(end - start) / 1e6,
    spanCount: stored.spans.length,
    errorCount,
    droppedSpans: stored.dropped,
    background
  }
}

/**
 * The bounded store of finished spans, grouped by trace. A `Map` keeps insertion order, and a trace is
 * re-inserted on every update, so the first entry is always the least recently updated one.
 */
export const makeTraceStore = (limits: TraceStoreLimits, now: () => number = Date.now) => {
  const traces = new Map<string, StoredTrace>()
  const retentionMs = Duration.toMillis(limits.retention)
  let recorded = 0
  let dropped = 0

  const evict = () => {
    const oldest = now() - retentionMs
    for (const [traceId, stored] of traces) {
      if (traces.size <= limits.maxTraces && stored.updatedAtMs >= oldest) break
      traces.delete(traceId)
    }
  }

  const record = (span: SpanRecord) => {
    const stored = traces.get(span.traceId) ?? { spans: [], dropped: 0, updatedAtMs: 0 }
    traces.delete(span.traceId)
    if (stored.spans.length < limits.maxSpansPerTrace) {
      stored.spans.push(span)
      recorded++
    } else {
      stored.dropped++
      dropped++
    }
    stored.updatedAtMs = now()
    traces.set(span.traceId, stored)
    evict()
  }

  const get = (traceId: string): TraceDetail | undefined => {
    evict()
    const stored = traces.get(traceId)
    if (stored === undefined) return undefined
    const spans = [...stored.spans].sort((a, b) => (BigInt(a.startUnixNano) < BigInt(b.startUnixNano) ? -1 : 1))
    return { ...summarize(traceId, stored, limits.background), spans }
  }

  /** Most recently updated first. */
  const recent = (limit: number): ReadonlyArray<TraceSummary> => {
    evict()
    const entries = [...traces.entries()]
    const result: Array<TraceSummary> = []
    for (let i = entries.length - 1; i >= 0 && result.length < limit; i--) {
      const [traceId, stored] = entries[i]!
      result.push(summarize(traceId, stored, limits.background))
    }
    return result
  }

  return { record, get, recent, has: (traceId: string) => traces.has(traceId), stats: () => ({ traces: traces.size, recorded, dropped }) }
}

/** An entry span ended: its trace, as far as this process saw it. */
export interface FinishedTrace {
  readonly summary: TraceSummary
  readonly traceparent: string
}

/**
 * Where a unit of work enters this process: a request (server span), a message (consumer span), or work
 * continuing a trace started elsewhere (a parent from another process: traceparent header, job, outbox row).
 */
const isEntrySpan = (span: Tracer.Span) =>
  Option.isSome(span.parent)
    ? span.parent.value._tag === "ExternalSpan"
    : span.kind === "server" || span.kind === "consumer"

export class Telemetry extends Context.Service<Telemetry, {
  readonly trace: (traceId: string) => Effect.Effect<Option.Option<TraceDetail>>
  /** Most recent request/job traces; with `background`, traces of background loops too. */
  readonly recent: (limit: number, options?: { readonly background?: boolean | undefined }) => Effect.Effect<ReadonlyArray<TraceSummary>>
  /** Entry-span completions as they happen (bounded, slow subscribers lose the oldest). */
  readonly finished: PubSub.PubSub<FinishedTrace>
  /** Sends buffered spans to the OTLP endpoint now (no-op without one). */
  readonly flush: Effect.Effect<void>
}>()("cogo/Telemetry") {
  /** Provides `Telemetry` and installs its tracer (and the untraced paths) for everything above it. */
  static readonly layer = Layer.effectContext(
    Effect.gen(function*() {
      const retention = yield* Config.Duration("TRACES_RETENTION").pipe(Config.withDefault(Duration.hours(1)))
      const maxSpansPerTrace = yield* Config.Int("TRACES_MAX_SPANS_PER_TRACE").pipe(Config.withDefault(1000))
      const entryStore = makeTraceStore({
        background: false,
        maxTraces: yield* Config.Int("TRACES_MAX").pipe(Config.withDefault(500)),
        maxSpansPerTrace,
        retention
      })
      const backgroundStore = makeTraceStore({
        background: true,
        maxTraces: yield* Config.Int("TRACES_MAX_BACKGROUND").pipe(Config.withDefault(100)),
        maxSpansPerTrace,
        retention
      })
      const finished = yield* PubSub.sliding<FinishedTrace>(256)
      const exporting = yield* exportingTracer

      const onEnd = (span: Tracer.Span, background: boolean) => {
        if (!span.sampled) return
        const record = toSpanRecord(span)
        if (record === undefined) return
        const store = background ? backgroundStore : entryStore
        // A lone query of a background loop (a root span without children) is noise, not a trace worth keeping.
        if (Option.isNone(span.parent) && background && !store.has(span.traceId)) return
        store.record(record)
        if (!isEntrySpan(span)) return
        const detail = store.get(span.traceId)
        if (detail === undefined) return
        const { spans: _spans, ...summary } = detail
        PubSub.publishUnsafe(finished, { summary, traceparent: formatTraceparent(span) })
      }
      const tracer = makeTelemetryTracer(exporting.tracer, onEnd)

      // Store statistics become metrics once a second (span ends are synchronous and must stay cheap).
      let reported = { recorded: 0, dropped: 0 }
      yield* Effect.gen(function*() {
        const entry = entryStore.stats()
        const background = backgroundStore.stats()
        const stats = {
          traces: entry.traces + background.traces,
          recorded: entry.recorded + background.recorded,
          dropped: entry.dropped + background.dropped
        }
        yield* Metric.update(spansRecorded, stats.recorded - reported.recorded)
        yield* Metric.update(spansDropped, stats.dropped - reported.dropped)
        yield* Metric.update(tracesStored, stats.traces)
        reported = stats
      }).pipe(Effect.repeat(Schedule.spaced("1 second")), Effect.withTracerEnabled(false), Effect.forkScoped)

      if (Option.isSome(exporting.exportUrl)) {
        yield* Effect.logInfo(`exporting traces over OTLP/HTTP to ${exporting.exportUrl.value} (COGO_TRACER=${exporting.kind})`)
      }

      const telemetry = Telemetry.of({
        trace: (traceId) => Effect.sync(() => Option.fromUndefinedOr(entryStore.get(traceId) ?? backgroundStore.get(traceId))),
        recent: (limit, options) =>
          Effect.sync(() =>
            options?.background === true
              ? [...entryStore.recent(limit), ...backgroundStore.recent(limit)]
                .sort((a, b) => b.startTime.localeCompare(a.startTime))
                .slice(0, limit)
              : entryStore.recent(limit)
          ),
        finished,
        flush: exporting.flush
      })
      return Context.make(Telemetry, telemetry).pipe(
        Context.add(Tracer.Tracer, tracer),
        Context.add(HttpMiddleware.TracerDisabledWhen, isUntracedRequest),
        Context.add(Headers.CurrentRedactedNames, redactedHeaders),
        Context.add(UrlParams.CurrentRedactedNames, [...UrlParams.CurrentRedactedNames.defaultValue(), ...redactedQueryParams])
      )
    })
  )

  /**
   * Publishes `trace.finished` bus events for entry spans: once a second, at most `TRACE_EVENTS_PER_SECOND`,
   * one per trace, untraced, in one agent transaction.
   */
  static readonly eventsLayer = Layer.effectDiscard(
    Effect.gen(function*() {
      const telemetry = yield* Telemetry
      const bus = yield* EventBus
      const db = yield* Database
      const perSecond = yield* Config.Int("TRACE_EVENTS_PER_SECOND").pipe(Config.withDefault(5))
      const pending = yield* Queue.sliding<FinishedTrace>(1024)
      yield* PubSub.subscribe(telemetry.finished).pipe(
        Effect.flatMap((subscription) =>
          PubSub.take(subscription).pipe(Effect.flatMap((event) => Queue.offer(pending, event)), Effect.forever)
        ),
        Effect.forkScoped
      )
      const publishBatch = Effect.gen(function*() {
        const batch = yield* Queue.takeAll(pending)
        const latest = new Map<string, FinishedTrace>()
        for (const event of batch) latest.set(event.summary.traceId, event)
        // 0 turns the events off; otherwise the newest `perSecond` traces win.
        const selected = perSecond <= 0 ? [] : [...latest.values()].slice(-perSecond)
        yield* Metric.update(traceEventsDropped, batch.length - selected.length)
        if (selected.length === 0) return
        yield* db.withRole(
          DbRole.agent,
          Effect.forEach(selected, (event) =>
            bus.publish({ topic: "trace", kind: "trace.finished", payload: event.summary, traceparent: event.traceparent }), {
            discard: true
          })
        )
        yield* Metric.update(traceEventsPublished, selected.length)
      })
      yield* publishBatch.pipe(
        Effect.catchCause((cause) => Effect.logWarning("trace events not published", cause)),
        Effect.andThen(Effect.sleep("1 second")),
        Effect.forever,
        Effect.withTracerEnabled(false),
        Effect.forkScoped
      )
    })
  )
}
