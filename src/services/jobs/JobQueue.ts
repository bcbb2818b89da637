/**
 * The durable job queue on `cogo.jobs` / `cogo.job_events`.
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
 * - Every state change appends a `cogo.job_events` row and a bus event (topic "job") and notifies it;
 *   enqueueing also notifies topic `jobs` so idle workers wake at once.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Duration, Effect, Layer, Metric, Option, Ref, Stream } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import type { Fragment } from "effect/sql/Statement"
import {
  type ClaimedJob,
  type EnqueuedJob,
  type Job,
  type JobError,
  type JobEvent,
  type JobEventKind,
  type JobId,
  type JobState,
  type NewJob,
  terminalStates
} from "../../domain/jobs/Job.ts"
import { currentTraceparent } from "../../domain/platform/Traceparent.ts"
import { Database, DbRole, type NotInTransaction } from "../platform/Database.ts"
import { eventResult } from "./JobEventResult.ts"
import { EventBus } from "../platform/EventBus.ts"
import { channel, Notifications } from "../platform/Notifications.ts"
import { Drain } from "../platform/Drain.ts"
import { whenLeader } from "../platform/Leader.ts"
import { type ClaimRow, jobColumns, type JobRow, toJob } from "./jobRows.ts"
import { backoffDelay, exponentialRetry, type RetryPolicy } from "./RetryPolicy.ts"

/** The outcome of `fail`. `Stale`: the job was no longer this worker's attempt (lease lost), nothing changed. */
export type FailOutcome =
  | { readonly _tag: "Retrying"; readonly runAt: Date; readonly attempt: number }
  | { readonly _tag: "Dead"; readonly attempt: number }
  | { readonly _tag: "Stale" }

export interface ClaimOptions {
  readonly workerId: string
  readonly kinds: ReadonlyArray<string>
  readonly limit: number
  readonly leaseMs: number
}

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
  readonly events: (jobId: JobId, afterId?: number | undefined) => Effect.Effect<ReadonlyArray<JobEvent>, SqlError>
  /** Waits until the job is succeeded, dead or cancelled (bus notifications plus polling) and returns it. */
  readonly awaitTerminal: (jobId: JobId) => Effect.Effect<Job, SqlError>
  /** Sets the retry policy of a kind (done by `Orchestrator.register`); other kinds use the default. */
  readonly setRetryPolicy: (kind: string, policy: RetryPolicy) => Effect.Effect<void>
}>()("cogo/JobQueue") {
  static readonly layer = Layer.effect(JobQueue, Effect.suspend(() => makeJobQueue))
}

/** Counts job state changes by kind and event (enqueued, started, succeeded, retrying, dead, cancelled, rescued). */
export const jobTransitions = Metric.counter("cogo_job_transitions_total", {
  description: "Job state changes, by job kind and event",
  incremental: true
})

/** The error tag of an attempt released by a stopping worker (counted as a rescue, not a failure). */
export const workerStoppedTag = "WorkerStopped"

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
  const defaultPolicy = exponentialRetry({
    maxAttempts: yield* Config.Int("JOBS_MAX_ATTEMPTS").pipe(Config.withDefault(5)),
    base: yield* Config.Duration("JOBS_RETRY_BASE").pipe(Config.withDefault(Duration.seconds(1))),
    cap: yield* Config.Duration("JOBS_RETRY_CAP").pipe(Config.withDefault(Duration.minutes(5)))
  })
  const maxRescues = yield* Config.Int("JOBS_MAX_RESCUES").pipe(Config.withDefault(10))
  const policies = yield* Ref.make(new Map<string, RetryPolicy>())
  const policyFor = (kind: string) => Effect.map(Ref.get(policies), (map) => map.get(kind) ?? defaultPolicy)

  const countTransitions = (rows: ReadonlyArray<{ readonly kind: string; readonly event: JobEventKind }>) =>
    Effect.suspend(() => {
      // One update per (kind, event) of the batch, not one per row.
      const counts = new Map<string, { kind: string; event: JobEventKind; n: number }>()
      for (const row of rows) {
        const key = `${row.kind}\u0000${row.event}`
        const entry = counts.get(key)
        if (entry === undefined) counts.set(key, { kind: row.kind, event: row.event, n: 1 })
        else entry.n++
      }
      return Effect.forEach(counts.values(), (c) => Metric.update(Metric.withAttributes(jobTransitions, { kind: c.kind, event: c.event }), c.n), {
        discard: true
      })
    })

  /**
   * Runs `changed` (an UPDATE/INSERT returning id, kind, project_id, traceparent, event, data) and, in the same
   * statement, appends one job_event and one bus event per changed row, and notifies `bus:<newest id>` once
   * (bus listeners treat a notification as "read `since` your last id"), so a batch of state changes costs
   * one round trip.
   */
  const transition = <Row extends object>(changed: Fragment, options: { readonly wakeWorkers?: boolean } = {}) =>
    sql<Row & { readonly id: string; readonly kind: string; readonly event: JobEventKind }>`
      WITH changed AS (${changed}),
      job_events AS (
        INSERT INTO cogo.job_events (job_id, kind, data) SELECT id, event, data FROM changed
      ),
      bus AS (
        INSERT INTO cogo.bus_events (topic, kind, project_id, job_id, payload, traceparent)
        SELECT 'job', event, project_id, id, data || jsonb_build_object('jobKind', kind), traceparent FROM changed
        RETURNING id
      ),
      notified AS (
        SELECT pg_notify(${channel}, 'bus:' || max(id)) FROM bus HAVING count(*) > 0
        ${options.wakeWorkers === true ? sql`UNION ALL SELECT pg_notify(${channel}, 'jobs:' || min(kind)) FROM changed HAVING count(*) > 0` : sql``}
      )
      SELECT changed.*, (SELECT count(*) FROM notified) AS notified FROM changed`.pipe(
      Effect.tap(countTransitions)
    )

  /** A uuid[] the planner sees as an array (an index lookup per id), not a set-returning function to join. */
  const uuidArray = (ids: ReadonlyArray<string>) =>
    sql`ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::uuid)`

  const maxAttemptsFor = (job: NewJob) =>
    job.maxAttempts === undefined ? Effect.map(policyFor(job.kind), (p) => p.maxAttempts) : Effect.succeed(job.maxAttempts)

  /** Inserts jobs (and their events, and wakes workers) in one statement, plus a lookup when keys conflicted. */
  const insertJobs = (jobs: ReadonlyArray<NewJob>) => Effect.gen(function*() {
    if (jobs.length === 0) return []
    const traceparent = (yield* currentTraceparent) ?? null
    const input = yield* Effect.forEach(jobs, (job, ord) =>
      Effect.map(maxAttemptsFor(job), (maxAttempts) => ({
        ord,
        kind: job.kind,
        project_id: job.projectId ?? null,
        payload: job.payload ?? {},
        priority: job.priority ?? 0,
        max_attempts: maxAttempts,
        delay_ms: job.delayMs ?? 0,
        idempotency_key: job.idempotencyKey ?? null,
        created_by: job.createdBy ?? null
      })))
    const inserted = yield* transition<{ readonly idempotency_key: string | null }>(sql`
      INSERT INTO cogo.jobs (kind, project_id, payload, priority, max_attempts, run_at, idempotency_key, traceparent, created_by)
      SELECT kind, project_id, payload, priority, max_attempts, now() + delay_ms * interval '1 millisecond',
             idempotency_key, ${traceparent}, created_by
      FROM jsonb_to_recordset(${JSON.stringify(input)}::jsonb) AS x(
        ord int, kind text, project_id uuid, payload jsonb, priority int, max_attempts int, delay_ms float8,
        idempotency_key text, created_by uuid)
      ORDER BY ord
      ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
      RETURNING id, kind, project_id, traceparent, idempotency_key, 'enqueued' AS event,
                jsonb_build_object('state', 'queued', 'runAt', run_at) AS data`, { wakeWorkers: true })
    const byKey = new Map<string, EnqueuedJob>()
    const unkeyed: Array<EnqueuedJob> = []
    for (const row of inserted) {
      const job: EnqueuedJob = { id: row.id as JobId, created: true, state: "queued" }
      if (row.idempotency_key === null) unkeyed.push(job)
      else byKey.set(row.idempotency_key, job)
    }
    // Keys that conflicted: the existing job (a new statement sees rows committed while we waited on the key).
    const missingKeys = input.flatMap((row) => row.idempotency_key !== null && !byKey.has(row.idempotency_key) ? [row.idempotency_key] : [])
    if (missingKeys.length > 0) {
      const existing = yield* sql<{ readonly id: string; readonly state: JobState; readonly idempotency_key: string }>`
        SELECT id, state, idempotency_key FROM cogo.jobs
        WHERE idempotency_key = ANY(ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(missingKeys)}::jsonb)))`
      for (const row of existing) byKey.set(row.idempotency_key, { id: row.id as JobId, created: false, state: row.state })
    }
    // One result per input, in input order (duplicate keys within one batch resolve to the same job).
    let nextUnkeyed = 0
    return input.map((row) => row.idempotency_key !== null ? byKey.get(row.idempotency_key)! : unkeyed[nextUnkeyed++]!)
  })

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
    const rows = yield* transition<ClaimRow>(sql`
      UPDATE cogo.jobs j
      SET state = 'running', attempts = j.attempts + 1, locked_by = ${options.workerId},
          lease_expires_at = now() + ${options.leaseMs} * interval '1 millisecond', started_at = now(), updated_at = now()
      WHERE j.id = ANY(ARRAY(
        SELECT id FROM cogo.jobs
        WHERE state = 'queued' AND run_at <= now()
          AND ${options.kinds.length === 1 ? sql`kind = ${options.kinds[0]!}` : sql`kind = ANY(ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(options.kinds)}::jsonb)))`}
        ORDER BY priority DESC, run_at, id
        LIMIT ${options.limit}
        FOR UPDATE SKIP LOCKED
      ))
      RETURNING j.id, j.kind, j.project_id, j.payload, j.attempts, j.max_attempts, j.traceparent, j.created_at,
                j.started_at, 'started' AS event,
                jsonb_build_object('state', 'running', 'attempt', j.attempts, 'workerId', j.locked_by) AS data`)
    return rows.map((row): ClaimedJob => ({
      id: row.id as JobId,
      kind: row.kind,
      projectId: row.project_id,
      payload: row.payload,
      attempt: row.attempts,
      maxAttempts: row.max_attempts,
      traceparent: row.traceparent,
      createdAt: row.created_at,
      startedAt: row.started_at
    }))
  })

  const heartbeat = Effect.fn("JobQueue.heartbeat")(function*(workerId: string, jobIds: ReadonlyArray<JobId>, leaseMs: number) {
    if (jobIds.length === 0) return []
    const rows = yield* sql<{ readonly id: string }>`
      UPDATE cogo.jobs SET lease_expires_at = now() + ${leaseMs} * interval '1 millisecond'
      WHERE state = 'running' AND locked_by = ${workerId}
        AND id = ANY(${uuidArray(jobIds)})
      RETURNING id`
    return rows.map((row) => row.id as JobId)
  })

  const appendEvent = (job: ClaimedJob, event: "progress" | "log", data: unknown) =>
    db.withRole(DbRole.agent, Effect.gen(function*() {
      yield* sql`INSERT INTO cogo.job_events (job_id, kind, data) VALUES (${job.id}, ${event}, ${JSON.stringify(data ?? {})}::jsonb)`
      yield* bus.publish({
        topic: "job",
        kind: event,
        jobId: job.id,
        projectId: job.projectId ?? undefined,
        payload: { jobKind: job.kind, attempt: job.attempt, data },
        traceparent: job.traceparent ?? undefined
      })
    }))

  const progress = Effect.fn("JobQueue.progress")(function*(job: ClaimedJob, data: unknown) {
    yield* appendEvent(job, "progress", data)
  })
  const log = Effect.fn("JobQueue.log")(function*(job: ClaimedJob, message: string) {
    yield* appendEvent(job, "log", { message })
  })

  const completeMany = Effect.fn("JobQueue.completeMany")(function*(
    workerId: string,
    items: ReadonlyArray<{ readonly job: ClaimedJob; readonly result: unknown }>
  ) {
    if (items.length === 0) return []
    const input = items.map(({ job, result }) => ({
      id: job.id,
      attempt: job.attempt,
      result: result ?? null,
      summary: eventResult(result ?? null)
    }))
    // The job keeps the full result; its events (job_events, bus, SSE) carry `eventResult` (bounded).
    const rows = yield* transition<object>(sql`
      UPDATE cogo.jobs j
      SET state = 'succeeded', result = x.result, locked_by = NULL, lease_expires_at = NULL, finished_at = now(),
          updated_at = now()
      FROM jsonb_to_recordset(${JSON.stringify(input)}::jsonb) AS x(id uuid, attempt int, result jsonb, summary jsonb)
      WHERE j.id = ANY(${uuidArray(input.map((item) => item.id))}) AND j.id = x.id AND j.attempts = x.attempt
        AND j.state = 'running' AND j.locked_by = ${workerId}
      RETURNING j.id, j.kind, j.project_id, j.traceparent, 'succeeded' AS event,
                jsonb_build_object('state', 'succeeded', 'attempt', j.attempts, 'result', x.summary) AS data`)
    return rows.map((row) => row.id as JobId)
  })

  const complete = Effect.fn("JobQueue.complete")(function*(workerId: string, job: ClaimedJob, result: unknown) {
    const done = yield* completeMany(workerId, [{ job, result }])
    return done.length === 1
  })

  const fail = Effect.fn("JobQueue.fail")(function*(
    workerId: string,
    job: ClaimedJob,
    error: JobError,
    notBefore?: Duration.Duration | undefined
  ) {
    const policy = yield* policyFor(job.kind)
    const maxAttempts = Math.min(job.maxAttempts, policy.maxAttempts)
    // The failure budget counts attempts that ended in a failure: claims minus rescues. An attempt released
    // because its worker is stopping is a rescue too (the job did not fail).
    const stopped = error.tag === workerStoppedTag
    const retry = stopped
      ? sql`(rescues + 1 < ${maxRescues})`
      : sql`(${error.retryable} AND attempts - rescues < ${maxAttempts})`
    const backoff = error.retryable && !stopped ? yield* backoffDelay(policy, job.attempt) : Duration.zero
    const delayMs = Duration.toMillis(Duration.max(backoff, notBefore ?? Duration.zero))
    const rows = yield* transition<{ readonly run_at: Date; readonly state: JobState }>(sql`
      UPDATE cogo.jobs
      SET state = CASE WHEN ${retry} THEN 'queued' ELSE 'dead' END, last_error = ${JSON.stringify(error)}::jsonb,
          locked_by = NULL, lease_expires_at = NULL, rescues = rescues + ${stopped ? 1 : 0},
          run_at = CASE WHEN ${retry} THEN now() + ${delayMs} * interval '1 millisecond' ELSE now() END,
          finished_at = CASE WHEN ${retry} THEN NULL ELSE now() END, updated_at = now()
      WHERE id = ${job.id} AND attempts = ${job.attempt} AND state = 'running' AND locked_by = ${workerId}
      RETURNING id, kind, project_id, traceparent, run_at, state,
                CASE WHEN state = 'queued' THEN 'retrying' ELSE 'dead' END AS event,
                jsonb_build_object('state', state, 'attempt', attempts, 'rescues', rescues, 'error', last_error,
                  'runAt', run_at) AS data`)
    const row = rows[0]
    if (row === undefined) return { _tag: "Stale" } as const satisfies FailOutcome
    return row.state === "queued"
      ? { _tag: "Retrying", runAt: row.run_at, attempt: job.attempt } as const satisfies FailOutcome
      : { _tag: "Dead", attempt: job.attempt } as const satisfies FailOutcome
  })

  const cancel = Effect.fn("JobQueue.cancel")(function*(jobId: JobId, reason?: string | undefined) {
    const rows = yield* transition<object>(sql`
      UPDATE cogo.jobs
      SET state = 'cancelled', locked_by = NULL, lease_expires_at = NULL, finished_at = now(), updated_at = now()
      WHERE id = ${jobId} AND state IN ('queued', 'running')
      RETURNING id, kind, project_id, traceparent, 'cancelled' AS event,
                jsonb_build_object('state', 'cancelled', 'reason', ${reason ?? "cancelled"}::text) AS data`)
    return rows.length === 1
  })

  // A rescued attempt (its worker crashed or stalled) is not a failure of the job: it counts in `rescues`,
  // not in the failure budget (`attempts - rescues` vs max_attempts); `JOBS_MAX_RESCUES` caps a job that
  // keeps killing its workers. `attempts` still grows on every claim: it is the fencing token.
  // A singleton duty: only the leader rescues (followers return 0).
  const rescueExpired = Effect.withSpan(
    whenLeader(transition<object>(sql`
      UPDATE cogo.jobs j
      SET state = CASE WHEN j.rescues + 1 >= ${maxRescues} THEN 'dead' ELSE 'queued' END,
          rescues = j.rescues + 1,
          last_error = jsonb_build_object('tag', 'LeaseExpired', 'message',
            'worker ' || coalesce(j.locked_by, '?') || ' stopped renewing its lease', 'retryable', true),
          locked_by = NULL, lease_expires_at = NULL, run_at = now(),
          finished_at = CASE WHEN j.rescues + 1 >= ${maxRescues} THEN now() END, updated_at = now()
      FROM (
        SELECT id FROM cogo.jobs WHERE state = 'running' AND lease_expires_at < now() FOR UPDATE SKIP LOCKED
      ) expired
      WHERE j.id = expired.id
      RETURNING j.id, j.kind, j.project_id, j.traceparent,
                CASE WHEN j.state = 'dead' THEN 'dead' ELSE 'rescued' END AS event,
                jsonb_build_object('state', j.state, 'attempt', j.attempts, 'rescues', j.rescues,
                  'error', j.last_error) AS data`).pipe(
      Effect.tap((rows) => rows.length > 0 ? notifications.notify("jobs", "rescued") : Effect.void),
      Effect.map((rows) => rows.length)
    )).pipe(Effect.map(Option.getOrElse(() => 0))),
    "JobQueue.rescueExpired"
  )

  const get = Effect.fn("JobQueue.get")(function*(jobId: JobId) {
    const rows = yield* sql<JobRow>`SELECT ${sql.unsafe(jobColumns)} FROM cogo.jobs WHERE id = ${jobId}`
    return Option.map(Option.fromNullishOr(rows[0]), toJob)
  })

  const events = Effect.fn("JobQueue.events")(function*(jobId: JobId, afterId?: number | undefined) {
    const rows = yield* sql<{ readonly id: string; readonly job_id: string; readonly kind: JobEventKind; readonly data: unknown; readonly created_at: Date }>`
      SELECT id, job_id, kind, data, created_at FROM cogo.job_events
      WHERE job_id = ${jobId} AND id > ${afterId ?? 0} ORDER BY id`
    return rows.map((row): JobEvent => ({
      id: Number(row.id),
      jobId: row.job_id as JobId,
      kind: row.kind,
      data: row.data,
      createdAt: row.created_at.toISOString()
    }))
  })

  const awaitTerminal = (jobId: JobId) =>
    notifications.wakeups("bus", "250 millis").pipe(
      Stream.mapEffect(() => get(jobId)),
      Stream.map(Option.filter((job: Job) => terminalStates.includes(job.state))),
      Stream.filter(Option.isSome),
      Stream.map((job) => job.value),
      Stream.runHead,
      Effect.map(Option.getOrThrow),
      Effect.withSpan("JobQueue.awaitTerminal")
    )

  const setRetryPolicy = (kind: string, policy: RetryPolicy) => Ref.update(policies, (map) => new Map(map).set(kind, policy))

  return JobQueue.of({
    enqueue,
    enqueueMany,
    submit,
    claim,
    heartbeat,
    progress,
    log,
    complete,
    completeMany,
    fail,
    cancel,
    rescueExpired,
    get,
    events,
    awaitTerminal,
    setRetryPolicy
  })
})
