/**
 * A job's audit trail: `cogo.job_events` rows (see `jobTransitions.ts` for which changes write one) plus the
 * `enqueued`, `started` and `succeeded` events derived from the job row, and the progress / log events
 * handlers append.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import type { ClaimedJob, JobEvent, JobEventKind, JobId, JobState } from "../../domain/jobs/Job.ts"
import { eventResult } from "./JobEventResult.ts"
import { type Database, DbRole } from "../platform/Database.ts"
import type { EventBus } from "../platform/EventBus.ts"

interface JobEventRow {
  readonly id: string
  readonly kind: JobEventKind
  readonly data: unknown
  readonly created_at: Date
}

interface TrailJobRow {
  readonly state: JobState
  readonly attempts: number
  readonly locked_by: string | null
  readonly started_at: Date | null
  readonly finished_at: Date | null
  readonly result: unknown
  readonly created_at: Date
  readonly run_at: Date
}

/** What an event that ended an attempt (retrying, dead, rescued, cancelled while running) says about it. */
interface AttemptEnd {
  readonly attempt?: number
  readonly workerId?: string | null
  readonly startedAt?: string | null
}

const eventOf = (jobId: JobId) => (id: number, kind: JobEventKind, data: unknown, createdAt: Date): JobEvent => ({
  id,
  jobId,
  kind,
  data,
  createdAt: createdAt.toISOString()
})

const endsAttempt: ReadonlySet<string> = new Set(["retrying", "dead", "rescued", "cancelled"])

/**
 * A job's events after `afterId`, oldest first. Only failures, rescues, cancels, progress and logs are
 * stored; `enqueued`, each attempt's `started` and `succeeded` are derived (see `jobTransitions.ts`).
 * Ids order the trail: a stored event's id is 3 × its row id; the `started` of attempt n is 3p + 1, p the
 * row of the event that ended attempt n - 1 (0 for the first); `succeeded` is 3m + 2, m the last row
 * written before the job finished; `enqueued` is 0. Rows stored by older versions (`enqueued`, `started`,
 * `succeeded`) win over derived ones.
 */
export const makeEvents = (sql: PgClient.PgClient) =>
  Effect.fnUntraced(function*(jobId: JobId, afterId?: number | undefined) {
    const [job] = yield* sql<TrailJobRow>`
      SELECT state, attempts, locked_by, started_at, finished_at, created_at, run_at,
             CASE WHEN state = 'succeeded' THEN result END AS result
      FROM cogo.jobs WHERE id = ${jobId}`
    const stored = yield* sql<JobEventRow>`
      SELECT id, kind, created_at, data FROM cogo.job_events WHERE job_id = ${jobId} AND kind <> 'enqueued' ORDER BY id`
    const event = eventOf(jobId)
    const trail = stored.map((row) => event(3 * Number(row.id), row.kind, row.data, row.created_at))
    if (job !== undefined) {
      trail.push(event(0, "enqueued", job.attempts === 0 ? { state: "queued", runAt: job.run_at.toISOString() } : { state: "queued" }, job.created_at))
      trail.push(...derivedAttempts(jobId, job, stored))
    }
    const after = afterId ?? -1
    return trail.filter((e) => e.id > after).sort((a, b) => a.id - b.id)
  })

/** The `started` and `succeeded` events of `job` that no stored row records. */
const derivedAttempts = (jobId: JobId, job: TrailJobRow, stored: ReadonlyArray<JobEventRow>): Array<JobEvent> => {
  const storedStarts = new Set<number>()
  const ends = new Map<number, { readonly row: number; readonly end: AttemptEnd }>()
  let succeededStored = false
  for (const row of stored) {
    const data = (row.data ?? {}) as AttemptEnd
    if (row.kind === "started" && typeof data.attempt === "number") storedStarts.add(data.attempt)
    else if (row.kind === "succeeded") succeededStored = true
    else if (endsAttempt.has(row.kind) && typeof data.attempt === "number") ends.set(data.attempt, { row: Number(row.id), end: data })
  }
  const derived: Array<JobEvent> = []
  const event = eventOf(jobId)
  const push = (id: number, kind: JobEventKind, data: unknown, createdAt: Date) => derived.push(event(id, kind, data, createdAt))
  for (let attempt = 1; attempt <= job.attempts; attempt++) {
    const before = attempt === 1 ? 0 : ends.get(attempt - 1)?.row
    if (storedStarts.has(attempt) || before === undefined) continue
    const end = ends.get(attempt)?.end
    // Attempts that ended carry their start; the last one (running or succeeded) is the job row's.
    const startedAt = end !== undefined ? end.startedAt : attempt === job.attempts ? job.started_at?.toISOString() : undefined
    const workerId = end !== undefined ? end.workerId : job.locked_by
    if (typeof startedAt !== "string") continue
    push(3 * before + 1, "started", { state: "running", attempt, workerId: workerId ?? null }, new Date(startedAt))
  }
  if (job.state === "succeeded" && !succeededStored && job.finished_at !== null) {
    const finished = job.finished_at.getTime()
    const last = stored.reduce((max, row) => row.created_at.getTime() <= finished ? Math.max(max, Number(row.id)) : max, 0)
    push(3 * last + 2, "succeeded", { state: "succeeded", attempt: job.attempts, result: eventResult(job.result ?? null) }, job.finished_at)
  }
  return derived
}

/** Appends a progress or log event of a running job: a job_event and a bus event (always streamed). */
export const makeAppendEvent = (sql: PgClient.PgClient, db: Database["Service"], bus: EventBus["Service"]) =>
(job: ClaimedJob, event: "progress" | "log", data: unknown) =>
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
