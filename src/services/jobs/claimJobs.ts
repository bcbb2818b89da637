/**
 * Claiming: batches taken with `FOR UPDATE SKIP LOCKED` under a lease, leases extended by heartbeats, and
 * the rescue of jobs whose worker stopped renewing its lease.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import type { ClaimedJob, JobId } from "../../domain/jobs/Job.ts"
import type { ClaimRow } from "./jobRows.ts"
import { type Returning, runningById, type Transition, uuidArray } from "./jobTransitions.ts"
import type { KindRegistry } from "./kindOptions.ts"

export interface ClaimOptions {
  readonly workerId: string
  readonly kinds: ReadonlyArray<string>
  readonly limit: number
  readonly leaseMs: number
}

const toClaimedJob = (row: ClaimRow): ClaimedJob => ({
  id: row.id as JobId,
  kind: row.kind,
  projectId: row.project_id,
  payload: row.payload,
  attempt: row.attempts,
  maxAttempts: row.max_attempts,
  traceparent: row.traceparent,
  createdAt: row.created_at,
  startedAt: row.started_at
})

const claimColumns: Returning<ClaimRow> = ["project_id", "payload", "attempts", "max_attempts", "traceparent", "created_at", "started_at"]

/** Claims up to `limit` ready jobs of `kinds`: highest priority, then oldest first. */
export const makeClaim = (sql: PgClient.PgClient, transition: Transition, kinds: KindRegistry) =>
  Effect.fnUntraced(function*(options: ClaimOptions) {
    // A claim of several kinds streams when any of them does (claims are per kind in the orchestrator).
    const stream = options.kinds.some((kind) => kinds.get(kind).stream)
    const rows = yield* transition<ClaimRow>(sql`
      UPDATE cogo.jobs j
      SET state = 'running', attempts = j.attempts + 1, locked_by = ${options.workerId},
          lease_expires_at = now() + ${options.leaseMs} * interval '1 millisecond', started_at = now(), updated_at = now()
      WHERE j.id = ANY(ARRAY(
        SELECT id FROM cogo.jobs
        WHERE state = 'queued' AND run_at <= now()
          AND ${options.kinds.length === 1 ? sql`kind = ${options.kinds[0]!}` : sql`kind = ANY(ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(options.kinds)}::jsonb)))`}
        ORDER BY priority DESC, run_at, id
        LIMIT ${sql.literal(String(Math.max(1, Math.trunc(options.limit))))}
        FOR UPDATE SKIP LOCKED
      ))
      RETURNING j.id, j.kind, j.project_id, j.payload, j.attempts, j.max_attempts, j.traceparent, j.created_at,
                j.started_at, 'started' AS event, ${stream} AS stream,
                CASE WHEN ${stream} THEN json_build_object('state', 'running', 'attempt', j.attempts, 'workerId', j.locked_by) END AS data`, claimColumns, {
      atMost: options.limit
    })
    return rows.map(toClaimedJob)
  })

/** Extends the lease of the given running jobs held by `workerId`; returns the ids it still holds. */
export const makeHeartbeat = (sql: PgClient.PgClient) =>
  Effect.fnUntraced(function*(workerId: string, jobIds: ReadonlyArray<JobId>, leaseMs: number) {
    if (jobIds.length === 0) return []
    const rows = yield* sql<{ readonly id: string }>`
      UPDATE cogo.jobs SET lease_expires_at = now() + ${leaseMs} * interval '1 millisecond'
      WHERE ${runningById(sql)} AND locked_by = ${workerId}
        AND id = ANY(${uuidArray(sql, jobIds)})
      RETURNING id`
    return rows.map((row) => row.id as JobId)
  })

/**
 * Puts running jobs whose lease expired back in the queue (or dead past `maxRescues`). A rescued attempt
 * (its worker crashed or stalled) is not a failure of the job: it counts in `rescues`, not in the failure
 * budget (`attempts - rescues` vs max_attempts); `JOBS_MAX_RESCUES` caps a job that keeps killing its
 * workers. `attempts` still grows on every claim: it is the fencing token. Returns how many were rescued.
 */
export const makeRescueExpired = (sql: PgClient.PgClient, transition: Transition, maxRescues: number) =>
  Effect.map(
    transition<object>(sql`
      UPDATE cogo.jobs j
      SET state = CASE WHEN j.rescues + 1 >= ${maxRescues} THEN 'dead' ELSE 'queued' END,
          rescues = j.rescues + 1,
          last_error = jsonb_build_object('tag', 'LeaseExpired', 'message',
            'worker ' || coalesce(expired.locked_by, '?') || ' stopped renewing its lease', 'retryable', true),
          locked_by = NULL, lease_expires_at = NULL, run_at = now(),
          finished_at = CASE WHEN j.rescues + 1 >= ${maxRescues} THEN now() END, updated_at = now()
      FROM (
        SELECT id, locked_by FROM cogo.jobs WHERE state = 'running' AND lease_expires_at < now() FOR UPDATE SKIP LOCKED
      ) expired
      WHERE j.id = expired.id
      RETURNING j.id, j.kind, j.project_id, j.traceparent, true AS stream,
                CASE WHEN j.state = 'dead' THEN 'dead' ELSE 'rescued' END AS event,
                jsonb_build_object('state', j.state, 'attempt', j.attempts, 'rescues', j.rescues,
                  'error', j.last_error, 'workerId', expired.locked_by, 'startedAt', j.started_at) AS data`, [], { wakeWorkers: true, wakeWaiters: true }),
    (rows) => rows.length
  )
