import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Exit, Layer, Metric, Option, Ref, Schema, Scope } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { InvalidToolInput, ProviderUnavailable } from "../../src/domain/agents/AgentError.ts"
import type { JobId } from "../../src/domain/jobs/Job.ts"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { backoffDelay, exponentialRetry } from "../../src/services/jobs/RetryPolicy.ts"
import { Orchestrator } from "../../src/services/jobs/Orchestrator.ts"
import { eventually } from "../support/eventually.ts"
import { jobsLayer } from "./layers.ts"

/** A service only the registering code provides: the handler must see it, though the worker's own context lacks it. */
class Greeting extends Context.Service<Greeting, { readonly word: string }>()("test/Greeting") {}

const fastRetry = exponentialRetry({ base: "10 millis", cap: "40 millis", maxAttempts: 3, jitter: false })

describe("retry backoff", () => {
  it.effect("exponential, capped, one delay per failed attempt", () =>
    Effect.gen(function*() {
      const policy = exponentialRetry({ base: "100 millis", cap: "350 millis", maxAttempts: 9, jitter: false })
      const delays = yield* Effect.forEach([1, 2, 3, 4, 5], (attempt) => Effect.map(backoffDelay(policy, attempt), Duration.toMillis))
      assert.deepStrictEqual(delays, [100, 200, 350, 350, 350])
      const jittered = exponentialRetry({ base: "100 millis", cap: "10 seconds", maxAttempts: 9 })
      const third = Duration.toMillis(yield* backoffDelay(jittered, 3))
      assert.isTrue(third >= 320 && third <= 480, `jittered third delay ${third}`)
    }))
})

layer(jobsLayer(), { excludeTestServices: true })("job queue and orchestrator", (it) => {
  const agent = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    Effect.flatMap(Effect.service(Database), (db) => db.withRole(DbRole.agent, effect))

  it.effect("enqueue needs the caller's transaction, rolls back with it, and dedupes by idempotency key", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const sql = yield* SqlClient
      const outside = yield* Effect.flip(queue.enqueue({ kind: "test.unregistered", payload: {} }))
      assert.strictEqual(outside._tag, "NotInTransaction")

      yield* agent(Effect.andThen(queue.enqueue({ kind: "test.unregistered", payload: {}, idempotencyKey: "rolled-back" }), Effect.fail("abort"))).pipe(
        Effect.ignore
      )
      const first = yield* agent(queue.enqueue({ kind: "test.unregistered", payload: { n: 1 }, idempotencyKey: "k-1" }))
      const again = yield* agent(queue.enqueue({ kind: "test.unregistered", payload: { n: 2 }, idempotencyKey: "k-1" }))
      assert.isTrue(first.created)
      assert.isFalse(again.created)
      assert.strictEqual(again.id, first.id)
      const batch = yield* agent(queue.enqueueMany([
        { kind: "test.unregistered", payload: {}, idempotencyKey: "k-1" },
        { kind: "test.unregistered", payload: {} },
        { kind: "test.unregistered", payload: {}, idempotencyKey: "k-2" },
        { kind: "test.unregistered", payload: {}, idempotencyKey: "k-2" }
      ]))
      assert.strictEqual(batch[0]!.id, first.id)
      assert.isTrue(batch[1]!.created)
      assert.strictEqual(batch[2]!.id, batch[3]!.id)
      const rows = yield* sql<{ n: string }>`SELECT count(*) AS n FROM cogo.jobs WHERE kind = 'test.unregistered'`
      assert.strictEqual(Number(rows[0]!.n), 3)
      const stored = yield* queue.get(first.id)
      assert.deepStrictEqual(Option.getOrThrow(stored).payload, { n: 1 })
      const rolledBack = yield* sql`SELECT 1 FROM cogo.jobs WHERE idempotency_key = 'rolled-back'`
      assert.strictEqual(rolledBack.length, 0)
    }))

  it.effect("a registered kind runs; progress, result and every state change are job events and bus events", () =>
    Effect.scoped(Effect.gen(function*() {
      const orchestrator = yield* Orchestrator
      const queue = yield* JobQueue
      const bus = yield* EventBus
      yield* orchestrator.register({
        kind: "test.echo",
        payload: Schema.Struct({ text: Schema.String }),
        run: (payload, job) => Effect.as(job.progress({ pct: 50 }), { echoed: payload.text.toUpperCase() })
      })
      const projectId = "00000000-0000-0000-0000-0000000000e1"
      const { id } = yield* queue.submit({ kind: "test.echo", payload: { text: "hi" }, projectId })
      const job = yield* queue.awaitTerminal(id).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(job.state, "succeeded")
      assert.deepStrictEqual(job.result, { echoed: "HI" })
      assert.strictEqual(job.attempts, 1)
      const events = yield* queue.events(id)
      assert.deepStrictEqual(events.map((e) => e.kind), ["enqueued", "started", "progress", "succeeded"])
      const busEvents = (yield* bus.since({ afterId: 0, jobId: id })).filter((e) => e.topic === "job")
      assert.deepStrictEqual(busEvents.map((e) => e.kind), ["enqueued", "started", "progress", "succeeded"])
      assert.isTrue(busEvents.every((e) => e.projectId === projectId))
      assert.deepStrictEqual((busEvents[3]!.payload as { result: unknown }).result, { echoed: "HI" })
    })))

  it.effect("a handler runs with the services it was registered with, inside its job span: continuing the stored trace, or a trace of its own", () =>
    Effect.scoped(Effect.gen(function*() {
      const orchestrator = yield* Orchestrator
      const queue = yield* JobQueue
      const sql = yield* SqlClient
      const seen = yield* Ref.make(new Map<string, { word: string; span: string; parent: Option.Option<string>; traceId: string }>())
      // Registered inside a span and with a service of its own: the service must reach the handler, the span must not.
      const registrationTrace = yield* Effect.gen(function*() {
        yield* orchestrator.register({
          kind: "test.context",
          payload: Schema.Unknown,
          run: (_, { job }) =>
            Effect.gen(function*() {
              const greeting = yield* Greeting
              const span = yield* Effect.orDie(Effect.currentSpan)
              yield* Ref.update(seen, (all) => new Map(all).set(job.id, { word: greeting.word, span: span.name, parent: Option.map(span.parent, (p) => p.spanId), traceId: span.traceId }))
            })
        })
        return (yield* Effect.orDie(Effect.currentSpan)).traceId
      }).pipe(Effect.provideService(Greeting, { word: "hello" }), Effect.withSpan("registration"))
      // One job enqueued under a span (its traceparent is stored), one written without any.
      const traced = yield* queue.submit({ kind: "test.context", payload: { n: 1 } })
      const [untraced] = yield* sql<{ id: JobId }>`INSERT INTO cogo.jobs (kind, payload) VALUES ('test.context', '{}') RETURNING id`
      for (const id of [traced.id, untraced!.id]) assert.strictEqual((yield* queue.awaitTerminal(id).pipe(Effect.timeout("10 seconds"))).state, "succeeded")
      const [row] = yield* sql<{ traceparent: string }>`SELECT traceparent FROM cogo.jobs WHERE id = ${traced.id}`
      const stored = row!.traceparent.split("-")
      const runs = yield* Ref.get(seen)
      const first = runs.get(traced.id)!
      const second = runs.get(untraced!.id)!
      assert.deepStrictEqual([first.word, first.span, first.traceId, Option.getOrNull(first.parent)], ["hello", "job test.context", stored[1], stored[2]])
      assert.deepStrictEqual([second.word, second.span, Option.isNone(second.parent)], ["hello", "job test.context", true])
      assert.isTrue(second.traceId !== registrationTrace && second.traceId !== first.traceId, "a trace of its own")
    })))

  it.effect("transient errors retry with backoff until success; permanent errors and exhausted attempts go dead", () =>
    Effect.scoped(Effect.gen(function*() {
      const orchestrator = yield* Orchestrator
      const queue = yield* JobQueue
      const calls = yield* Ref.make(0)
      yield* orchestrator.register({
        kind: "test.flaky",
        payload: Schema.Struct({ failures: Schema.Number }),
        retry: fastRetry,
        run: (payload) =>
          Effect.flatMap(Ref.updateAndGet(calls, (n) => n + 1), (n) =>
            n <= payload.failures
              ? Effect.fail(new ProviderUnavailable({ dependency: "llm", message: `down (call ${n})` }))
              : Effect.succeed({ calls: n }))
      })
      yield* orchestrator.register({
        kind: "test.bad-input",
        payload: Schema.Struct({}),
        retry: fastRetry,
        run: () => Effect.fail(new InvalidToolInput({ tool: "t", message: "nope" }))
      })
      const recovers = yield* queue.submit({ kind: "test.flaky", payload: { failures: 2 } })
      const recovered = yield* queue.awaitTerminal(recovers.id).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(recovered.state, "succeeded")
      assert.strictEqual(recovered.attempts, 3)
      const kinds = (yield* queue.events(recovers.id)).map((e) => e.kind)
      assert.deepStrictEqual(kinds.filter((k) => k === "retrying").length, 2)

      yield* Ref.set(calls, 0)
      const exhausted = yield* queue.submit({ kind: "test.flaky", payload: { failures: 10 } })
      const dead = yield* queue.awaitTerminal(exhausted.id).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(dead.state, "dead")
      assert.strictEqual(dead.attempts, 3)
      assert.strictEqual(dead.lastError?.tag, "ProviderUnavailable")
      assert.strictEqual(dead.lastError?.message, "down (call 3)")

      const permanent = yield* queue.submit({ kind: "test.bad-input", payload: {} })
      const refused = yield* queue.awaitTerminal(permanent.id).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(refused.state, "dead")
      assert.strictEqual(refused.attempts, 1)
      assert.deepStrictEqual(refused.lastError, { tag: "InvalidToolInput", message: "nope", retryable: false })
    })))

  it.effect("invalid payloads are dead at once; timeouts are retryable Timeout errors", () =>
    Effect.scoped(Effect.gen(function*() {
      const orchestrator = yield* Orchestrator
      const queue = yield* JobQueue
      yield* orchestrator.register({
        kind: "test.typed",
        payload: Schema.Struct({ n: Schema.Number }),
        run: (payload) => Effect.succeed(payload.n)
      })
      yield* orchestrator.register({
        kind: "test.slow",
        payload: Schema.Struct({}),
        timeout: "50 millis",
        retry: exponentialRetry({ base: "10 millis", cap: "10 millis", maxAttempts: 2, jitter: false }),
        run: () => Effect.never
      })
      const bad = yield* queue.submit({ kind: "test.typed", payload: { n: "not a number" } })
      const badJob = yield* queue.awaitTerminal(bad.id).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(badJob.state, "dead")
      assert.strictEqual(badJob.lastError?.tag, "InvalidJobPayload")
      assert.strictEqual(badJob.attempts, 1)
      const slow = yield* queue.submit({ kind: "test.slow", payload: {} })
      const slowJob = yield* queue.awaitTerminal(slow.id).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(slowJob.state, "dead")
      assert.strictEqual(slowJob.attempts, 2)
      assert.strictEqual(slowJob.lastError?.tag, "Timeout")
    })))

  it.effect("each job's span continues the trace it was enqueued in (batches of two callers, and a job of a third trace)", () =>
    Effect.scoped(Effect.gen(function*() {
      const orchestrator = yield* Orchestrator
      const queue = yield* JobQueue
      yield* orchestrator.register({
        kind: "test.traced",
        payload: Schema.Struct({}),
        concurrency: 4,
        run: () => Effect.map(Effect.orDie(Effect.currentSpan), (span) => span.traceId)
      })
      const enqueueIn = (name: string, count: number) =>
        Effect.gen(function*() {
          const jobs = yield* agent(queue.enqueueMany(Array.from({ length: count }, () => ({ kind: "test.traced", payload: {} }))))
          return { traceId: (yield* Effect.orDie(Effect.currentSpan)).traceId, jobs }
        }).pipe(Effect.withSpan(name))
      const first = yield* enqueueIn("first caller", 3)
      const second = yield* enqueueIn("second caller", 2)
      const untraced = yield* queue.submit({ kind: "test.traced", payload: {} })
      for (const { traceId, jobs } of [first, second]) {
        for (const job of jobs) {
          const done = yield* queue.awaitTerminal(job.id).pipe(Effect.timeout("10 seconds"))
          assert.strictEqual(done.result, traceId)
        }
      }
      const own = (yield* queue.awaitTerminal(untraced.id).pipe(Effect.timeout("10 seconds"))).result
      assert.isString(own)
      assert.notInclude([first.traceId, second.traceId], own, "a job submitted outside both callers continues its own trace")
    })))

  it.effect("a worker that stops while an attempt's timer fires releases the job (WorkerStopped), not a Timeout failure", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      // A second orchestrator of this process, stopped by closing its scope (as the service does on shutdown).
      const scope = yield* Scope.make()
      const stopping = Context.get(yield* Layer.buildWithScope(Layer.fresh(Orchestrator.layer), scope), Orchestrator)
      const running = yield* Deferred.make<void>()
      yield* stopping.register({
        kind: "test.stop-at-timeout",
        payload: Schema.Struct({}),
        // The stop comes right after the start, well inside the timeout; the clean-up outlives the timeout, so its
        // timer fires while the stop is interrupting the attempt.
        timeout: "500 millis",
        run: () => Effect.andThen(Deferred.succeed(running, undefined), Effect.never).pipe(Effect.onInterrupt(() => Effect.sleep("1 second")))
      }).pipe(Effect.provideService(Scope.Scope, scope))
      const job = yield* queue.submit({ kind: "test.stop-at-timeout", payload: {} })
      yield* Deferred.await(running).pipe(Effect.timeout("10 seconds"))
      yield* Scope.close(scope, Exit.void)
      yield* eventually("the stopped worker to release the job", Effect.map(queue.get(job.id), (row) => Option.getOrThrow(row).state !== "running"))
      const released = Option.getOrThrow(yield* queue.get(job.id))
      assert.strictEqual(released.state, "queued")
      assert.strictEqual(released.lastError?.tag, "WorkerStopped")
      assert.strictEqual(released.attempts, 1)
    }))

  it.effect("a timeout longer than a timer can wait (over ~24.8 days) is no timeout, not an instant one", () =>
    Effect.scoped(Effect.gen(function*() {
      const orchestrator = yield* Orchestrator
      const queue = yield* JobQueue
      yield* orchestrator.register({
        kind: "test.patient",
        payload: Schema.Struct({}),
        timeout: "30 days",
        run: () => Effect.as(Effect.sleep("100 millis"), "done")
      })
      const job = yield* queue.submit({ kind: "test.patient", payload: {} })
      const done = yield* queue.awaitTerminal(job.id).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(done.state, "succeeded")
      assert.strictEqual(done.attempts, 1)
      assert.strictEqual(done.result, "done")
    })))

  it.effect("one kind's attempts that overrun their timeout fail with Timeout, those that end in time succeed, at any start time", () =>
    Effect.scoped(Effect.gen(function*() {
      const orchestrator = yield* Orchestrator
      const queue = yield* JobQueue
      yield* orchestrator.register({
        kind: "test.mixed-timeouts",
        payload: Schema.Struct({ ms: Schema.Number }),
        concurrency: 2,
        timeout: "300 millis",
        retry: exponentialRetry({ base: "10 millis", cap: "10 millis", maxAttempts: 1, jitter: false }),
        run: (payload) => Effect.as(Effect.sleep(Duration.millis(payload.ms)), payload.ms)
      })
      // Two slots: the quick jobs free theirs, so the last overrunning job starts after the first one already
      // timed out, and its own deadline comes later.
      const durations = [60, 60_000, 60, 120, 60_000]
      const jobs = yield* agent(queue.enqueueMany(durations.map((ms) => ({ kind: "test.mixed-timeouts", payload: { ms } }))))
      const done = yield* Effect.forEach(jobs, (job) => queue.awaitTerminal(job.id), { concurrency: "unbounded" }).pipe(Effect.timeout("20 seconds"))
      assert.deepStrictEqual(done.map((job) => job.state), ["succeeded", "dead", "succeeded", "succeeded", "dead"])
      assert.deepStrictEqual(done.map((job) => job.lastError?.tag ?? null), [null, "Timeout", null, null, "Timeout"])
      assert.deepStrictEqual(done.filter((job) => job.state === "succeeded").map((job) => job.result), [60, 60, 120])
    })))

  it.effect("a kind's attempts are counted in its job metrics: start latency, and duration by outcome", () =>
    Effect.scoped(Effect.gen(function*() {
      const orchestrator = yield* Orchestrator
      const queue = yield* JobQueue
      yield* orchestrator.register({
        kind: "test.metered",
        payload: Schema.Struct({ fail: Schema.Boolean }),
        retry: exponentialRetry({ base: "10 millis", cap: "10 millis", maxAttempts: 1, jitter: false }),
        run: (payload) => payload.fail ? Effect.fail(new InvalidToolInput({ tool: "metered", message: "no" })) : Effect.succeed("ok")
      })
      const series = (id: string, attributes: Record<string, string>) =>
        Effect.map(Metric.snapshot, (all) => {
          const found = all.find((m) => m.id === id && Object.entries(attributes).every(([k, v]) => m.attributes?.[k] === v))
          return found === undefined ? 0 : (found.state as { readonly count: number }).count
        })
      const jobs = yield* agent(queue.enqueueMany([{ fail: false }, { fail: false }, { fail: true }].map((payload) => ({ kind: "test.metered", payload }))))
      const done = yield* Effect.forEach(jobs, (job) => queue.awaitTerminal(job.id), { concurrency: "unbounded" }).pipe(Effect.timeout("10 seconds"))
      assert.deepStrictEqual(done.map((job) => job.state), ["succeeded", "succeeded", "dead"])
      assert.strictEqual(yield* series("cogo_job_start_latency_seconds", { kind: "test.metered" }), 3)
      assert.strictEqual(yield* series("cogo_job_duration_seconds", { kind: "test.metered", outcome: "succeeded" }), 2)
      assert.strictEqual(yield* series("cogo_job_duration_seconds", { kind: "test.metered", outcome: "failed" }), 1)
    })))

  it.effect("a job claimed here again while its old attempt is still ending keeps its lease: the old attempt's end does not stop the new one's heartbeats", () =>
    Effect.scoped(Effect.gen(function*() {
      const orchestrator = yield* Orchestrator
      const queue = yield* JobQueue
      const sql = yield* SqlClient
      const firstRunning = yield* Deferred.make<void>()
      yield* orchestrator.register({
        kind: "test.reclaimed",
        payload: Schema.Struct({}),
        concurrency: 2,
        // The first attempt's clean-up outlives its loss; the second outlives a lease (2 s here) twice over, so it
        // ends well only if its lease keeps being renewed after the first attempt ended.
        run: (_, job) =>
          job.job.attempt === 1
            ? Effect.andThen(Deferred.succeed(firstRunning, undefined), Effect.never).pipe(Effect.onInterrupt(() => Effect.sleep("1500 millis")))
            : Effect.as(Effect.sleep("4500 millis"), job.job.attempt)
      })
      const { id } = yield* queue.submit({ kind: "test.reclaimed", payload: {} })
      yield* Deferred.await(firstRunning).pipe(Effect.timeout("10 seconds"))
      // The lease is lost (as if this process had stalled) and the job is back in the queue.
      yield* sql`UPDATE cogo.jobs SET state = 'queued', locked_by = NULL, lease_expires_at = NULL, run_at = now() WHERE id = ${id}`
      const done = yield* queue.awaitTerminal(id).pipe(Effect.timeout("20 seconds"))
      assert.strictEqual(done.state, "succeeded")
      assert.strictEqual(done.result, 2)
      assert.strictEqual(done.attempts, 2, "no third claim after a lease that expired unrenewed")
    })))

  it.effect("per-kind concurrency limit holds", () =>
    Effect.scoped(Effect.gen(function*() {
      const orchestrator = yield* Orchestrator
      const queue = yield* JobQueue
      const running = yield* Ref.make(0)
      const peak = yield* Ref.make(0)
      yield* orchestrator.register({
        kind: "test.limited",
        payload: Schema.Struct({}),
        concurrency: 2,
        run: () =>
          Effect.acquireUseRelease(
            Effect.flatMap(Ref.updateAndGet(running, (n) => n + 1), (n) => Ref.update(peak, (p) => Math.max(p, n))),
            () => Effect.sleep("60 millis"),
            () => Ref.update(running, (n) => n - 1)
          )
      })
      const ids = yield* agent(queue.enqueueMany(Array.from({ length: 6 }, () => ({ kind: "test.limited", payload: {} }))))
      const jobs = yield* Effect.forEach(ids, (job) => queue.awaitTerminal(job.id), { concurrency: "unbounded" }).pipe(Effect.timeout("15 seconds"))
      assert.isTrue(jobs.every((job) => job.state === "succeeded"))
      assert.strictEqual(yield* Ref.get(peak), 2)
    })))

  it.effect("cancel: a queued job never runs, a running job is interrupted", () =>
    Effect.scoped(Effect.gen(function*() {
      const orchestrator = yield* Orchestrator
      const queue = yield* JobQueue
      const started = yield* Ref.make(0)
      const interrupted = yield* Ref.make(0)
      yield* orchestrator.register({
        kind: "test.long",
        payload: Schema.Struct({}),
        run: () => Effect.andThen(Ref.update(started, (n) => n + 1), Effect.never).pipe(Effect.onInterrupt(() => Ref.update(interrupted, (n) => n + 1)))
      })
      const later = yield* queue.submit({ kind: "test.long", payload: {}, delayMs: 60_000 })
      assert.isTrue(yield* queue.cancel(later.id, "not needed"))
      const running = yield* queue.submit({ kind: "test.long", payload: {} })
      yield* Effect.gen(function*() {
        while ((yield* Ref.get(started)) === 0) yield* Effect.sleep("20 millis")
      }).pipe(Effect.timeout("10 seconds"))
      assert.isTrue(yield* queue.cancel(running.id))
      const cancelled = yield* queue.awaitTerminal(running.id).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(cancelled.state, "cancelled")
      // The heartbeat notices the job is no longer held and interrupts the handler.
      yield* Effect.gen(function*() {
        while ((yield* Ref.get(interrupted)) === 0) yield* Effect.sleep("50 millis")
      }).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(yield* Ref.get(started), 1)
      assert.isFalse(yield* queue.cancel(running.id))
      const stillCancelled = yield* queue.get(later.id)
      assert.strictEqual(Option.getOrThrow(stillCancelled).state, "cancelled")
      assert.strictEqual(Option.getOrThrow(stillCancelled).attempts, 0)
    })))

  it.effect("an expired lease is rescued and the job runs again; the old worker's late completion is refused", () =>
    Effect.scoped(Effect.gen(function*() {
      const orchestrator = yield* Orchestrator
      const queue = yield* JobQueue
      const { id } = yield* queue.submit({ kind: "test.rescued", payload: { v: 7 } })
      // A worker that claims and then goes silent.
      const [ghostJob] = yield* queue.claim({ workerId: "ghost", kinds: ["test.rescued"], limit: 5, leaseMs: 100 })
      assert.strictEqual(ghostJob?.id, id)
      yield* orchestrator.register({
        kind: "test.rescued",
        payload: Schema.Struct({ v: Schema.Number }),
        run: (payload, job) => Effect.succeed({ v: payload.v, attempt: job.job.attempt })
      })
      const job = yield* queue.awaitTerminal(id as JobId).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(job.state, "succeeded")
      assert.deepStrictEqual(job.result, { v: 7, attempt: 2 })
      assert.isFalse(yield* queue.complete("ghost", ghostJob!, { v: "late" }))
      const kinds = (yield* queue.events(id)).map((e) => e.kind)
      assert.deepStrictEqual(kinds, ["enqueued", "started", "rescued", "started", "succeeded"])
    })))
})
