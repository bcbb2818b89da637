/**
 * What a batch writes besides `public.*`: `cogo.projection_state` (applied seq per aggregate, the guard
 * against re-applying), the outbox rows' new statuses (applied, superseded, conflict, retry, dead letter),
 * conflict records and bus events. They are statement fragments combined into ONE statement (data-modifying
 * CTEs) by `finishBatch`, so that a batch of one update costs as few round trips as possible.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import type * as Statement from "effect/sql/Statement"
import { type EntityKind, isUpsert } from "../domain/cqrs/ProjectUpdate.ts"
import { idArray } from "../services/platform/sqlArrays.ts"
import { batchEvents, busEventInsert, notifyInserted } from "./busEvents.ts"
import { type AppliedStates, conflictInsert } from "./conflicts.ts"
import { entityTables } from "./Projectors.ts"
import { aggregateKey, type Decided, type Op } from "./rows.ts"

/** A `cogo.projection_state` row. `projected`: null = look at the public row (after deletes, whose cascades the batch does not track). */
export interface ProjectionStateRow {
  readonly aggregate_type: string
  readonly aggregate_id: string
  readonly project_id: string
  readonly applied_seq: number
  readonly applied_update_id: number
  readonly projected: boolean | null
}

/**
 * What the projector now knows of each aggregate it decided: applied through which seq, and whether its row
 * should exist (a conflict leaves that unchanged, so the user's delete keeps conflicting).
 */
export const projectionStateOf = (
  decided: ReadonlyArray<Decided>,
  candidates: ReadonlyArray<Op>,
  effective: ReadonlyArray<Op>,
  states: AppliedStates
): ReadonlyArray<ProjectionStateRow> => {
  const hasDeletes = effective.some((op) => !isUpsert(op.update))
  const opById = new Map(candidates.map((op) => [op.row.id, op]))
  const appliedState = new Map<string, ProjectionStateRow>()
  for (const [row, outcome] of decided) {
    if (outcome._tag !== "applied" && outcome._tag !== "conflict") continue
    const key = aggregateKey(row.aggregateType, row.aggregateId)
    const op = opById.get(row.id)
    appliedState.set(key, {
      aggregate_type: row.aggregateType,
      aggregate_id: row.aggregateId,
      project_id: row.projectId,
      applied_seq: row.seq,
      applied_update_id: row.id,
      projected: outcome._tag === "conflict"
        ? appliedState.get(key)?.projected ?? states.get(key)?.projected ?? false
        : hasDeletes || op === undefined ? null : isUpsert(op.update)
    })
  }
  return [...appliedState.values()]
}

const projectedExpression = `CASE x.aggregate_type ${
  (Object.keys(entityTables) as ReadonlyArray<EntityKind>).map((kind) =>
    `WHEN '${kind}' THEN EXISTS (SELECT 1 FROM ${entityTables[kind].table} t WHERE t.id = x.aggregate_id)`).join(" ")
} ELSE false END`

/** Upserts projection state rows (a statement of its own, or a fragment of `finishBatch`). */
export const projectionStateUpsert = (sql: PgClient.PgClient, rows: ReadonlyArray<ProjectionStateRow>) => sql`
  INSERT INTO cogo.projection_state AS s (aggregate_type, aggregate_id, project_id, applied_seq, applied_update_id, projected, updated_at)
  SELECT x.aggregate_type, x.aggregate_id, x.project_id, x.applied_seq, x.applied_update_id, coalesce(x.projected, ${sql.literal(projectedExpression)}), now()
  FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(aggregate_type text, aggregate_id uuid, project_id uuid, applied_seq bigint, applied_update_id bigint, projected boolean)
  ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET
    applied_seq = GREATEST(s.applied_seq, excluded.applied_seq),
    applied_update_id = excluded.applied_update_id,
    projected = excluded.projected,
    updated_at = now()`

/** The outbox rows' new statuses; a retry stays pending with its next attempt time, a dead letter keeps its error. */
const statusUpdate = (sql: PgClient.PgClient, decided: ReadonlyArray<Decided>) => {
  const rows = decided.map(([row, outcome]) => ({
    id: row.id,
    status: outcome._tag === "retry" ? "pending" : outcome._tag,
    error: outcome._tag === "retry" || outcome._tag === "dead" ? outcome.error : null,
    failed: outcome._tag === "retry" || outcome._tag === "dead",
    delay_ms: outcome._tag === "retry" ? Math.round(outcome.delayMillis) : null
  }))
  return sql`
    UPDATE cogo.project_updates u SET
      status = x.status,
      attempts = u.attempts + CASE WHEN x.failed THEN 1 ELSE 0 END,
      last_error = coalesce(x.error, u.last_error),
      next_attempt_at = CASE WHEN x.delay_ms IS NULL THEN NULL ELSE clock_timestamp() + x.delay_ms * interval '1 millisecond' END,
      applied_at = CASE WHEN x.status IN ('applied', 'superseded', 'conflict') THEN clock_timestamp() ELSE u.applied_at END
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(id bigint, status text, error text, failed boolean, delay_ms bigint)
    WHERE u.id = x.id AND u.id = ANY(${idArray(rows.map((row) => row.id))}::bigint[])`
}

/**
 * Projection state, statuses, conflicts and events of a batch, and the batch's deferred public writes (upserts
 * only, whose FK checks run at the end of the statement, after every part): one statement.
 */
export const finishBatch = Effect.fn("Projection.finishBatch")(function*(
  sql: PgClient.PgClient,
  state: ReadonlyArray<ProjectionStateRow>,
  decided: ReadonlyArray<Decided>,
  writes: ReadonlyArray<Statement.Fragment>
) {
  const publicWrites = writes.map((write, index) => sql`${sql.literal(`write_${index} AS (`)}${write}), `)
  yield* sql`
    WITH ${sql.join("", false)(publicWrites)}state AS (${projectionStateUpsert(sql, state)}),
      statuses AS (${statusUpdate(sql, decided)}),
      conflicts AS (${conflictInsert(sql, decided)}),
      inserted AS (${busEventInsert(sql, batchEvents(decided))})
    ${notifyInserted(sql)}`
})
