/**
 * Claiming work (see docs/projection.md, "Claiming, replicas"), two statements:
 * 1. `claimProjects`: switch the transaction to the projector role and take transaction-scoped advisory
 *    locks on a few projects with due work (`pg_try_advisory_xact_lock`, so fibers and replicas pick
 *    different projects and nobody waits). The projects are found by a skip scan of
 *    `cogo.project_updates_open` (the pending and dead rows, migration 0023: one index descent per project
 *    with pending work, not a scan of every pending row).
 * 2. `readClaimed`: in a NEW statement, whose snapshot includes everything the previous lock holder
 *    committed, those projects' pending updates with what the apply step needs of each aggregate: its
 *    projection state (applied seq, projected) and its public row (version, last author), locked
 *    `FOR UPDATE` so no user edit lands between the conflict check and the write.
 * Rebuilds wait for the same project lock.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import { type EntityKind } from "../domain/cqrs/ProjectUpdate.ts"
import { DbRole } from "../services/platform/Database.ts"
import { idArray } from "../services/platform/sqlArrays.ts"
import type { AppliedStates } from "./conflicts.ts"
import { entityTables, type PublicRowVersion } from "./Projectors.ts"
import { aggregateKey, type ClaimedRow, type ClaimedRowRaw, toClaimedRow } from "./rows.ts"

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
  /** Projection state of the rows' aggregates. */
  readonly states: AppliedStates
  /** The rows' current public rows, locked until commit, by aggregate key (absent: no public row). */
  readonly current: Map<string, PublicRowVersion>
}

const emptyClaim = (): Claim => ({ projects: 0, rows: [], states: new Map(), current: new Map() })

/**
 * Sets the projector role and locks up to `projectsPerBatch` projects with due work, oldest first. The
 * recursive CTE walks the distinct project ids of `cogo.project_updates_open` (its primary key).
 */
const claimProjects = (sql: PgClient.PgClient, limits: ClaimLimits) =>
  sql<{ project_id: string }>`
    WITH RECURSIVE pending AS (
      (SELECT project_id FROM cogo.project_updates_open WHERE NOT dead ORDER BY project_id LIMIT 1)
      UNION ALL
      SELECT (SELECT o.project_id FROM cogo.project_updates_open o
              WHERE NOT o.dead AND o.project_id > p.project_id ORDER BY o.project_id LIMIT 1)
      FROM pending p WHERE p.project_id IS NOT NULL
    ), candidates AS (
      SELECT p.project_id FROM pending p
      CROSS JOIN LATERAL (
        SELECT o.id AS first_id FROM cogo.project_updates_open o
        WHERE NOT o.dead AND o.project_id = p.project_id AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= now())
        ORDER BY o.id LIMIT 1
      ) due
      WHERE p.project_id IS NOT NULL AND due.first_id IS NOT NULL
      ORDER BY due.first_id LIMIT ${limits.projectsPerBatch * 4}
    )
    SELECT c.project_id FROM (SELECT set_config('role', ${DbRole.projector}, true)) AS r(role), candidates c
    WHERE pg_try_advisory_xact_lock(${projectLockClass}, hashtext(c.project_id::text))
    LIMIT ${limits.projectsPerBatch}`

const kinds = Object.keys(entityTables) as ReadonlyArray<EntityKind>

/** One CTE per public table: the public rows of the claimed aggregates of that kind, locked in id order. */
const lockedRowsSql = kinds.map((kind) => `locked_${kind} AS MATERIALIZED (
    SELECT '${kind}'::text AS kind, t.id, t.version, t.updated_by FROM ${entityTables[kind].table} t
    WHERE t.id = ANY(ARRAY(SELECT aggregate_id FROM claimed WHERE aggregate_type = '${kind}'))
    ORDER BY t.id FOR UPDATE)`).join(",\n  ")

const readClaimedSql = `
  WITH open AS MATERIALIZED (
    SELECT o.id FROM cogo.project_updates_open o
    WHERE NOT o.dead AND o.project_id = ANY($1::uuid[])
    ORDER BY o.id LIMIT $2
  ), claimed AS MATERIALIZED (
    SELECT u.id, u.aggregate_type, u.aggregate_id, u.project_id, u.seq, u.update_type, u.schema_version, u.payload,
           u.base_version, u.traceparent, u.attempts, (u.next_attempt_at IS NULL OR u.next_attempt_at <= now()) AS due
    FROM cogo.project_updates u
    WHERE u.id = ANY(ARRAY(SELECT id FROM open)) AND u.status = 'pending'
  ), states AS MATERIALIZED (
    SELECT s.aggregate_type, s.aggregate_id, s.applied_seq, s.projected FROM cogo.projection_state s
    WHERE s.aggregate_id = ANY(ARRAY(SELECT DISTINCT aggregate_id FROM claimed))
  ),
  ${lockedRowsSql},
  locked AS (${kinds.map((kind) => `SELECT * FROM locked_${kind}`).join(" UNION ALL ")})
  SELECT c.*, s.applied_seq, s.projected, l.id IS NOT NULL AS public_exists, l.version AS public_version,
         l.updated_by AS public_updated_by
  FROM claimed c
  LEFT JOIN states s ON s.aggregate_type = c.aggregate_type AND s.aggregate_id = c.aggregate_id
  LEFT JOIN locked l ON l.kind = c.aggregate_type AND l.id = c.aggregate_id
  ORDER BY c.id`

interface ReadRowRaw extends ClaimedRowRaw {
  readonly applied_seq: string | null
  readonly projected: boolean | null
  readonly public_exists: boolean
  readonly public_version: string | null
  readonly public_updated_by: string | null
}

/** Those projects' pending rows (≤ `batchSize`, id order), their aggregates' projection state and locked public rows. */
const readClaimed = (sql: PgClient.PgClient, projectIds: ReadonlyArray<string>, batchSize: number) =>
  Effect.map(sql.unsafe<ReadRowRaw>(readClaimedSql, [idArray(projectIds), batchSize]), (raw) => {
    const states = new Map<string, { readonly appliedSeq: number; readonly projected: boolean }>()
    const current = new Map<string, PublicRowVersion>()
    const rows = raw.map((row) => {
      const key = aggregateKey(row.aggregate_type, row.aggregate_id)
      if (row.applied_seq !== null) states.set(key, { appliedSeq: Number(row.applied_seq), projected: row.projected === true })
      if (row.public_exists) {
        current.set(key, { id: row.aggregate_id, version: Number(row.public_version), updatedBy: row.public_updated_by })
      }
      return toClaimedRow(row)
    })
    return { rows, states, current }
  })

/** Locks projects with due work, then reads their pending updates (see the module comment). */
export const claimBatch = Effect.fn("Projection.claim")(function*(sql: PgClient.PgClient, limits: ClaimLimits) {
  const projects = yield* claimProjects(sql, limits)
  if (projects.length === 0) return emptyClaim()
  const read = yield* readClaimed(sql, projects.map((p) => p.project_id), limits.batchSize)
  return { projects: projects.length, ...read } satisfies Claim
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
