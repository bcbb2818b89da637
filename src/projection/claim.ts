/**
 * Claiming work (see docs/projection.md, "Claiming, replicas"). A batch first takes transaction-scoped
 * advisory locks on a few projects with due work (`pg_try_advisory_xact_lock`, so fibers and replicas pick
 * different projects and nobody waits), then reads those projects' pending updates in a NEW statement,
 * whose snapshot includes everything the previous lock holder committed. Rebuilds wait for the same lock.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import { idArray } from "../services/platform/sqlArrays.ts"
import { type ClaimedRow, type ClaimedRowRaw, toClaimedRow } from "./rows.ts"

/** Advisory lock class of projects being projected (first key of the two-key advisory lock functions). */
export const projectLockClass = 0x636f02

export interface ClaimLimits {
  /** Max updates claimed. */
  readonly batchSize: number
  /** Max projects locked. */
  readonly projectsPerBatch: number
}

export interface Claim {
  /** Projects locked by the batch (until its transaction ends). */
  readonly projects: number
  /** Their pending updates in id order, due or not (a row waiting for a retry holds back its aggregate). */
  readonly rows: ReadonlyArray<ClaimedRow>
}

/** Locks up to `projectsPerBatch` projects with due work (oldest first), then reads their pending updates. */
export const claimBatch = Effect.fn("Projection.claim")(function*(sql: PgClient.PgClient, limits: ClaimLimits) {
  const projects = yield* sql<{ project_id: string }>`
    SELECT project_id FROM (
      SELECT project_id, min(id) AS first_id FROM cogo.project_updates
      WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= now())
      GROUP BY project_id ORDER BY first_id LIMIT ${limits.projectsPerBatch * 4}
    ) candidates
    WHERE pg_try_advisory_xact_lock(${projectLockClass}, hashtext(project_id::text))
    LIMIT ${limits.projectsPerBatch}`
  if (projects.length === 0) return { projects: 0, rows: [] } satisfies Claim
  const rows = yield* sql<ClaimedRowRaw>`
    SELECT id, aggregate_type, aggregate_id, project_id, seq, update_type, schema_version, payload,
           base_version, traceparent, attempts, (next_attempt_at IS NULL OR next_attempt_at <= now()) AS due
    FROM cogo.project_updates
    WHERE status = 'pending'
      AND project_id = ANY(${idArray(projects.map((p) => p.project_id))}::uuid[])
    ORDER BY id LIMIT ${limits.batchSize}`
  return { projects: projects.length, rows: rows.map(toClaimedRow) } satisfies Claim
})

/** Waits for one project's lock (held until the transaction ends): live batches skip the project meanwhile. */
export const lockProject = (sql: PgClient.PgClient, projectId: string) =>
  sql`SELECT pg_advisory_xact_lock(${projectLockClass}, hashtext(${projectId}::text))`

/** A page of one project's applied updates after `afterId`, in id order (what a rebuild replays). */
export const appliedRowsAfter = (sql: PgClient.PgClient, projectId: string, afterId: number, limit: number) =>
  Effect.map(
    sql<ClaimedRowRaw>`
      SELECT id, aggregate_type, aggregate_id, project_id, seq, update_type, schema_version, payload,
             base_version, traceparent, attempts, true AS due
      FROM cogo.project_updates
      WHERE project_id = ${projectId} AND status = 'applied' AND id > ${afterId}
      ORDER BY id LIMIT ${limit}`,
    (raw) => raw.map(toClaimedRow)
  )
