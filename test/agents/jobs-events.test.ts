/**
 * What job state changes write (src/services/jobs/jobTransitions.ts): the audit trail is complete for every
 * kind (`enqueued` derived from the job row), and a quiet kind (`stream: false`) keeps its lifecycle off the
 * bus while its failures still reach it.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Ref, Schema } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { ProviderUnavailable } from "../../src/domain/agents/AgentError.ts"
import type { JobId } from "../../src/domain/jobs/Job.ts"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { exponentialRetry } from "../../src/services/jobs/RetryPolicy.ts"
import { Orchestrator } from "../../src/services/jobs/Orchestrator.ts"
import { jobsLayer } from "./layers.ts"

const projectId = "00000000-0000-0000-0000-0000000000e7"

layer(jobsLayer(), { excludeTestServices: true })("job events", (it) => {
  const jobBusEvents = (id: JobId) =>
    Effect.flatMap(Effect.service(EventBus), (bus) => bus.since({ afterId: 0, jobId: id })).pipe(
      Effect.map((events) => events.filter((e) => e.topic === "job").map((e) => e.kind))
    )
  const storedKinds = (id: JobId) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const rows = yield* sql<{ kind: string }>`SELECT kind FROM cogo.job_events WHERE job_id = ${id} ORDER BY id`
      return rows.map((r) => r.kind)
    })

  it.effect("enqueued is derived from the job row (no stored row), first in the trail, with runAt until the job starts", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const db = yield* Database
      const [a, b] = yield* db.withRole(DbRole.agent, queue.enqueueMany([
        { kind: "test.unclaimed", payload: {}, projectId, delayMs: 60_000 },
        { kind: "test.unclaimed", payload: {}, idempotencyKey: "derived-enqueued" }
      ]))
      const events = yield* queue.events(a!.id)
      assert.deepStrictEqual(events.map((e) => [e.id, e.kind]), [[0, "enqueued"]])
      const data = events[0]!.data as { state: string; runAt: string }
      assert.strictEqual(data.state, "queued")
      assert.isAbove(Date.parse(data.runAt) - Date.parse(events[0]!.createdAt), 50_000, "runAt carries the delay")
      assert.deepStrictEqual(yield* storedKinds(a!.id), [])
      assert.deepStrictEqual(yield* jobBusEvents(a!.id), ["enqueued"], "a kind streams by default")
      assert.deepStrictEqual((yield* queue.events(b!.id)).map((e) => e.kind), ["enqueued"])
      assert.deepStrictEqual(yield* queue.events(a!.id, 0), [], "afterId 0 skips the derived event")
    }))

  it.effect("rows stored by older versions (enqueued, started, succeeded) win over the derived events", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const sql = yield* SqlClient
      const [job] = yield* sql<{ id: JobId }>`
        INSERT INTO cogo.jobs (kind, state, attempts, started_at, finished_at, locked_by, result)
        VALUES ('test.legacy', 'succeeded', 1, now(), now(), 'old-worker', '{"ok":true}') RETURNING id`
      yield* sql`INSERT INTO cogo.job_events (job_id, kind, data) VALUES
        (${job!.id}, 'enqueued', '{"state":"queued"}'), (${job!.id}, 'started', '{"state":"running","attempt":1,"workerId":"old-worker"}'),
        (${job!.id}, 'succeeded', '{"state":"succeeded","attempt":1}')`
      const trail = yield* queue.events(job!.id)
      assert.deepStrictEqual(trail.map((e) => e.kind), ["enqueued", "started", "succeeded"])
      assert.strictEqual(trail[0]!.id, 0, "the derived enqueued replaces the stored one")
      assert.isTrue(trail.slice(1).every((e) => e.id % 3 === 0), "started and succeeded are the stored rows")
    }))

  it.effect("a quiet kind: full audit trail, no lifecycle bus events, failures still on the bus, awaitTerminal wakes", () =>
    Effect.scoped(Effect.gen(function*() {
      const orchestrator = yield* Orchestrator
      const queue = yield* JobQueue
      const calls = yield* Ref.make(0)
      yield* orchestrator.register({
        kind: "test.quiet",
        payload: Schema.Struct({ failures: Schema.Number }),
        stream: false,
        retry: exponentialRetry({ base: "10 millis", cap: "20 millis", maxAttempts: 3, jitter: false }),
        run: (payload, job) =>
          Effect.flatMap(Ref.updateAndGet(calls, (n) => n + 1), (n) =>
            n <= payload.failures
              ? Effect.fail(new ProviderUnavailable({ dependency: "llm", message: `down (call ${n})` }))
              : Effect.as(job.progress({ pct: 100 }), { n }))
      })
      const ok = yield* queue.submit({ kind: "test.quiet", payload: { failures: 0 }, projectId })
      const okJob = yield* queue.awaitTerminal(ok.id).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(okJob.state, "succeeded")
      assert.deepStrictEqual((yield* queue.events(ok.id)).map((e) => e.kind), ["enqueued", "started", "progress", "succeeded"])
      assert.deepStrictEqual(yield* jobBusEvents(ok.id), ["progress"], "only the progress event is streamed")

      yield* Ref.set(calls, 0)
      const flaky = yield* queue.submit({ kind: "test.quiet", payload: { failures: 1 }, projectId })
      assert.strictEqual((yield* queue.awaitTerminal(flaky.id).pipe(Effect.timeout("10 seconds"))).state, "succeeded")
      assert.deepStrictEqual(
        (yield* queue.events(flaky.id)).map((e) => e.kind),
        ["enqueued", "started", "retrying", "started", "progress", "succeeded"]
      )
      assert.deepStrictEqual(yield* storedKinds(flaky.id), ["retrying", "progress"], "only the failure and the progress are stored")
      assert.deepStrictEqual(yield* jobBusEvents(flaky.id), ["retrying", "progress"])
    })))

  it.effect("a streamed kind puts every change on the bus, in order", () =>
    Effect.scoped(Effect.gen(function*() {
      const orchestrator = yield* Orchestrator
      const queue = yield* JobQueue
      yield* orchestrator.register({ kind: "test.streamed", payload: Schema.Unknown, run: () => Effect.succeed({ ok: true }) })
      const { id } = yield* queue.submit({ kind: "test.streamed", payload: {}, projectId })
      assert.strictEqual((yield* queue.awaitTerminal(id).pipe(Effect.timeout("10 seconds"))).state, "succeeded")
      assert.deepStrictEqual(yield* jobBusEvents(id), ["enqueued", "started", "succeeded"])
      assert.deepStrictEqual(yield* storedKinds(id), [], "started and succeeded are derived from the job row")
      const trail = yield* queue.events(id)
      assert.deepStrictEqual(trail.map((e) => [e.id, e.kind]), [[0, "enqueued"], [1, "started"], [2, "succeeded"]])
      assert.deepStrictEqual(trail[2]!.data, { state: "succeeded", attempt: 1, result: { ok: true } })
      assert.deepStrictEqual((yield* queue.events(id, 1)).map((e) => e.kind), ["succeeded"], "afterId pages the derived events")
    })))
})
