/**
 * Conflicts with user edits (see docs/projection.md, "Conflict policy"): an update may overwrite a public row
 * only if the projector wrote it last or the update was computed from the user's version, and may recreate
 * a row a user deleted only knowingly (with a base version). The public rows are locked `FOR UPDATE` (by the claim, claim.ts)
 * between the check and the write, so no user edit slips in. Conflicts are recorded in `cogo.projection_conflicts`.
 */
import type { PgClient } from "@effect/sql-pg"
import { isUpsert } from "../domain/cqrs/ProjectUpdate.ts"
import type { PublicRowVersion } from "./Projectors.ts"
import type { Decided, Op, Outcome } from "./rows.ts"

/** What the projector knows of an aggregate: applied through which seq, and whether it projected a row. */
export type AppliedStates = ReadonlyMap<string, { readonly appliedSeq: number; readonly projected: boolean }>

/**
 * Checks the candidates in order against the current public rows (`current` is updated as the batch would
 * write them: later updates of an aggregate the projector now owns do not conflict). Records a conflict
 * outcome for each conflicting update and returns the others, to be applied.
 */
export const withoutConflicts = (
  candidates: ReadonlyArray<Op>,
  current: Map<string, PublicRowVersion>,
  states: AppliedStates,
  outcomes: Map<number, Outcome>
): ReadonlyArray<Op> => {
  const projected = new Map<string, boolean>()
  const effective: Array<Op> = []
  for (const op of candidates) {
    const row = current.get(op.key)
    const wasProjected = projected.get(op.key) ?? states.get(op.key)?.projected ?? false
    // A user wrote the row (updated_by set) after the version the update was based on.
    if (row !== undefined && row.updatedBy !== null && (op.row.baseVersion ?? 0) < row.version) {
      outcomes.set(op.row.id, { _tag: "conflict", kind: "edited_by_user", publicVersion: row.version, userId: row.updatedBy })
      continue
    }
    // A user deleted a row the projector had created.
    if (row === undefined && wasProjected && isUpsert(op.update) && op.row.baseVersion === null) {
      outcomes.set(op.row.id, { _tag: "conflict", kind: "deleted_by_user", publicVersion: null, userId: null })
      continue
    }
    // From here on the row is the projector's: later updates of this batch do not conflict.
    if (isUpsert(op.update)) current.set(op.key, { id: op.row.aggregateId, version: 0, updatedBy: null })
    else current.delete(op.key)
    projected.set(op.key, isUpsert(op.update))
    effective.push(op)
  }
  return effective
}

/** Statement fragment (for the batch's closing statement): one `cogo.projection_conflicts` row per conflict. */
export const conflictInsert = (sql: PgClient.PgClient, decided: ReadonlyArray<Decided>) => {
  const rows = decided.flatMap(([row, c]) => c._tag !== "conflict" ? [] : [{
    update_id: row.id,
    aggregate_type: row.aggregateType,
    aggregate_id: row.aggregateId,
    project_id: row.projectId,
    kind: c.kind,
    public_version: c.publicVersion,
    base_version: row.baseVersion,
    user_id: c.userId
  }])
  return sql`
    INSERT INTO cogo.projection_conflicts (update_id, aggregate_type, aggregate_id, project_id, kind, public_version, base_version, user_id)
    SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      AS x(update_id bigint, aggregate_type text, aggregate_id uuid, project_id uuid, kind text, public_version bigint, base_version bigint, user_id uuid)`
}
