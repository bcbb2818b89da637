/**
 * The job queue's two budgets (src/services/jobs/JobQueue.ts), on the embedded backend (or TEST_DATABASE_URL):
 * an attempt lost to an expired lease or released by a stopping worker is a rescue, not a failure; failures
 * alone spend max_attempts; rescues have their own cap (JOBS_MAX_RESCUES). And a succeeded event carries a
 * bounded summary of a large result while the job keeps all of it.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { ClaimedJob } from "../../src/domain/jobs/Job.ts"
import { eventResult, maxEventResultChars } from "../../src/services/jobs/JobEventResult.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { jobsLayer } from "../agents/layers.ts"

const kind = "test.budget"
const worker = "budget-worker"

/** Claims the one queued job of `kind` with a lease of `leaseMs`. */
const claimOne = (leaseMs: number) =>
  Effect.gen(function*() {
    const queue = yield* JobQueue
    const [job] = yield* queue.claim({ workerId: worker, kinds: [kind], limit: 1, leaseMs })
    assert.isDefined(job, "a job to claim")
    return job!
  })

/** Lets the lease of a claimed job run out, then rescues it. */
const expireAndRescue = Effect.gen(function*() {
  const queue = yield* JobQueue
  yield* Effect.sleep("30 millis")
  return yield* queue.rescueExpired
})

const stateOf = (job: ClaimedJob) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const [row] = yield* sql<{ state: string; attempts: number; rescues: number }>`
      SELECT state, attempts, rescues FROM cogo.jobs WHERE id = ${job.id}`
    return row!
  })

layer(jobsLayer({ JOBS_MAX_RESCUES: "3", JOBS_WORKER_ENABLED: "false" }), { excludeTestServices: true })("job budgets", (it) => {
  it.effect("rescues and stopped workers do not spend max_attempts; a real failure does; rescues are capped", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const { id } = yield* queue.submit({ kind, payload: {}, maxAttempts: 1 })
      // Crash (lease expires): back in the queue although max_attempts is 1.
      const first = yield* claimOne(1)
      assert.isAtLeast(yield* expireAndRescue, 1)
      assert.deepStrictEqual(yield* stateOf(first), { state: "queued", attempts: 1, rescues: 1 })
      // A stopping worker releases its attempt: a rescue too.
      const second = yield* claimOne(60_000)
      const released = yield* queue.fail(worker, second, { tag: "WorkerStopped", message: "stopping", retryable: true })
      assert.strictEqual(released._tag, "Retrying")
      assert.deepStrictEqual(yield* stateOf(second), { state: "queued", attempts: 2, rescues: 2 })
      // The one failure the budget allows: dead now.
      const third = yield* claimOne(60_000)
      const failed = yield* queue.fail(worker, third, { tag: "Boom", message: "handler failed", retryable: true })
      assert.strictEqual(failed._tag, "Dead")
      assert.deepStrictEqual(yield* stateOf(third), { state: "dead", attempts: 3, rescues: 2 })
      const events = yield* queue.events(id)
      assert.deepStrictEqual(events.map((e) => e.kind), ["enqueued", "started", "rescued", "started", "retrying", "started", "dead"])

      // A job that keeps killing its workers ends dead at JOBS_MAX_RESCUES (3) rescues.
      const crashy = yield* queue.submit({ kind, payload: {}, maxAttempts: 5 })
      for (let i = 1; i <= 3; i++) {
        const job = yield* claimOne(1)
        yield* expireAndRescue
        assert.deepStrictEqual(yield* stateOf(job), { state: i < 3 ? "queued" : "dead", attempts: i, rescues: i })
      }
      assert.strictEqual((yield* queue.events(crashy.id)).at(-1)?.kind, "dead")
    }))

  it.effect("a succeeded event carries a bounded summary; the job keeps the full result", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const sql = yield* SqlClient
      const small = { echoed: "HI", n: 3 }
      assert.deepStrictEqual(eventResult(small), small)
      const big = {
        projectId: "p1",
        counts: { pages: 4000 },
        pages: Array.from({ length: 4000 }, (_, i) => ({ id: `id-${i}`, figmaId: `${i}:1`, name: `Screen ${i}` }))
      }
      const { id } = yield* queue.submit({ kind, payload: {} })
      const job = yield* claimOne(60_000)
      assert.strictEqual(job.id, id)
      assert.isTrue(yield* queue.complete(worker, job, big))
      const stored = yield* queue.get(id)
      assert.deepStrictEqual(stored._tag === "Some" ? stored.value.result : undefined, big)
      const events = yield* queue.events(id)
      const succeeded = events.find((e) => e.kind === "succeeded")!.data as { result: Record<string, unknown> }
      assert.deepStrictEqual(succeeded.result, {
        truncated: true,
        bytes: JSON.stringify(big).length,
        projectId: "p1",
        counts: { pages: 4000 },
        pages: 4000
      })
      const [bus] = yield* sql<{ bytes: number }>`
        SELECT octet_length(payload::text) AS bytes FROM cogo.bus_events WHERE job_id = ${id} AND kind = 'succeeded'`
      assert.isBelow(Number(bus!.bytes), maxEventResultChars + 200)
    }))
})
