/**
 * Enqueueing: jobs inserted in one statement (with their bus events, and a `jobs` notification that wakes
 * idle workers), plus one lookup when idempotency keys conflicted.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import type { EnqueuedJob, JobId, JobState, NewJob } from "../../domain/jobs/Job.ts"
import { currentTraceparent } from "../../domain/platform/Traceparent.ts"
import type { Transition } from "./jobTransitions.ts"
import type { KindRegistry } from "./kindOptions.ts"

export const makeInsertJobs = (sql: PgClient.PgClient, transition: Transition, kinds: KindRegistry) =>
  Effect.fnUntraced(function*(jobs: ReadonlyArray<NewJob>) {
    if (jobs.length === 0) return []
    const traceparent = (yield* currentTraceparent) ?? null
    const input = jobs.map((job, ord) => {
      const options = kinds.get(job.kind)
      return {
        ord,
        kind: job.kind,
        project_id: job.projectId ?? null,
        payload: job.payload ?? {},
        priority: job.priority ?? 0,
        max_attempts: job.maxAttempts ?? options.retry.maxAttempts,
        delay_ms: job.delayMs ?? 0,
        idempotency_key: job.idempotencyKey ?? null,
        created_by: job.createdBy ?? null,
        stream: options.stream
      }
    })
    // ON CONFLICT costs every row a speculative insertion (a WAL record more per job): only when keys may clash.
    const keyed = input.some((row) => row.idempotency_key !== null)
    const stream = streamOf(sql, input)
    // The batch is `json`, not `jsonb`: it is read once, field by field, and parsing the whole of it into jsonb
    // first cost ~1.3 µs of database time per job (a tenth of the statement).
    const inserted = yield* transition<{ readonly idempotency_key: string | null }>(sql`
      INSERT INTO cogo.jobs (kind, project_id, payload, priority, max_attempts, run_at, idempotency_key, traceparent, created_by)
      SELECT kind, project_id, payload, priority, max_attempts, now() + delay_ms * interval '1 millisecond',
             idempotency_key, ${traceparent}, created_by
      FROM json_to_recordset(${JSON.stringify(input)}::json) AS x(
        ord int, kind text, project_id uuid, payload jsonb, priority int, max_attempts int, delay_ms float8,
        idempotency_key text, created_by uuid)
      ORDER BY ord
      ${keyed ? sql`ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING` : sql``}
      RETURNING id, kind, project_id, traceparent, idempotency_key, 'enqueued' AS event,
                CASE WHEN ${stream} THEN json_build_object('state', 'queued', 'runAt', run_at) END AS data, ${stream} AS stream`, ["idempotency_key"], { wakeWorkers: true, atMost: input.length })
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

/** Whether an inserted row streams: a constant when the whole batch agrees (the usual case), else by kind. */
const streamOf = (sql: PgClient.PgClient, input: ReadonlyArray<{ readonly kind: string; readonly stream: boolean }>) => {
  const quiet = [...new Set(input.filter((row) => !row.stream).map((row) => row.kind))]
  if (quiet.length === 0) return sql`true`
  if (quiet.length === new Set(input.map((row) => row.kind)).size) return sql`false`
  return sql`kind <> ALL(ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(quiet)}::jsonb)))`
}
