/**
 * Kinds that do not keep succeeded jobs (`keepSucceeded: false`, src/services/jobs/completeJobs.ts): the
 * completion deletes the job instead of updating it. What stays the same (fencing, the realtime stream of a
 * streamed kind, kept failures) and what a caller sees instead of the job (`JobGone`, a free idempotency key).
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { JobGone } from "../../src/domain/jobs/Job.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { Orchestrator } from "../../src/services/jobs/Orchestrator.ts"
import { eventually } from "../support/eventually.ts"
import { jobBusEvents, jobBusKinds as busKinds } from "./jobBus.ts"
import { jobsLayer } from "./layers.ts"

const stored = (id: string) =>
  Effect.flatMap(Effect.service(SqlClient), (sql) => sql<{ state: string }>`SELECT state FROM cogo.jobs WHERE id = ${id}`).pipe(
    Effect.map((rows) => rows[0]?.state)
  )

layer(jobsLayer({ JOBS_WORKER_ENABLED: "false", JOBS_RESCUE_INTERVAL: "1 hour" }), { excludeTestServices: true })("jobs not kept once succeeded", (it) => {
  it.effect("completion deletes the job; get finds nothing and awaitTerminal fails with JobGone; a stale completion deletes nothing", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* queue.configureKind("rm.quiet", { stream: false, keepSucceeded: false })
      const job = yield* queue.submit({ kind: "rm.quiet", payload: { n: 1 } })
      const [first] = yield* queue.claim({ workerId: "w1", kinds: ["rm.quiet"], limit: 1, leaseMs: 60_000 })
      // Not this worker's attempt: fenced like an update.
      assert.isFalse(yield* queue.complete("w2", first!, { ok: true }))
      assert.isFalse(yield* queue.complete("w1", { ...first!, attempt: first!.attempt + 1 }, { ok: true }))
      assert.strictEqual(yield* stored(job.id), "running")

      assert.isTrue(yield* queue.complete("w1", first!, { ok: true }))
      assert.isUndefined(yield* stored(job.id))
      assert.isTrue(Option.isNone(yield* queue.get(job.id)))
      const waited = yield* Effect.flip(queue.awaitTerminal(job.id))
      assert.instanceOf(waited, JobGone)
      assert.strictEqual((waited as JobGone).jobId, job.id)
      assert.deepStrictEqual(yield* busKinds(job.id), [], "a quiet kind publishes nothing")
    }))

  it.effect("a streamed kind still publishes started and succeeded (with the result's summary) before its job is deleted", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* queue.configureKind("rm.loud", { keepSucceeded: false })
      const job = yield* queue.submit({ kind: "rm.loud", payload: {} })
      const [claimed] = yield* queue.claim({ workerId: "w", kinds: ["rm.loud"], limit: 1, leaseMs: 60_000 })
      assert.isTrue(yield* queue.complete("w", claimed!, { pages: 3 }))
      assert.isUndefined(yield* stored(job.id))
      const events = yield* jobBusEvents(job.id)
      assert.deepStrictEqual(events.map((e) => e.kind), ["enqueued", "started", "succeeded"])
      assert.deepStrictEqual(events[2]!.payload, { state: "succeeded", attempt: 1, result: { pages: 3 }, jobKind: "rm.loud" })
    }))

  it.effect("a batch of kept and deleted kinds: both complete, the kept job keeps its result", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* queue.configureKind("rm.batch-gone", { stream: false, keepSucceeded: false })
      const gone = yield* queue.submit({ kind: "rm.batch-gone", payload: {} })
      const kept = yield* queue.submit({ kind: "rm.batch-kept", payload: {} })
      const claimed = yield* queue.claim({ workerId: "wb", kinds: ["rm.batch-gone", "rm.batch-kept"], limit: 2, leaseMs: 60_000 })
      assert.strictEqual(claimed.length, 2)
      const done = yield* queue.completeMany("wb", claimed.map((job) => ({ job, result: { kind: job.kind } })))
      assert.deepStrictEqual([...done].sort(), [gone.id, kept.id].sort())
      assert.isUndefined(yield* stored(gone.id))
      const keptJob = Option.getOrThrow(yield* queue.get(kept.id))
      assert.strictEqual(keptJob.state, "succeeded")
      assert.deepStrictEqual(keptJob.result, { kind: "rm.batch-kept" })
    }))

  it.effect("failures are kept: a dead job of such a kind stays with its error; a deleted job's idempotency key is free again", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* queue.configureKind("rm.fails", { keepSucceeded: false })
      const failing = yield* queue.submit({ kind: "rm.fails", payload: {} })
      const [attempt] = yield* queue.claim({ workerId: "wf", kinds: ["rm.fails"], limit: 1, leaseMs: 60_000 })
      const outcome = yield* queue.fail("wf", attempt!, { tag: "Broken", message: "no", retryable: false })
      assert.strictEqual(outcome._tag, "Dead")
      assert.strictEqual((yield* queue.awaitTerminal(failing.id)).lastError?.tag, "Broken")

      const first = yield* queue.submit({ kind: "rm.fails", payload: { n: 1 }, idempotencyKey: "rm-key" })
      assert.strictEqual((yield* queue.submit({ kind: "rm.fails", payload: { n: 2 }, idempotencyKey: "rm-key" })).id, first.id, "same key while it lives")
      const [held] = yield* queue.claim({ workerId: "wf", kinds: ["rm.fails"], limit: 1, leaseMs: 60_000 })
      assert.isTrue(yield* queue.complete("wf", held!, null))
      const again = yield* queue.submit({ kind: "rm.fails", payload: { n: 3 }, idempotencyKey: "rm-key" })
      assert.notStrictEqual(again.id, first.id)
      assert.isTrue(again.created)
    }))
})

layer(jobsLayer(), { excludeTestServices: true })("a worker of a kind that does not keep succeeded jobs", (it) => {
  it.effect("runs each job once and leaves no row behind", () =>
    Effect.gen(function*() {
      const orchestrator = yield* Orchestrator
      const queue = yield* JobQueue
      const ran: Array<number> = []
      yield* orchestrator.register({
        kind: "rm.worker",
        payload: Schema.Struct({ n: Schema.Number }),
        keepSucceeded: false,
        stream: false,
        run: (payload) => Effect.sync(() => ran.push(payload.n))
      })
      const jobs = yield* Effect.forEach([1, 2, 3, 4, 5], (n) => queue.submit({ kind: "rm.worker", payload: { n } }))
      const sql = yield* SqlClient
      yield* eventually("the jobs to run and be deleted", Effect.gen(function*() {
        const [left] = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM cogo.jobs WHERE kind = 'rm.worker'`
        return ran.length === 5 && left!.n === 0
      }))
      assert.deepStrictEqual([...ran].sort(), [1, 2, 3, 4, 5])
      for (const job of jobs) assert.isTrue(Option.isNone(yield* queue.get(job.id)))
    }).pipe(Effect.scoped))
})
