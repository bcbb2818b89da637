/**
 * A job's audit trail: `cogo.job_events` rows (see `jobTransitions.ts` for which changes write one) plus the
 * `enqueued` event derived from the job row, and the progress / log events handlers append.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import type { ClaimedJob, JobEvent, JobEventKind, JobId } from "../../domain/jobs/Job.ts"
import { type Database, DbRole } from "../platform/Database.ts"
import type { EventBus } from "../platform/EventBus.ts"

interface JobEventRow {
  readonly id: string
  readonly job_id: string
  readonly kind: JobEventKind
  readonly data: unknown
  readonly created_at: Date
}

/**
 * A job's events after `afterId`, oldest first. The `enqueued` event comes from the job row (id 0, before
 * every stored event; `runAt` while the job has not started yet); `enqueued` rows stored by older versions
 * are skipped in its favour.
 */
export const makeEvents = (sql: PgClient.PgClient) =>
  Effect.fnUntraced(function*(jobId: JobId, afterId?: number | undefined) {
    const after = afterId ?? -1
    const rows = yield* sql<JobEventRow>`
      SELECT 0 AS id, id AS job_id, 'enqueued' AS kind, created_at,
             CASE WHEN attempts = 0 THEN jsonb_build_object('state', 'queued', 'runAt', run_at)
                  ELSE jsonb_build_object('state', 'queued') END AS data
      FROM cogo.jobs WHERE id = ${jobId} AND ${after} < 0
      UNION ALL
      SELECT id, job_id, kind, created_at, data FROM cogo.job_events
      WHERE job_id = ${jobId} AND id > ${after} AND kind <> 'enqueued'
      ORDER BY id`
    return rows.map((row): JobEvent => ({
      id: Number(row.id),
      jobId: row.job_id as JobId,
      kind: row.kind,
      data: row.data,
      createdAt: row.created_at.toISOString()
    }))
  })

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
