/**
 * The job queue's statements as a caller sees them (src/services/jobs/{claimJobs,completeJobs,enqueueJobs,
 * jobTransitions,jobEvents}.ts): one job to one worker, leases and their rescue, the failure budget and its
 * backoff, dead letters, cancel, and the order of a job's events. No handler runs here (the orchestrator's
 * workers are off and its rescue loop waits an hour): each test drives the queue itself, on a real database.
 */
import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Metric, Option, Queue, Stream } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { ClaimedJob, JobId } from "../../src/domain/jobs/Job.ts"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { Notifications, type Topic } from "../../src/services/platform/Notifications.ts"
import { jobTransitions } from "../../src/services/jobs/jobTransitions.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { exponentialRetry } from "../../src/services/jobs/RetryPolicy.ts"
import { jobBusKinds as busKinds } from "./jobBus.ts"
import { jobsLayer } from "./layers.ts"

const env = { JOBS_WORKER_ENABLED: "false", JOBS_RESCUE_INTERVAL: "1 hour", JOBS_MAX_RESCUES: "2", JOBS_MAX_ATTEMPTS: "3" }

interface Row {
  readonly state: string
  readonly attempts: number
  readonly rescues: number
  readonly locked_by: string | null
  readonly lease_ms: number | null
  readonly run_in_ms: number
  readonly finished: boolean
  readonly last_error: { tag: string; message: string; retryable: boolean } | null
}

const row = (id: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const [r] = yield* sql<Row>`
      SELECT state, attempts, rescues, locked_by, last_error, finished_at IS NOT NULL AS finished,
             (extract(epoch FROM lease_expires_at - now()) * 1000)::float8 AS lease_ms,
             (extract(epoch FROM run_at - now()) * 1000)::float8 AS run_in_ms
      FROM cogo.jobs WHERE id = ${id}`
    return r!
  })

/** Moves a running job's lease into the past, as if its worker had stopped renewing it. */
const expireLease = (id: string) =>
  Effect.flatMap(Effect.service(SqlClient), (sql) => sql`UPDATE cogo.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = ${id}`)

/**
 * What a LISTENer of `topic` receives: `listening(topic)` subscribes and waits until a probe comes back (the
 * listener is live); `upToProbe()` then sends a probe and returns every payload received before it. NOTIFYs are
 * delivered in commit order, so the payloads are exactly those of the statements committed in between.
 */
const listening = (topic: Topic) =>
  Effect.gen(function*() {
    const notifications = yield* Notifications
    const received = yield* Queue.unbounded<string>()
    yield* notifications.subscribe(topic).pipe(Stream.runForEach((n) => Queue.offer(received, n.payload)), Effect.forkChild)
    let probes = 0
    const upToProbe = Effect.gen(function*() {
      const probe = `probe-${++probes}`
      yield* notifications.notify(topic, probe)
      const before: Array<string> = []
      for (;;) {
        const payload = yield* Queue.take(received).pipe(Effect.timeout("5 seconds"))
        if (payload === probe) return before
        if (!payload.startsWith("probe-")) before.push(payload)
      }
    })
    // Until the listener is live, probes may be lost: retry a short wait for one.
    yield* Effect.gen(function*() {
      const probe = `probe-${++probes}`
      yield* notifications.notify(topic, probe)
      for (;;) {
        const payload = yield* Queue.take(received).pipe(Effect.timeout("100 millis"))
        if (payload === probe) return
      }
    }).pipe(Effect.retry({ times: 100 }))
    yield* upToProbe
    return { upToProbe }
  })

/** The transition counter of one kind and event. */
const transitions = (kind: string, event: string) =>
  Effect.map(Metric.value(Metric.withAttributes(jobTransitions, { kind, event })), (state) => state.count)

const transient = { tag: "ProviderUnavailable", message: "down", retryable: true }
const permanent = { tag: "InvalidToolInput", message: "nope", retryable: false }

layer(jobsLayer(env), { excludeTestServices: true })("job queue statements", (it) => {
  it.effect("claim: ready jobs of the asked kinds, highest priority then oldest, each to one worker only", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const projectId = "00000000-0000-0000-0000-0000000000c1"
      const low = yield* queue.submit({ kind: "mq.claim", payload: { n: 1 }, projectId, maxAttempts: 7 })
      const high = yield* queue.submit({ kind: "mq.claim", payload: { n: 2 }, priority: 5 })
      const later = yield* queue.submit({ kind: "mq.claim", payload: { n: 3 }, delayMs: 60_000 })
      yield* queue.submit({ kind: "mq.other", payload: {} })

      assert.deepStrictEqual(yield* queue.claim({ workerId: "w0", kinds: ["mq.claim"], limit: 0, leaseMs: 1000 }), [])
      assert.deepStrictEqual(yield* queue.claim({ workerId: "w0", kinds: [], limit: 5, leaseMs: 1000 }), [])
      // Leases of a minute, as in the rest of this file: these jobs stay running, and a lease that expired mid-file
      // would be rescued by the exact-count sweeps of later tests.
      const [first, ...none] = yield* queue.claim({ workerId: "w1", kinds: ["mq.claim"], limit: 1, leaseMs: 60_000 })
      assert.strictEqual(none.length, 0)
      assert.strictEqual(first!.id, high.id, "highest priority first")
      const [second, ...rest] = yield* queue.claim({ workerId: "w2", kinds: ["mq.claim"], limit: 5, leaseMs: 60_000 })
      assert.strictEqual(rest.length, 0, "the delayed job and the other kind are not claimed; the claimed one not again")
      assert.strictEqual(second!.id, low.id)
      assert.strictEqual(second!.kind, "mq.claim")
      assert.strictEqual(second!.projectId, projectId)
      assert.deepStrictEqual(second!.payload, { n: 1 })
      assert.strictEqual(second!.attempt, 1)
      assert.strictEqual(second!.maxAttempts, 7)
      assert.instanceOf(second!.startedAt, Date)
      assert.instanceOf(second!.createdAt, Date)

      const held = yield* row(second!.id)
      assert.strictEqual(held.state, "running")
      assert.strictEqual(held.locked_by, "w2")
      assert.strictEqual(held.attempts, 1)
      assert.isTrue(held.lease_ms! > 58_000 && held.lease_ms! <= 60_000, `lease ${held.lease_ms}`)
      assert.strictEqual((yield* row(later.id)).state, "queued")
      assert.deepStrictEqual(yield* queue.claim({ workerId: "w3", kinds: ["mq.claim"], limit: 5, leaseMs: 60_000 }), [])

      // Several kinds at once; concurrent claimers split the jobs without overlap.
      const many = yield* Effect.forEach(Array.from({ length: 6 }, (_, i) => i), (i) =>
        queue.submit({ kind: i % 2 === 0 ? "mq.multi-a" : "mq.multi-b", payload: { i } }))
      const claims = yield* Effect.all(
        ["x", "y", "z"].map((w) => queue.claim({ workerId: w, kinds: ["mq.multi-a", "mq.multi-b"], limit: 3, leaseMs: 60_000 })),
        { concurrency: "unbounded" }
      )
      const ids = claims.flat().map((j) => j.id)
      assert.strictEqual(ids.length, 6)
      assert.strictEqual(new Set(ids).size, 6, "no job claimed twice")
      assert.deepStrictEqual([...ids].sort(), many.map((j) => j.id).sort())
      assert.deepStrictEqual(yield* queue.claim({ workerId: "w4", kinds: ["mq.other", "mq.nothing"], limit: 5, leaseMs: 60_000 }).pipe(
        Effect.map((jobs) => jobs.map((j) => j.kind))
      ), ["mq.other"])
    }))

  it.effect("heartbeat extends only the caller's running jobs", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const { id } = yield* queue.submit({ kind: "mq.heartbeat", payload: {} })
      const [job] = yield* queue.claim({ workerId: "hb", kinds: ["mq.heartbeat"], limit: 1, leaseMs: 1000 })
      assert.deepStrictEqual(yield* queue.heartbeat("hb", [], 60_000), [])
      assert.deepStrictEqual(yield* queue.heartbeat("someone-else", [job!.id], 60_000), [])
      assert.isTrue((yield* row(id)).lease_ms! <= 1000, "another worker's heartbeat does not extend the lease")
      assert.deepStrictEqual(yield* queue.heartbeat("hb", [job!.id], 60_000), [id])
      assert.isTrue((yield* row(id)).lease_ms! > 50_000, "the lease is extended")
      assert.isTrue(yield* queue.cancel(id))
      assert.deepStrictEqual(yield* queue.heartbeat("hb", [job!.id], 60_000), [], "a cancelled job is no longer held")
    }))

  it.effect("an expired lease is rescued without spending the failure budget; too many rescues are dead", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const { id } = yield* queue.submit({ kind: "mq.rescue", payload: {}, maxAttempts: 1 })
      const [a] = yield* queue.claim({ workerId: "ghost-1", kinds: ["mq.rescue"], limit: 1, leaseMs: 60_000 })
      assert.strictEqual(yield* queue.rescueExpired, 0, "a live lease is not rescued")
      yield* expireLease(id)
      assert.strictEqual(yield* queue.rescueExpired, 1)
      const rescued = yield* row(id)
      assert.strictEqual(rescued.state, "queued")
      assert.strictEqual(rescued.rescues, 1)
      assert.strictEqual(rescued.attempts, 1)
      assert.isNull(rescued.locked_by)
      assert.isNull(rescued.lease_ms)
      assert.isFalse(rescued.finished)
      assert.isTrue(rescued.run_in_ms <= 0, "ready again at once")
      assert.deepStrictEqual(rescued.last_error, { tag: "LeaseExpired", message: "worker ghost-1 stopped renewing its lease", retryable: true })
      assert.isFalse(yield* queue.complete("ghost-1", a!, "late"), "the lost attempt cannot complete")

      // Attempt 2 is lost too: the second rescue reaches JOBS_MAX_RESCUES and the job is dead (max attempts 1 never spent).
      const [b] = yield* queue.claim({ workerId: "ghost-2", kinds: ["mq.rescue"], limit: 1, leaseMs: 60_000 })
      assert.strictEqual(b!.attempt, 2)
      yield* expireLease(id)
      assert.strictEqual(yield* queue.rescueExpired, 1)
      const dead = yield* row(id)
      assert.strictEqual(dead.state, "dead", "JOBS_MAX_RESCUES = 2")
      assert.strictEqual(dead.rescues, 2)
      assert.isTrue(dead.finished)
      assert.isFalse(yield* queue.complete("ghost-2", b!, "late"))
      const events = yield* queue.events(id)
      assert.deepStrictEqual(events.map((e) => e.kind), ["enqueued", "started", "rescued", "started", "dead"])
      assert.deepStrictEqual(events.map((e) => e.id), [...events.map((e) => e.id)].sort((x, y) => x - y))
      assert.deepStrictEqual((events[1]!.data as { workerId: string }).workerId, "ghost-1")
      assert.deepStrictEqual(events[3]!.data, { state: "running", attempt: 2, workerId: "ghost-2" })
      const deadData = events[4]!.data as { state: string; attempt: number; rescues: number; workerId: string }
      assert.strictEqual(deadData.state, "dead")
      assert.strictEqual(deadData.rescues, 2)
      assert.strictEqual(deadData.workerId, "ghost-2")
      assert.deepStrictEqual(yield* busKinds(id), ["enqueued", "started", "rescued", "started", "dead"])
    }))

  it.effect("a rescued job with budget left fails normally afterwards: rescues do not count as failures", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* queue.configureKind("mq.budget", { retry: exponentialRetry({ base: "10 millis", cap: "10 millis", maxAttempts: 2, jitter: false }) })
      const { id } = yield* queue.submit({ kind: "mq.budget", payload: {} })
      yield* queue.claim({ workerId: "w", kinds: ["mq.budget"], limit: 1, leaseMs: 60_000 })
      yield* expireLease(id)
      assert.strictEqual(yield* queue.rescueExpired, 1)
      const [second] = yield* queue.claim({ workerId: "w", kinds: ["mq.budget"], limit: 1, leaseMs: 60_000 })
      const retry = yield* queue.fail("w", second!, transient)
      assert.strictEqual(retry._tag, "Retrying", "attempt 2 is the first failure of 2 allowed")
      yield* Effect.sleep("30 millis")
      const [third] = yield* queue.claim({ workerId: "w", kinds: ["mq.budget"], limit: 1, leaseMs: 60_000 })
      assert.strictEqual(third!.attempt, 3)
      assert.deepStrictEqual(yield* queue.fail("w", third!, transient), { _tag: "Dead", attempt: 3 })
    }))

  it.effect("fail: retries after the kind's backoff (or notBefore) until the smaller of the job's and the kind's max attempts", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* queue.configureKind("mq.retry", { retry: exponentialRetry({ base: "1 second", cap: "10 seconds", maxAttempts: 3, jitter: false }) })
      const { id } = yield* queue.submit({ kind: "mq.retry", payload: {}, maxAttempts: 10 })
      const claimNow = Effect.gen(function*() {
        const sql = yield* SqlClient
        yield* sql`UPDATE cogo.jobs SET run_at = now() WHERE id = ${id}`
        const [job] = yield* queue.claim({ workerId: "r", kinds: ["mq.retry"], limit: 1, leaseMs: 60_000 })
        return job!
      })
      const first = yield* claimNow
      assert.deepStrictEqual(yield* queue.fail("other", first, transient), { _tag: "Stale" }, "not this worker's attempt")
      assert.strictEqual((yield* row(id)).state, "running")
      const out1 = yield* queue.fail("r", first, transient)
      assert.strictEqual(out1._tag, "Retrying")
      const after1 = yield* row(id)
      assert.strictEqual(after1.state, "queued")
      assert.isNull(after1.locked_by)
      assert.isNull(after1.lease_ms)
      assert.isFalse(after1.finished)
      // Lower bounds leave time for a loaded machine between the fail and the read; the upper ones are exact.
      assert.isTrue(after1.run_in_ms > 500 && after1.run_in_ms <= 1000, `first backoff ${after1.run_in_ms}`)
      assert.deepStrictEqual(after1.last_error, transient)
      if (out1._tag === "Retrying") {
        assert.strictEqual(out1.attempt, 1)
        assert.isTrue(out1.runAt.getTime() - Date.now() > 500, "runAt is the retry time")
      }
      assert.deepStrictEqual(yield* queue.claim({ workerId: "r", kinds: ["mq.retry"], limit: 1, leaseMs: 60_000 }), [], "not before its backoff")

      const second = yield* claimNow
      assert.strictEqual(second.attempt, 2)
      assert.strictEqual((yield* queue.fail("r", second, transient))._tag, "Retrying")
      const after2 = yield* row(id)
      assert.isTrue(after2.run_in_ms > 1500 && after2.run_in_ms <= 2000, `second backoff doubles: ${after2.run_in_ms}`)

      // A failure to a stale attempt number (the job's attempt moved on) changes nothing.
      const third = yield* claimNow
      assert.deepStrictEqual(yield* queue.fail("r", first, transient), { _tag: "Stale" })
      assert.deepStrictEqual(yield* queue.fail("r", third, transient), { _tag: "Dead", attempt: 3 }, "the kind allows 3 attempts")
      const dead = yield* row(id)
      assert.strictEqual(dead.state, "dead")
      assert.isTrue(dead.finished)
      assert.isTrue(dead.run_in_ms <= 0)
      assert.strictEqual(dead.attempts, 3)

      // The job's own max attempts when smaller; notBefore when longer than the backoff.
      const capped = yield* queue.submit({ kind: "mq.retry", payload: {}, maxAttempts: 2 })
      const [c1] = yield* queue.claim({ workerId: "r", kinds: ["mq.retry"], limit: 1, leaseMs: 60_000 })
      assert.strictEqual(c1!.id, capped.id)
      assert.strictEqual((yield* queue.fail("r", c1!, transient, Duration.seconds(30)))._tag, "Retrying")
      const waited = yield* row(capped.id)
      assert.isTrue(waited.run_in_ms > 28_000 && waited.run_in_ms <= 30_000, `notBefore ${waited.run_in_ms}`)
      const sql = yield* SqlClient
      yield* sql`UPDATE cogo.jobs SET run_at = now() WHERE id = ${capped.id}`
      const [c2] = yield* queue.claim({ workerId: "r", kinds: ["mq.retry"], limit: 1, leaseMs: 60_000 })
      assert.deepStrictEqual(yield* queue.fail("r", c2!, transient), { _tag: "Dead", attempt: 2 })

      // A permanent error is dead at once, whatever the budget.
      const perm = yield* queue.submit({ kind: "mq.retry", payload: {}, maxAttempts: 10 })
      const [p] = yield* queue.claim({ workerId: "r", kinds: ["mq.retry"], limit: 1, leaseMs: 60_000 })
      assert.strictEqual(p!.id, perm.id)
      assert.deepStrictEqual(yield* queue.fail("r", p!, permanent), { _tag: "Dead", attempt: 1 })
      assert.deepStrictEqual((yield* row(perm.id)).last_error, permanent)
      const events = yield* queue.events(perm.id)
      assert.deepStrictEqual(events.map((e) => e.kind), ["enqueued", "started", "dead"])
      const data = events[2]!.data as { state: string; attempt: number; error: unknown; workerId: string }
      assert.strictEqual(data.state, "dead")
      assert.strictEqual(data.attempt, 1)
      assert.deepStrictEqual(data.error, permanent)
      assert.strictEqual(data.workerId, "r")
    }))

  it.effect("a worker that stops releases its attempt as a rescue: queued at once, failure budget untouched", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* queue.configureKind("mq.stop", { retry: exponentialRetry({ base: "1 second", cap: "1 second", maxAttempts: 1, jitter: false }) })
      const { id } = yield* queue.submit({ kind: "mq.stop", payload: {} })
      const [a] = yield* queue.claim({ workerId: "s", kinds: ["mq.stop"], limit: 1, leaseMs: 60_000 })
      const out = yield* queue.fail("s", a!, { tag: "WorkerStopped", message: "stopping", retryable: true })
      assert.strictEqual(out._tag, "Retrying")
      const r = yield* row(id)
      assert.strictEqual(r.state, "queued")
      assert.strictEqual(r.rescues, 1)
      assert.isTrue(r.run_in_ms <= 0, "no backoff")
      const [b] = yield* queue.claim({ workerId: "s", kinds: ["mq.stop"], limit: 1, leaseMs: 60_000 })
      assert.deepStrictEqual(yield* queue.fail("s", b!, { tag: "WorkerStopped", message: "stopping", retryable: true }), {
        _tag: "Dead",
        attempt: 2
      }, "JOBS_MAX_RESCUES = 2")
      assert.strictEqual((yield* row(id)).rescues, 2)
    }))

  it.effect("complete is fenced by worker and attempt; completeMany returns only the caller's jobs", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const sql = yield* SqlClient
      const a = yield* queue.submit({ kind: "mq.done", payload: {} })
      const b = yield* queue.submit({ kind: "mq.done", payload: {} })
      const [ja] = yield* queue.claim({ workerId: "c1", kinds: ["mq.done"], limit: 1, leaseMs: 60_000 })
      const [jb] = yield* queue.claim({ workerId: "c2", kinds: ["mq.done"], limit: 1, leaseMs: 60_000 })
      assert.deepStrictEqual(yield* queue.completeMany("c1", []), [])
      assert.isFalse(yield* queue.complete("c1", { ...ja!, attempt: 2 }, "wrong attempt"))
      const done = yield* queue.completeMany("c1", [{ job: ja!, result: { r: "a" } }, { job: jb!, result: { r: "b" } }])
      assert.deepStrictEqual(done, [ja!.id])
      const [stateA] = yield* sql<{ state: string; result: unknown; lease: boolean; finished: boolean }>`
        SELECT state, result, lease_expires_at IS NOT NULL AS lease, finished_at IS NOT NULL AS finished FROM cogo.jobs WHERE id = ${a.id}`
      assert.deepStrictEqual(stateA, { state: "succeeded", result: { r: "a" }, lease: false, finished: true })
      assert.strictEqual((yield* row(b.id)).state, "running")
      assert.isFalse(yield* queue.complete("c1", ja!, "twice"), "a finished job cannot complete again")
      assert.isTrue(yield* queue.complete("c2", jb!, undefined))
      assert.strictEqual(Option.getOrThrow(yield* queue.get(b.id)).result, null)
      const trail = yield* queue.events(a.id)
      assert.deepStrictEqual(trail.map((e) => [e.id, e.kind]), [[0, "enqueued"], [1, "started"], [2, "succeeded"]])
      assert.deepStrictEqual(trail[1]!.data, { state: "running", attempt: 1, workerId: "c1" })
      assert.deepStrictEqual(trail[2]!.data, { state: "succeeded", attempt: 1, result: { r: "a" } })
      assert.deepStrictEqual(yield* busKinds(a.id), ["enqueued", "started", "succeeded"])
    }))

  it.effect("cancel: queued or running only; a cancelled job is never claimed and its running worker loses it", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const queued = yield* queue.submit({ kind: "mq.cancel", payload: {}, delayMs: 60_000 })
      assert.isTrue(yield* queue.cancel(queued.id, "not needed"))
      assert.isFalse(yield* queue.cancel(queued.id), "already cancelled")
      const q = yield* row(queued.id)
      assert.strictEqual(q.state, "cancelled")
      assert.isTrue(q.finished)
      const qEvents = yield* queue.events(queued.id)
      assert.deepStrictEqual(qEvents.map((e) => e.kind), ["enqueued", "cancelled"])
      assert.deepStrictEqual(qEvents[1]!.data, { state: "cancelled", reason: "not needed" })

      const running = yield* queue.submit({ kind: "mq.cancel", payload: {} })
      const [job] = yield* queue.claim({ workerId: "k", kinds: ["mq.cancel"], limit: 5, leaseMs: 60_000 })
      assert.strictEqual(job!.id, running.id, "the cancelled queued job is not claimed")
      assert.isTrue(yield* queue.cancel(running.id))
      const r = yield* row(running.id)
      assert.strictEqual(r.state, "cancelled")
      assert.isNull(r.locked_by)
      assert.isNull(r.lease_ms)
      assert.isFalse(yield* queue.complete("k", job!, "too late"))
      assert.deepStrictEqual(yield* queue.fail("k", job!, transient), { _tag: "Stale" })
      const events = yield* queue.events(running.id)
      assert.deepStrictEqual(events.map((e) => e.kind), ["enqueued", "started", "cancelled"])
      const data = events[2]!.data as { state: string; reason: string; attempt: number; workerId: string; startedAt: string }
      assert.strictEqual(data.reason, "cancelled")
      assert.strictEqual(data.attempt, 1)
      assert.strictEqual(data.workerId, "k")
      assert.strictEqual(typeof data.startedAt, "string")

      const finished = yield* queue.submit({ kind: "mq.cancel", payload: {} })
      const [f] = yield* queue.claim({ workerId: "k", kinds: ["mq.cancel"], limit: 5, leaseMs: 60_000 })
      assert.isTrue(yield* queue.complete("k", f!, 1))
      assert.isFalse(yield* queue.cancel(finished.id), "a succeeded job cannot be cancelled")
      assert.strictEqual((yield* row(finished.id)).state, "succeeded")
    }))

  it.effect("events: a retried job's trail in order, paged by afterId; a quiet kind keeps its lifecycle off the bus", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const sql = yield* SqlClient
      yield* queue.configureKind("mq.trail", { retry: exponentialRetry({ base: "10 millis", cap: "10 millis", maxAttempts: 5, jitter: false }) })
      const { id } = yield* queue.submit({ kind: "mq.trail", payload: {} })
      const claimOne = (worker: string) =>
        Effect.flatMap(sql`UPDATE cogo.jobs SET run_at = now() WHERE id = ${id}`, () =>
          Effect.map(queue.claim({ workerId: worker, kinds: ["mq.trail"], limit: 1, leaseMs: 60_000 }), (jobs) => jobs[0] as ClaimedJob))
      const a1 = yield* claimOne("t1")
      yield* queue.progress(a1, { pct: 10 })
      yield* queue.fail("t1", a1, transient)
      const a2 = yield* claimOne("t2")
      yield* queue.log(a2, "hello")
      assert.isTrue(yield* queue.complete("t2", a2, { ok: 1 }))
      const trail = yield* queue.events(id)
      assert.deepStrictEqual(trail.map((e) => e.kind), ["enqueued", "started", "progress", "retrying", "started", "log", "succeeded"])
      const ids = trail.map((e) => e.id)
      assert.deepStrictEqual(ids, [...ids].sort((x, y) => x - y))
      assert.strictEqual(new Set(ids).size, ids.length)
      assert.deepStrictEqual(trail[1]!.data, { state: "running", attempt: 1, workerId: "t1" })
      assert.deepStrictEqual(trail[4]!.data, { state: "running", attempt: 2, workerId: "t2" })
      assert.deepStrictEqual(trail[0]!.data, { state: "queued" }, "runAt only until the job starts")
      assert.deepStrictEqual(trail[6]!.data, { state: "succeeded", attempt: 2, result: { ok: 1 } })
      assert.deepStrictEqual((yield* queue.events(id, trail[3]!.id)).map((e) => e.kind), ["started", "log", "succeeded"])
      assert.deepStrictEqual(yield* busKinds(id as JobId), ["enqueued", "started", "progress", "retrying", "started", "log", "succeeded"])

      yield* queue.configureKind("mq.quiet", { stream: false })
      const quiet = yield* queue.submit({ kind: "mq.quiet", payload: {} })
      const [qj] = yield* queue.claim({ workerId: "t3", kinds: ["mq.quiet"], limit: 1, leaseMs: 60_000 })
      assert.isTrue(yield* queue.complete("t3", qj!, { big: "x".repeat(10) }))
      assert.deepStrictEqual(yield* busKinds(quiet.id), [])
      assert.deepStrictEqual((yield* queue.events(quiet.id)).map((e) => e.kind), ["enqueued", "started", "succeeded"])
    }))

  it.effect("a claim mixing a quiet kind and a streamed kind still puts the streamed job's start on the bus", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      yield* queue.configureKind("mq.mixed-quiet", { stream: false })
      const quiet = yield* queue.submit({ kind: "mq.mixed-quiet", payload: {} })
      const loud = yield* queue.submit({ kind: "mq.mixed-loud", payload: {} })
      assert.deepStrictEqual(yield* busKinds(loud.id), ["enqueued"])
      const claimed = yield* queue.claim({ workerId: "mix", kinds: ["mq.mixed-quiet", "mq.mixed-loud"], limit: 2, leaseMs: 60_000 })
      assert.deepStrictEqual(claimed.map((j) => j.id).sort(), [quiet.id, loud.id].sort())
      assert.deepStrictEqual(yield* busKinds(loud.id), ["enqueued", "started"], "a realtime subscriber of the streamed job sees it start")
      const loudJob = claimed.find((j) => j.id === loud.id)!
      assert.isTrue(yield* queue.complete("mix", loudJob, { ok: true }))
      assert.deepStrictEqual(yield* busKinds(loud.id), ["enqueued", "started", "succeeded"])
    }))
  it.effect("enqueue: an empty batch enqueues nothing; a job keeps its creator and the caller's trace; the caller sees it queued", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const db = yield* Database
      const sql = yield* SqlClient
      assert.deepStrictEqual(yield* db.withRole(DbRole.agent, queue.enqueueMany([])), [])
      const createdBy = "00000000-0000-0000-0000-0000000000b7"
      const [job, span] = yield* Effect.gen(function*() {
        const enqueued = yield* queue.submit({ kind: "mq.owned", payload: {}, createdBy })
        return [enqueued, yield* Effect.currentSpan] as const
      }).pipe(Effect.withSpan("caller"))
      assert.strictEqual(job.created, true)
      assert.strictEqual(job.state, "queued")
      const [stored] = yield* sql<{ created_by: string | null; traceparent: string | null }>`
        SELECT created_by, traceparent FROM cogo.jobs WHERE id = ${job.id}`
      assert.strictEqual(stored!.created_by, createdBy, "realtime authorises a project-less job's watcher by its creator")
      assert.match(stored!.traceparent ?? "", new RegExp(`^00-${span.traceId}-[0-9a-f]{16}-0[01]$`), "the worker continues the caller's trace")
      const [bus] = (yield* Effect.flatMap(Effect.service(EventBus), (b) => b.since({ afterId: 0, jobId: job.id })))
      assert.strictEqual(bus!.traceparent, stored!.traceparent)
    }))

  it.effect("enqueue: a batch mixing a quiet and a streamed kind puts only the streamed job's enqueued on the bus", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const db = yield* Database
      yield* queue.configureKind("mq.batch-quiet", { stream: false })
      yield* queue.configureKind("mq.batch-quiet2", { stream: false })
      const [q1, loud, q2, q3] = yield* db.withRole(DbRole.agent, queue.enqueueMany([
        { kind: "mq.batch-quiet", payload: {} },
        { kind: "mq.batch-loud", payload: {} },
        { kind: "mq.batch-quiet2", payload: {} },
        { kind: "mq.batch-quiet", payload: {} }
      ]))
      assert.deepStrictEqual(yield* busKinds(loud!.id), ["enqueued"])
      for (const q of [q1!, q2!, q3!]) assert.deepStrictEqual(yield* busKinds(q.id), [])
      // One quiet and one streamed kind.
      const [q4, loud2] = yield* db.withRole(DbRole.agent, queue.enqueueMany([
        { kind: "mq.batch-quiet", payload: {} },
        { kind: "mq.batch-loud", payload: {} }
      ]))
      assert.deepStrictEqual(yield* busKinds(loud2!.id), ["enqueued"])
      assert.deepStrictEqual(yield* busKinds(q4!.id), [])
      // Two quiet kinds alone: none streams.
      const [a, b] = yield* db.withRole(DbRole.agent, queue.enqueueMany([
        { kind: "mq.batch-quiet", payload: {} },
        { kind: "mq.batch-quiet2", payload: {} }
      ]))
      assert.deepStrictEqual([...(yield* busKinds(a!.id)), ...(yield* busKinds(b!.id))], [])
    }))

  it.effect("notifications: enqueue wakes workers with topic jobs; a change that streams or ends jobs wakes bus listeners, others do not", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const jobs = yield* listening("jobs")
      const bus = yield* listening("bus")
      yield* queue.configureKind("mq.wake-quiet", { stream: false })

      const loud = yield* queue.submit({ kind: "mq.wake-loud", payload: {} })
      assert.deepStrictEqual(yield* jobs.upToProbe, ["mq.wake-loud"], "idle workers are woken for the new job's kind")
      const loudBus = yield* bus.upToProbe
      assert.strictEqual(loudBus.length, 1, "the streamed enqueue notifies bus listeners once")
      const [enqueued] = yield* Effect.flatMap(Effect.service(EventBus), (b) => b.since({ afterId: 0, jobId: loud.id }))
      assert.deepStrictEqual(loudBus, [String(enqueued!.id)], "with the last bus event id")

      yield* queue.submit({ kind: "mq.wake-quiet", payload: {} })
      assert.deepStrictEqual(yield* jobs.upToProbe, ["mq.wake-quiet"])
      assert.deepStrictEqual(yield* bus.upToProbe, [], "a quiet enqueue streams nothing and ends no job: no bus notification")

      const [claimed] = yield* queue.claim({ workerId: "wk", kinds: ["mq.wake-quiet"], limit: 1, leaseMs: 60_000 })
      assert.deepStrictEqual(yield* bus.upToProbe, [], "a quiet start: no bus notification")
      assert.isTrue(yield* queue.complete("wk", claimed!, { ok: true }))
      assert.deepStrictEqual(yield* bus.upToProbe, [""], "a quiet job that ends still wakes awaitTerminal (nothing new on the bus)")
      assert.deepStrictEqual(yield* jobs.upToProbe, [], "claims and completions create no work: workers are not woken")

      // A rescued job is work again: idle workers are woken for it.
      const lost = yield* queue.submit({ kind: "mq.wake-rescue", payload: {} })
      yield* queue.claim({ workerId: "wk", kinds: ["mq.wake-rescue"], limit: 1, leaseMs: 60_000 })
      yield* jobs.upToProbe
      yield* expireLease(lost.id)
      assert.strictEqual(yield* queue.rescueExpired, 1)
      assert.deepStrictEqual(yield* jobs.upToProbe, ["mq.wake-rescue"])
    }))

  it.effect("metrics: cogo_job_transitions_total counts each change by kind and event", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const db = yield* Database
      const before = {
        a: yield* transitions("mq.count-a", "enqueued"),
        b: yield* transitions("mq.count-b", "enqueued"),
        started: yield* transitions("mq.count-a", "started")
      }
      yield* db.withRole(DbRole.agent, queue.enqueueMany([
        { kind: "mq.count-a", payload: {} },
        { kind: "mq.count-b", payload: {} },
        { kind: "mq.count-a", payload: {} },
        { kind: "mq.count-a", payload: {} }
      ]))
      assert.strictEqual((yield* transitions("mq.count-a", "enqueued")) - before.a, 3)
      assert.strictEqual((yield* transitions("mq.count-b", "enqueued")) - before.b, 1)
      yield* queue.claim({ workerId: "cnt", kinds: ["mq.count-a"], limit: 2, leaseMs: 60_000 })
      assert.strictEqual((yield* transitions("mq.count-a", "started")) - before.started, 2)
      const snapshot = (yield* Metric.snapshot).find((m) =>
        m.id === "cogo_job_transitions_total" && m.attributes?.["kind"] === "mq.count-b" && m.attributes?.["event"] === "enqueued")
      assert.isDefined(snapshot, "exported under its documented name, labelled by kind and event")
      assert.strictEqual(snapshot!.type, "Counter")
      assert.strictEqual(snapshot!.description, "Job state changes, by job kind and event")
      assert.deepInclude(snapshot!.state as object, { count: before.b + 1, incremental: true })
    }))

  it.effect("events: an unknown job has none; progress data is kept as given and streamed with the job's kind, attempt and trace", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      assert.deepStrictEqual(yield* queue.events("00000000-0000-0000-0000-00000000dead" as JobId), [])
      const { id } = yield* queue.submit({ kind: "mq.progress", payload: {} })
      const [job] = yield* queue.claim({ workerId: "pg", kinds: ["mq.progress"], limit: 1, leaseMs: 60_000 })
      // The handler's own data may carry an `attempt` field: it is opaque, not an attempt's end.
      yield* queue.progress(job!, { pct: 50, attempt: 1 })
      assert.isTrue(yield* queue.complete("pg", job!, { ok: true }))
      const trail = yield* queue.events(id)
      assert.deepStrictEqual(trail.map((e) => e.kind), ["enqueued", "started", "progress", "succeeded"])
      assert.deepStrictEqual(trail[1]!.data, { state: "running", attempt: 1, workerId: "pg" })
      assert.deepStrictEqual(trail[2]!.data, { pct: 50, attempt: 1 })
      const events = yield* Effect.flatMap(Effect.service(EventBus), (b) => b.since({ afterId: 0, jobId: id }))
      const progress = events.find((e) => e.kind === "progress")!
      assert.deepStrictEqual(progress.payload, { jobKind: "mq.progress", attempt: 1, data: { pct: 50, attempt: 1 } })
      assert.isNotNull(job!.traceparent)
      assert.strictEqual(progress.traceparent, job!.traceparent)
    }))

  it.effect("events: a job cancelled while running keeps its attempt's start (worker and time from the cancel event)", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const { id } = yield* queue.submit({ kind: "mq.cancel-trail", payload: {} })
      const [job] = yield* queue.claim({ workerId: "cw", kinds: ["mq.cancel-trail"], limit: 1, leaseMs: 60_000 })
      assert.isTrue(yield* queue.cancel(id))
      const trail = yield* queue.events(id)
      assert.deepStrictEqual(trail.map((e) => e.kind), ["enqueued", "started", "cancelled"])
      assert.deepStrictEqual(trail[1]!.data, { state: "running", attempt: 1, workerId: "cw" })
      assert.strictEqual(trail[1]!.createdAt, job!.startedAt.toISOString())
    }))

  it.effect("events: a line logged by a lost attempt after the job succeeded comes after its succeeded event", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const { id } = yield* queue.submit({ kind: "mq.late-log", payload: {} })
      const [lost] = yield* queue.claim({ workerId: "gone", kinds: ["mq.late-log"], limit: 1, leaseMs: 60_000 })
      yield* expireLease(id)
      // Other tests' expired leases may be rescued in the same sweep.
      assert.isAtLeast(yield* queue.rescueExpired, 1)
      const [second] = yield* queue.claim({ workerId: "live", kinds: ["mq.late-log"], limit: 1, leaseMs: 60_000 })
      assert.isTrue(yield* queue.complete("live", second!, 1))
      yield* Effect.sleep("5 millis")
      yield* queue.log(lost!, "still here")
      assert.deepStrictEqual((yield* queue.events(id)).map((e) => e.kind), ["enqueued", "started", "rescued", "started", "succeeded", "log"])
    }))

  it.effect("events: a line logged in the transaction that completes the job comes before its succeeded event", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const sql = yield* SqlClient
      const { id } = yield* queue.submit({ kind: "mq.same-tx", payload: {} })
      const [job] = yield* queue.claim({ workerId: "tx", kinds: ["mq.same-tx"], limit: 1, leaseMs: 60_000 })
      yield* sql.withTransaction(Effect.andThen(queue.log(job!, "done soon"), queue.complete("tx", job!, 1)))
      const [times] = yield* sql<{ same: boolean }>`
        SELECT (SELECT max(created_at) FROM cogo.job_events WHERE job_id = ${id}) = finished_at AS same FROM cogo.jobs WHERE id = ${id}`
      assert.isTrue(times!.same, "written at the same transaction time")
      assert.deepStrictEqual((yield* queue.events(id)).map((e) => e.kind), ["enqueued", "started", "log", "succeeded"])
    }))

  it.effect("events: rows of older versions without the attempt's start (or its number) yield no invented started event", () =>
    Effect.gen(function*() {
      const queue = yield* JobQueue
      const sql = yield* SqlClient
      const [job] = yield* sql<{ id: JobId }>`
        INSERT INTO cogo.jobs (kind, state, attempts, started_at, locked_by)
        VALUES ('mq.legacy', 'running', 3, now(), 'w3') RETURNING id`
      yield* sql`INSERT INTO cogo.job_events (job_id, kind, data) VALUES
        (${job!.id}, 'retrying', '{"state":"queued","attempt":1}'), (${job!.id}, 'retrying', '{"state":"queued"}')`
      const trail = yield* queue.events(job!.id)
      assert.deepStrictEqual(trail.map((e) => e.kind), ["enqueued", "retrying", "retrying"],
        "attempt 1 and 2 have no known start; attempt 3 follows an attempt whose end row is unnumbered")
      const [done] = yield* sql<{ id: JobId }>`
        INSERT INTO cogo.jobs (kind, state, attempts) VALUES ('mq.legacy', 'succeeded', 1) RETURNING id`
      assert.deepStrictEqual((yield* queue.events(done!.id)).map((e) => e.kind), ["enqueued"],
        "no finish time, no derived succeeded (and no start time, no derived started)")
    }))
})
