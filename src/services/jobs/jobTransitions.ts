/**
 * Job state changes and their events, written by the statement that changes the state (one round trip per
 * batch of claims, completions or enqueues). What a change writes besides the job row:
 *
 * | event | `cogo.job_events` (audit trail) | `cogo.bus_events` (realtime job stream) |
 * |---|---|---|
 * | enqueued | no row: derived from the job row (`created_at`; a job is enqueued once) | when the kind streams, one row per batch and project |
 * | started, succeeded | no row: derived from the job row and the event that ended the attempt (`jobEvents.ts`) | when the kind streams, one row per batch and project |
 * | retrying, dead, rescued, cancelled, progress, log | one row per job | always, one row per job |
 *
 * A row per batch (migration 0027; at most 100 jobs) lists its jobs in `job_ids` and their events in `parts`
 * (`json`: text is much cheaper to build than `jsonb`, and every claim and completion builds it); `EventBus`
 * reads it back as one event per job. A batch of one job writes the per-job row. A statement's `data` may be
 * `json` or `jsonb`.
 *
 * Events that end an attempt (retrying, dead, rescued, cancelled while running) carry its `startedAt` and
 * `workerId`, from which its `started` event is derived. A kind streams unless it is registered with
 * `stream: false` (see `JobQueue.configureKind`): a quiet job that succeeds at once writes nothing besides
 * its job row (a streamed one is in 3 bus rows, shared with its batch). Its failures still reach the bus (alerts, watchers), and a batch that finishes quiet
 * jobs still notifies `bus`, so `awaitTerminal` wakes at once.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect, Metric } from "effect"
import type { Fragment } from "effect/sql/Statement"
import type { JobEventKind } from "../../domain/jobs/Job.ts"
import { channel } from "../platform/Notifications.ts"

/** Counts job state changes by kind and event (enqueued, started, succeeded, retrying, dead, cancelled, rescued). */
export const jobTransitions = Metric.counter("cogo_job_transitions_total", {
  description: "Job state changes, by job kind and event",
  incremental: true
})

/**
 * The most jobs one bus row lists: a row is read whole (pages never split it), so this bounds what one read
 * of the log holds beyond its page size (100 parts of at most ~2 KB each, see `JobEventResult.ts`).
 */
const maxJobsPerBusRow = 100

/** What every statement given to `transition` returns per changed job, besides its own columns. */
export interface ChangedRow {
  readonly id: string
  readonly kind: string
  readonly event: JobEventKind
}

export interface TransitionOptions {
  /** Also notify topic `jobs` (new work: idle workers claim at once). */
  readonly wakeWorkers?: boolean | undefined
  /** Notify `bus` even when no row was streamed (the changes end jobs: `awaitTerminal` waits on `bus`). */
  readonly wakeWaiters?: boolean | undefined
  /** The most jobs the statement can change, when the caller knows (a claim's limit, a batch's size). */
  readonly atMost?: number | undefined
}

/** The columns of `changed` a caller reads back besides id, kind and event (the events' `data` stays in the database). */
export type Returning<Row> = ReadonlyArray<Exclude<keyof Row, keyof ChangedRow> & string>

const countTransitions = (rows: ReadonlyArray<ChangedRow>) =>
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
 * The streamed changes, each with the chunk of at most 100 jobs it goes to. Numbering them costs ~0.8 µs per job,
 * so a statement that cannot change more than 100 jobs (a claim's limit, a batch's size) skips it.
 */
const streamedRows = (sql: PgClient.PgClient, atMost: number | undefined) =>
  atMost !== undefined && atMost <= maxJobsPerBusRow
    ? sql`SELECT *, 0 AS chunk FROM changed WHERE stream`
    : sql`SELECT *, (row_number() OVER (PARTITION BY event, project_id ORDER BY id) - 1) / ${maxJobsPerBusRow} AS chunk FROM changed WHERE stream`

/**
 * Runs `changed` (an UPDATE/INSERT returning id, kind, project_id, traceparent, event, data and `stream`,
 * whether this change goes to the bus) and, in the same statement, appends the job_events and bus events
 * of the table above and notifies `bus` once (bus listeners treat a notification as "read `since` your
 * last id"). Returns id, kind, event and the `returning` columns of each changed job. A lifecycle change that
 * does not stream writes no event at all, so it may leave `data` NULL (building it cost ~0.6-0.8 µs of database
 * time per job and statement).
 */
export const makeTransition = (sql: PgClient.PgClient) =>
<Row extends object>(changed: Fragment, returning: Returning<Row>, options: TransitionOptions = {}) =>
  sql<Row & ChangedRow>`
    WITH changed AS (${changed}),
    job_events AS (
      INSERT INTO cogo.job_events (job_id, kind, data) SELECT id, event, data::jsonb FROM changed WHERE event NOT IN ('enqueued', 'started', 'succeeded')
    ),
    bus AS (
      INSERT INTO cogo.bus_events (topic, kind, project_id, job_id, job_ids, payload, parts, traceparent)
      SELECT 'job', event, project_id,
             CASE WHEN count(*) = 1 THEN (array_agg(id))[1] END,
             CASE WHEN count(*) > 1 THEN array_agg(id ORDER BY id) END,
             CASE WHEN count(*) = 1 THEN (array_agg(data))[1]::jsonb || jsonb_build_object('jobKind', min(kind)) ELSE '{}'::jsonb END,
             CASE WHEN count(*) > 1 THEN json_agg(json_build_object('j', id, 't', traceparent, 'k', kind, 'p', data) ORDER BY id) END,
             CASE WHEN count(*) = 1 THEN (array_agg(traceparent))[1] END
      FROM (${streamedRows(sql, options.atMost)}) streamed
      -- Lifecycle events share a row per (event, project, chunk of 100 jobs); the rarer ones keep a row per job.
      GROUP BY event, project_id, chunk, CASE WHEN event NOT IN ('enqueued', 'started', 'succeeded') THEN id END
      RETURNING id
    ),
    notified AS (
      SELECT pg_notify(${channel}, 'bus:' || coalesce((SELECT max(id) FROM bus)::text, ''))
      WHERE EXISTS (SELECT 1 FROM changed WHERE ${options.wakeWaiters === true ? sql`true` : sql`stream`})
      ${options.wakeWorkers === true ? sql`UNION ALL SELECT pg_notify(${channel}, 'jobs:' || min(kind)) FROM changed HAVING count(*) > 0` : sql``}
    )
    SELECT ${sql.unsafe(["id", "kind", "event", ...returning].map((column) => `changed.${column}`).join(", "))},
           (SELECT count(*) FROM notified) AS notified
    FROM changed`.pipe(
    Effect.tap(countTransitions)
  )

export type Transition = ReturnType<typeof makeTransition>

/**
 * "The job is running", for statements that find their jobs by id. Written so the planner cannot use
 * `jobs_lease_idx` (its predicate is `state = 'running'`): finished jobs leave dead entries there until vacuum,
 * and a completion that combined it with the primary key read 12,000 of them per batch (0.8 ms) in the drain bench.
 */
export const runningById = (sql: PgClient.PgClient) => sql`(state = 'running') IS TRUE`

/** A uuid[] the planner sees as an array (an index lookup per id), not a set-returning function to join. */
export const uuidArray = (sql: PgClient.PgClient, ids: ReadonlyArray<string>) =>
  sql`ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::uuid)`
