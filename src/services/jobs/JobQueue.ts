/**
 * The durable job queue on `cogo.jobs` / `cogo.job_events`. This file is the service and its wiring; the
 * statements live by job: `enqueueJobs.ts`, `claimJobs.ts` (claim, heartbeat, rescue), `completeJobs.ts`
 * (complete, fail, cancel), `jobEvents.ts` (audit trail), `jobTransitions.ts` (what each change writes).
 *
 * - `enqueue` runs in the caller's transaction (the job exists iff the caller's work commits); an
 *   idempotency key makes enqueueing again return the same job.
 * - Workers `claim` batches with `FOR UPDATE SKIP LOCKED` under a lease, extend it with `heartbeat`, and
 *   finish with `complete` / `fail`. Completion and failure are fenced by (worker, attempt): a worker whose
 *   lease expired and whose job was rescued and re-claimed cannot overwrite the new attempt's outcome.
 * - `fail` retries per kind with a `Schedule` (exponential, jitter, cap) up to the kind's max attempts; then
 *   the job is `dead`, kept with its errors. `rescueExpired` puts jobs of crashed workers back in the queue.
 * - Budgets: `attempts` counts claims (the fencing token), `rescues` counts attempts lost to an expired lease.
 *   Only failures spend the failure budget (`attempts - rescues` < max attempts); rescues have their own cap
 *   (`JOBS_MAX_RESCUES`, default 10), so a crash loop still ends, but crashes never kill a healthy job.
 * - Events carry bounded data: a `succeeded` event carries `eventResult(result)` (the result itself up to
 *   2 KB, else a summary of counts and ids); the full result is read from the job (`get`).
 * - State changes write their job_events and bus events in the same statement (see `jobTransitions.ts`:
 *   `enqueued`, `started` and `succeeded` are derived from the job row; a kind configured with
 *   `stream: false` keeps its lifecycle off the bus); enqueueing also notifies `jobs` so idle workers wake.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Duration, Effect, Layer, Option, Stream } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import {
  type ClaimedJob,
  type EnqueuedJob,
  type Job,
  type JobError,
  type JobEvent,
  JobGone,
  type JobId,
  type NewJob,
  terminalStates
} from "../../domain/jobs/Job.ts"
import { Database, type NotInTransaction } from "../platform/Database.ts"
import { EventBus } from "../platform/EventBus.ts"
import { Notifications } from "../platform/Notifications.ts"
import { Drain } from "../platform/Drain.ts"
import { whenLeader } from "../platform/Leader.ts"
import { type ClaimOptions, makeClaim, makeHeartbeat, makeRescueExpired } from "./claimJobs.ts"
import { type FailOutcome, makeCancel, makeCompleteMany, makeFail } from "./completeJobs.ts"
import { makeInsertJobs } from "./enqueueJobs.ts"
import { makeAppendEvent, makeEvents } from "./jobEvents.ts"
import { jobColumns, type JobRow, toJob } from "./jobRows.ts"
import { makeTransition } from "./jobTransitions.ts"
import { type KindOptions, makeKindRegistry } from "./kindOptions.ts"
import { exponentialRetry } from "./RetryPolicy.ts"

export type { ClaimOptions } from "./claimJobs.ts"
export type { FailOutcome } from "./completeJobs.ts"

export class JobQueue extends Context.Service<JobQueue, {
  /** Enqueues in the caller's transaction (fails with `NotInTransaction` outside one). */
  readonly enqueue: (job: NewJob) => Effect.Effect<EnqueuedJob, SqlError | NotInTransaction>
  /** Enqueues many in the caller's transaction with one statement (same rules as `enqueue`). */
  readonly enqueueMany: (jobs: ReadonlyArray<NewJob>) => Effect.Effect<ReadonlyArray<EnqueuedJob>, SqlError | NotInTransaction>
  /** Enqueues in its own transaction as the agent role (for callers that have no transaction of their own). */
  readonly submit: (job: NewJob) => Effect.Effect<EnqueuedJob, SqlError>
  /** Claims up to `limit` ready jobs of `kinds` under a lease of `leaseMs`; highest priority, then oldest first. */
  readonly claim: (options: ClaimOptions) => Effect.Effect<ReadonlyArray<ClaimedJob>, SqlError>
  /** Extends the lease of the given running jobs held by `workerId`; returns the ids it still holds. */
  readonly heartbeat: (workerId: string, jobIds: ReadonlyArray<JobId>, leaseMs: number) => Effect.Effect<ReadonlyArray<JobId>, SqlError>
  /** Appends a progress event (job_event + bus event) for a running job. */
  readonly progress: (job: ClaimedJob, data: unknown) => Effect.Effect<void, SqlError>
  /** Appends a log line event. */
  readonly log: (job: ClaimedJob, message: string) => Effect.Effect<void, SqlError>
  /** Marks succeeded with `result`; false when the attempt was no longer this worker's (lease lost). */
  readonly complete: (workerId: string, job: ClaimedJob, result: unknown) => Effect.Effect<boolean, SqlError>
  /** `complete` for many jobs in one statement; returns the ids that were still this worker's. */
  readonly completeMany: (
    workerId: string,
    items: ReadonlyArray<{ readonly job: ClaimedJob; readonly result: unknown }>
  ) => Effect.Effect<ReadonlyArray<JobId>, SqlError>
  /** Records the failure; retries after max(backoff for this attempt, `notBefore`) or goes dead. */
  readonly fail: (
    workerId: string,
    job: ClaimedJob,
    error: JobError,
    notBefore?: Duration.Duration | undefined
  ) => Effect.Effect<FailOutcome, SqlError>
  /** Cancels a queued or running job (a running handler is interrupted at its next heartbeat). */
  readonly cancel: (jobId: JobId, reason?: string | undefined) => Effect.Effect<boolean, SqlError>
  /** Puts running jobs whose lease expired back in the queue (or dead, when out of attempts). */
  readonly rescueExpired: Effect.Effect<number, SqlError>
  readonly get: (jobId: JobId) => Effect.Effect<Option.Option<Job>, SqlError>
  /** The job's audit trail after `afterId` (default: all of it, starting with `enqueued`, id 0). */
  readonly events: (jobId: JobId, afterId?: number | undefined) => Effect.Effect<ReadonlyArray<JobEvent>, SqlError>
  /**
   * Waits until the job is succeeded, dead or cancelled (bus notifications plus polling) and returns it;
   * `JobGone` when no such job is stored (a kind with `keepSucceeded: false` deletes its jobs as they succeed).
   */
  readonly awaitTerminal: (jobId: JobId) => Effect.Effect<Job, SqlError | JobGone>
  /**
   * Sets a kind's retry policy and whether its lifecycle is streamed on the bus (done by
   * `Orchestrator.register`); other kinds use the defaults (JOBS_* retry settings, streamed).
   */
  readonly configureKind: (kind: string, options: Partial<KindOptions>) => Effect.Effect<void>
}>()("cogo/JobQueue") {
  static readonly layer = Layer.effect(JobQueue, Effect.suspend(() => makeJobQueue))
}

const makeJobQueue = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const db = yield* Database
  const bus = yield* EventBus
  const notifications = yield* Notifications
  // Draining (SIGTERM): no new claims; the drain waits until no job claimed by this process still runs.
  const drain = yield* Drain
  const workerIds = new Set<string>()
  yield* drain.track("jobs", Effect.suspend(() =>
    workerIds.size === 0 ? Effect.succeed(false) : Effect.map(
      sql<{ busy: boolean }>`SELECT EXISTS (SELECT 1 FROM cogo.jobs WHERE state = 'running' AND locked_by = ANY(ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify([...workerIds])}::jsonb)))) AS busy`,
      ([row]) => row?.busy === true
    )))
  const kinds = makeKindRegistry({
    retry: exponentialRetry({
      maxAttempts: yield* Config.Int("JOBS_MAX_ATTEMPTS").pipe(Config.withDefault(5)),
      base: yield* Config.Duration("JOBS_RETRY_BASE").pipe(Config.withDefault(Duration.seconds(1))),
      cap: yield* Config.Duration("JOBS_RETRY_CAP").pipe(Config.withDefault(Duration.minutes(5)))
    }),
    stream: true,
    keepSucceeded: true
  })
  const maxRescues = yield* Config.Int("JOBS_MAX_RESCUES").pipe(Config.withDefault(10))

  const transition = makeTransition(sql)
  const insertJobs = makeInsertJobs(sql, transition, kinds)
  const claimJobs = makeClaim(sql, transition, kinds)
  const completeJobs = makeCompleteMany(sql, transition, kinds)
  const appendEvent = makeAppendEvent(sql, db, bus)

  const enqueueMany = Effect.fn("JobQueue.enqueueMany")(function*(jobs: ReadonlyArray<NewJob>) {
    yield* db.requireTransaction("JobQueue.enqueue")
    return yield* insertJobs(jobs)
  })

  const enqueue = Effect.fn("JobQueue.enqueue")(function*(job: NewJob) {
    const [enqueued] = yield* enqueueMany([job])
    return enqueued!
  })

  // A single statement commits atomically on its own (the conflict lookup only reads): no transaction needed.
  const submit = Effect.fn("JobQueue.submit")(function*(job: NewJob) {
    const [enqueued] = yield* insertJobs([job])
    return enqueued!
  })

  const claim = Effect.fn("JobQueue.claim")(function*(options: ClaimOptions) {
    if (options.kinds.length === 0 || options.limit <= 0 || (yield* drain.isDraining)) return []
    workerIds.add(options.workerId)
    return yield* claimJobs(options)
  })

  const completeMany = Effect.fn("JobQueue.completeMany")(completeJobs)

  const complete = Effect.fn("JobQueue.complete")(function*(workerId: string, job: ClaimedJob, result: unknown) {
    const done = yield* completeJobs(workerId, [{ job, result }])
    return done.length === 1
  })

  // A singleton duty: only the leader rescues (followers return 0).
  const rescueExpired = Effect.withSpan(
    whenLeader(makeRescueExpired(sql, transition, maxRescues)).pipe(Effect.map(Option.getOrElse(() => 0))),
    "JobQueue.rescueExpired"
  )

  const get = Effect.fn("JobQueue.get")(function*(jobId: JobId) {
    const rows = yield* sql<JobRow>`SELECT ${sql.unsafe(jobColumns)} FROM cogo.jobs WHERE id = ${jobId}`
    return Option.map(Option.fromNullishOr(rows[0]), toJob)
  })

  const awaitTerminal = (jobId: JobId) =>
    notifications.wakeups("bus", "250 millis").pipe(
      Stream.mapEffect(() => Effect.flatMap(get(jobId), Option.match({ onNone: () => Effect.fail(new JobGone({ jobId })), onSome: Effect.succeed }))),
      Stream.filter((job) => terminalStates.includes(job.state)),
      Stream.runHead,
      Effect.map(Option.getOrThrow),
      Effect.withSpan("JobQueue.awaitTerminal")
    )

  return JobQueue.of({
    enqueue,
    enqueueMany,
    submit,
    claim,
    heartbeat: Effect.fn("JobQueue.heartbeat")(makeHeartbeat(sql)),
    progress: Effect.fn("JobQueue.progress")(function*(job: ClaimedJob, data: unknown) {
      yield* appendEvent(job, "progress", data)
    }),
    log: Effect.fn("JobQueue.log")(function*(job: ClaimedJob, message: string) {
      yield* appendEvent(job, "log", { message })
    }),
    complete,
    completeMany,
    fail: Effect.fn("JobQueue.fail")(makeFail(sql, transition, kinds, maxRescues)),
    cancel: Effect.fn("JobQueue.cancel")(makeCancel(sql, transition)),
    rescueExpired,
    get,
    events: Effect.fn("JobQueue.events")(makeEvents(sql)),
    awaitTerminal,
    configureKind: (kind, options) => Effect.sync(() => kinds.set(kind, options))
  })
})
