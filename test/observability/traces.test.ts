import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Schedule } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { randomBytes, randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import { figmaPluginSignature } from "../../src/edge/figma/signature.ts"
import type { TraceDetail, TraceSummary } from "../../src/domain/observability/Observability.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { makeTraceStore, Telemetry } from "../../src/services/observability/Telemetry.ts"
import { jwtSecret, userToken } from "../edge/server.ts"
import { operatorGet, type OtlpReceiver, otlpReceiver, RunningServiceTag, serviceLayer } from "./support.ts"

class Receiver extends Context.Service<Receiver, OtlpReceiver>()("test/Receiver") {}

/** Per run, never a fixture. */
const pluginSecret = randomBytes(24).toString("hex")

const TestLayer = Layer.unwrap(Effect.map(otlpReceiver, (receiver) =>
  serviceLayer({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: "100",
    FIGMA_PLUGIN_SECRET: pluginSecret,
    SUPABASE_JWT_SECRET: jwtSecret,
    JOBS_POLL_INTERVAL: "200 millis",
    PROJECTION_POLL_MS: "200"
  }).pipe(
    Layer.merge(Layer.succeed(Receiver, receiver))
  )))

const randomHex = (bytes: number) => randomBytes(bytes).toString("hex")

/** Waits until the receiver holds spans of `traceId` that satisfy `done` (the exporter batches every 100 ms). */
const exportedSpans = (traceId: string, done: (names: ReadonlyArray<string>) => boolean) =>
  Effect.gen(function*() {
    const receiver = yield* Receiver
    const telemetry = yield* Telemetry
    for (let i = 0; i < 100; i++) {
      yield* telemetry.flush
      const spans = receiver.spans.filter((s) => s.traceId === traceId)
      if (done(spans.map((s) => s.name))) return spans
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.die(new Error(`spans of ${traceId} never arrived: ${JSON.stringify(receiver.spans.map((s) => s.name))}`))
  })

layer(TestLayer, { excludeTestServices: true, timeout: Duration.seconds(60) })("traces end to end (OTLP + store)", (it) => {
  it.effect("an incoming traceparent becomes the parent of the HTTP span, and DB spans hang below it", () =>
    Effect.gen(function*() {
      const service = yield* RunningServiceTag
      const traceId = randomHex(16)
      const callerSpanId = randomHex(8)
      const response = yield* Effect.promise(() =>
        fetch(`${service.baseUrl}/health`, { headers: { traceparent: `00-${traceId}-${callerSpanId}-01` } }))
      assert.strictEqual(response.status, 200)
      const spans = yield* exportedSpans(traceId, (names) => names.some((n) => n.includes("GET")) && names.length >= 2)
      const server = spans.find((s) => s.kind === 2)
      assert.isDefined(server, "a SERVER span was exported")
      assert.strictEqual(server!.parentSpanId, callerSpanId, "the caller's span is the server span's parent")
      const byId = new Map(spans.map((s) => [s.spanId, s]))
      const dbSpans = spans.filter((s) => s.attributes.some((a) => a.key === "db.query.text" || a.key === "db.system.name" || a.key === "db.system"))
      assert.isAbove(dbSpans.length, 0, `a database span in ${JSON.stringify(spans.map((s) => s.name))}`)
      for (const db of dbSpans) {
        // Walk up: every DB span reaches the server span through recorded parents.
        let current = db
        while (current.spanId !== server!.spanId) {
          const parent = byId.get(current.parentSpanId ?? "")
          assert.isDefined(parent, `parent of ${current.name} was exported in the same trace`)
          current = parent!
        }
      }

      // The same tree is in the service's own store.
      const detail = yield* Effect.promise(() => operatorGet(service, `/traces/${traceId}`).then((r) => r.json() as Promise<TraceDetail>))
      assert.strictEqual(detail.traceId, traceId)
      const stored = new Map(detail.spans.map((s) => [s.spanId, s]))
      assert.strictEqual(stored.get(server!.spanId)?.parentSpanId, callerSpanId)
      assert.strictEqual(stored.get(server!.spanId)?.kind, "server")
      assert.strictEqual(stored.get(server!.spanId)?.attributes["http.response.status_code"], 200)
      for (const db of dbSpans) assert.strictEqual(stored.get(db.spanId)?.parentSpanId, db.parentSpanId ?? null)
      assert.isAtLeast(detail.durationMs, stored.get(server!.spanId)!.durationMs)

      const recent = yield* Effect.promise(() => operatorGet(service, `/traces?limit=5`).then((r) => r.json() as Promise<{ traces: Array<TraceSummary> }>))
      assert.isTrue(recent.traces.some((t) => t.traceId === traceId))
      // Background loops (migrations, alert evaluations, pollers) are kept apart and listed only on request.
      assert.isTrue(recent.traces.every((t) => !t.background))
      const all = yield* Effect.promise(() => operatorGet(service, `/traces?limit=500&background=true`).then((r) => r.json() as Promise<{ traces: Array<TraceSummary> }>))
      assert.isTrue(all.traces.some((t) => t.background && t.name === "Migrations.run"), JSON.stringify(all.traces.map((t) => t.name)))

      // ... and on the realtime stream: a throttled trace.finished bus event carrying the caller's trace.
      const bus = yield* EventBus
      const event = yield* bus.since({ afterId: 0, limit: 10_000 }).pipe(
        Effect.map((events) => events.find((e) => e.topic === "trace" && (e.payload as TraceSummary).traceId === traceId)),
        Effect.filterOrFail((e) => e !== undefined),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 50 })))
      )
      assert.strictEqual(event.kind, "trace.finished")
      assert.strictEqual(event.traceparent?.split("-")[1], traceId)
      assert.strictEqual((event.payload as TraceSummary).name, server!.name)
    }))

  it.effect("a figma-plugin import is one trace: HTTP -> job -> conversion -> project commands (outbox) -> projection", () =>
    Effect.gen(function*() {
      const service = yield* RunningServiceTag
      const receiver = yield* Receiver
      const sql = yield* SqlClient
      const traceId = randomHex(16)
      const callerSpanId = randomHex(8)
      const projectId = randomUUID()
      const document = JSON.parse(readFileSync(new URL("../fixtures/figma/components.json", import.meta.url), "utf8")) as unknown
      const userId = randomUUID()
      const credential = yield* Effect.promise(() => userToken(userId))
      const body = JSON.stringify({ projectId, userId, fileKey: "TRACEKEY", document })
      const timestamp = String(Math.floor(Date.now() / 1000))
      const response = yield* Effect.promise(() =>
        fetch(`${service.baseUrl}/functions/v1/figma-plugin`, {
          method: "POST",
          body,
          headers: {
            "content-type": "application/json",
            "x-cogo-timestamp": timestamp,
            "x-cogo-signature": `v1=${figmaPluginSignature(pluginSecret, timestamp, body)}`,
            authorization: `Bearer ${credential}`,
            traceparent: `00-${traceId}-${callerSpanId}-01`
          }
        }))
      assert.strictEqual(response.status, 202, yield* Effect.promise(() => response.text()))

      // The import ran and the projection wrote the public rows.
      const rows = yield* sql<{ components: string }>`SELECT count(*) AS components FROM public.components WHERE project_id = ${projectId}`.pipe(
        Effect.filterOrFail((r) => Number(r[0]!.components) > 0),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 300 })))
      )
      assert.isAbove(Number(rows[0]!.components), 0)

      const spans = yield* exportedSpans(traceId, (names) =>
        names.includes("ProjectCommands.write") && names.some((n) => n.startsWith("job ")) && names.includes("Projection.apply"))
      const projection = yield* Effect.gen(function*() {
        for (let i = 0; i < 100; i++) {
          const telemetry = yield* Telemetry
          yield* telemetry.flush
          const linked = receiver.spans.find((s) => s.name === "Projection.applyBatch" && (s.links ?? []).some((l) => l.traceId === traceId))
          if (linked !== undefined) return linked
          yield* Effect.sleep("50 millis")
        }
        return yield* Effect.die(new Error("no projection batch linked to the import trace"))
      })

      const byId = new Map(spans.map((s) => [s.spanId, s]))
      const server = spans.find((s) => s.kind === 2)!
      assert.strictEqual(server.parentSpanId, callerSpanId)
      const pathToServer = (name: string) => {
        const span = spans.find((s) => s.name === name)
        assert.isDefined(span, `${name} in ${JSON.stringify(spans.map((s) => s.name))}`)
        const names = [span!.name]
        let current = span!
        while (current.spanId !== server.spanId) {
          const parent = byId.get(current.parentSpanId ?? "")
          assert.isDefined(parent, `the parent of ${current.name} is in the trace`)
          current = parent!
          names.push(current.name)
        }
        return names
      }
      assert.include(pathToServer("JobQueue.enqueue"), "FigmaPlugin.ingest")
      const writePath = pathToServer("ProjectCommands.write")
      assert.include(writePath, "FigmaImport.run")
      assert.isTrue(writePath.some((n) => n.startsWith("job ")), writePath.join(" <- "))
      assert.isDefined(spans.find((s) => s.name === "FigmaImport.convert"))
      // The projection joins the trace under the span that appended the outbox rows...
      const applyPath = pathToServer("Projection.apply")
      assert.include(applyPath, "ProjectCommands.write", applyPath.join(" <- "))
      assert.include(applyPath, "FigmaImport.run", applyPath.join(" <- "))
      // ...and the batch span, which serves many traces, links to each of them.
      assert.isTrue((projection.links ?? []).some((l) => l.traceId === traceId))
    }))

  it.effect("trace endpoints answer bad ids with 400 and unknown traces with 404 problem+json", () =>
    Effect.gen(function*() {
      const service = yield* RunningServiceTag
      const bad = yield* Effect.promise(() => operatorGet(service, `/traces/not-a-trace`))
      assert.strictEqual(bad.status, 400)
      const missing = yield* Effect.promise(() => operatorGet(service, `/traces/${randomHex(16)}`))
      assert.strictEqual(missing.status, 404)
      const body = yield* Effect.promise(() => missing.json() as Promise<{ status: number; type: string }>)
      assert.strictEqual(body.status, 404)
      assert.match(body.type, /trace-not-found$/)
      const badLimit = yield* Effect.promise(() => operatorGet(service, `/traces?limit=0`))
      assert.strictEqual(badLimit.status, 400)
    }))
})

describe("trace store bounds", () => {
  const span = (traceId: string, spanId: string) => ({
    traceId,
    spanId,
    parentSpanId: null,
    name: spanId,
    kind: "internal" as const,
    startTime: new Date(0).toISOString(),
    startUnixNano: "0",
    durationMs: 1,
    status: "ok" as const,
    error: null,
    attributes: {}
  })

  it("keeps at most maxTraces (least recently updated evicted) and maxSpansPerTrace per trace", () => {
    const store = makeTraceStore({ background: false, maxTraces: 2, maxSpansPerTrace: 2, retention: Duration.hours(1) })
    store.record(span("a", "1"))
    store.record(span("b", "1"))
    store.record(span("a", "2")) // a is now the most recent
    store.record(span("c", "1")) // evicts b
    assert.deepStrictEqual(store.recent(10).map((t) => t.traceId), ["c", "a"])
    store.record(span("a", "3"))
    const a = store.get("a")!
    assert.strictEqual(a.spanCount, 2)
    assert.strictEqual(a.droppedSpans, 1)
    assert.deepStrictEqual(store.stats(), { traces: 2, recorded: 4, dropped: 1 })
  })

  it("forgets traces older than the retention", () => {
    let now = 0
    const store = makeTraceStore({ background: false, maxTraces: 10, maxSpansPerTrace: 10, retention: Duration.seconds(10) }, () => now)
    store.record(span("old", "1"))
    now = 5_000
    store.record(span("new", "1"))
    now = 12_000
    assert.isUndefined(store.get("old"))
    assert.isDefined(store.get("new"))
  })
})
