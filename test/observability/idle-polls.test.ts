/**
 * Background polls that find no work export no trace (nor enter the store); a poll that finds work does.
 * Pollers run every 100 ms here, so an idle second is ~20 polls that would each have been a root trace.
 */
import { assert, layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer } from "effect"
import { figmaImportKind } from "../../src/services/figma/FigmaImport.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { Telemetry } from "../../src/services/observability/Telemetry.ts"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { type OtlpReceiver, otlpReceiver, RunningServiceTag, serviceLayer } from "./support.ts"

class Receiver extends Context.Service<Receiver, OtlpReceiver>()("test/IdleReceiver") {}

const pollNames = ["JobQueue.claim", "Projection.processBatch"]

const TestLayer = Layer.unwrap(Effect.map(otlpReceiver, (receiver) =>
  serviceLayer({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_BSP_SCHEDULE_DELAY: "100",
    JOBS_POLL_INTERVAL: "100 millis",
    PROJECTION_POLL_MS: "100"
  }).pipe(Layer.merge(Layer.succeed(Receiver, receiver)))))

layer(TestLayer, { excludeTestServices: true, timeout: Duration.seconds(60) })("idle background polls", (it) => {
  it.effect("an idle service exports no poll traces for 3 s; a claim that finds a job is exported and stored", () =>
    Effect.gen(function*() {
      yield* RunningServiceTag
      const receiver = yield* Receiver
      const telemetry = yield* Telemetry
      const queue = yield* JobQueue
      const db = yield* Database
      yield* Effect.sleep("3 seconds")
      yield* telemetry.flush
      const idle = receiver.spans.filter((s) => pollNames.includes(s.name))
      assert.deepStrictEqual(idle.map((s) => s.name), [], "idle polls exported")
      // The other background work still exports (start-up migrations are a background root that did work).
      assert.isTrue(receiver.spans.some((s) => s.name === "Migrations.run"), JSON.stringify([...new Set(receiver.spans.map((s) => s.name))]))
      const storedIdle = (yield* telemetry.recent(500, { background: true })).filter((t) => pollNames.includes(t.name))
      assert.deepStrictEqual(storedIdle, [])

      // Work arrives: the claim that finds it is a trace, exported with its query in it.
      const job = yield* db.withRole(DbRole.agent, queue.enqueue({ kind: figmaImportKind, payload: { invalid: true }, maxAttempts: 1 }))
      let claims = receiver.spans.filter((s) => s.name === "JobQueue.claim")
      for (let i = 0; i < 100 && claims.length === 0; i++) {
        yield* Effect.sleep("100 millis")
        yield* telemetry.flush
        claims = receiver.spans.filter((s) => s.name === "JobQueue.claim")
      }
      assert.strictEqual(claims.length, 1, `job ${job.id}`)
      const claim = claims[0]!
      assert.isUndefined(claim.parentSpanId || undefined, "the claim is a root span")
      assert.isTrue(receiver.spans.some((s) => s.traceId === claim.traceId && /^UPDATE cogo\.jobs/.test(s.name)),
        JSON.stringify(receiver.spans.filter((s) => s.traceId === claim.traceId).map((s) => s.name)))
      const stored = yield* telemetry.trace(claim.traceId)
      assert.isTrue(stored._tag === "Some" && stored.value.background)
    }))
})
