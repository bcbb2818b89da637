/**
 * Applying claimed rows to `public.*` (in the batch's transaction, under the projector role):
 * - Order: updates of an aggregate apply in `seq` order; an update waiting for a retry holds back the later
 *   updates of its aggregate only. `cogo.projection_state.applied_seq` makes re-applying impossible.
 * - "set" mode: runs of upserts between deletes collapse to the last state of each aggregate (updates carry
 *   full states), one statement per kind, parents first; deletes (with their cascades) apply in place.
 * - "isolated" mode (after a set-based batch failed): one update at a time, each in a savepoint, so one bad
 *   update only fails itself (retry or dead letter) and holds back the later updates of its aggregate.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect, Result } from "effect"
import type * as Statement from "effect/sql/Statement"
import type { SqlError } from "effect/sql/SqlError"
import { type EntityDeleted, type EntityUpserted, isUpsert, type ProjectUpdate } from "../domain/cqrs/ProjectUpdate.ts"
import { idArray } from "../services/platform/sqlArrays.ts"
import { type ProjectionStateRow, projectionStateOf } from "./bookkeeping.ts"
import { type AppliedStates, withoutConflicts } from "./conflicts.ts"
import { applyOrder, entityTables, projectors, type PublicRowVersion, upsertStatement } from "./Projectors.ts"
import { failureOutcome, type RetryDelay } from "./retries.ts"
import { aggregateKey, type ClaimedRow, type Decided, decodeRow, type Op, type Outcome } from "./rows.ts"

/** "set" (`replay`: a rebuild, no conflict checks) or "isolated" (failures are retried, then dead letters). */
export type ApplyMode =
  | { readonly mode: "set"; readonly replay: boolean }
  | { readonly mode: "isolated"; readonly retryDelay: RetryDelay }

/** Applied seq and projected flag of the aggregates of `rows` (known kinds only; live batches read them with the claim). */
export const loadAppliedStates = Effect.fn("Projection.loadAppliedStates")(function*(sql: PgClient.PgClient, rows: ReadonlyArray<ClaimedRow>) {
  const ids = new Set(rows.filter((row) => row.aggregateType in entityTables).map((row) => row.aggregateId))
  const found = yield* sql<{ aggregate_type: string; aggregate_id: string; applied_seq: string; projected: boolean }>`
    SELECT s.aggregate_type, s.aggregate_id, s.applied_seq, s.projected FROM cogo.projection_state s
    WHERE s.aggregate_id = ANY(${idArray(ids)}::uuid[])`
  const states: AppliedStates = new Map(
    found.map((row) => [aggregateKey(row.aggregate_type, row.aggregate_id), { appliedSeq: Number(row.applied_seq), projected: row.projected }])
  )
  return states
})

/**
 * The rows to apply, in claim order: due, not yet applied (else `superseded`), decodable (else `dead`).
 * Within an aggregate, an update waits for every earlier one still pending (those rows get no outcome: held).
 */
const candidatesOf = (rows: ReadonlyArray<ClaimedRow>, states: AppliedStates, outcomes: Map<number, Outcome>) => {
  const blocked = new Set<string>()
  const candidates: Array<Op> = []
  for (const row of rows) {
    const key = aggregateKey(row.aggregateType, row.aggregateId)
    if (blocked.has(key)) continue
    if (!row.due) {
      blocked.add(key)
      continue
    }
    if (row.seq <= (states.get(key)?.appliedSeq ?? 0)) {
      outcomes.set(row.id, { _tag: "superseded" })
      continue
    }
    const decoded = decodeRow(row)
    if (Result.isFailure(decoded)) {
      outcomes.set(row.id, { _tag: "dead", error: decoded.failure })
      continue
    }
    candidates.push(decoded.success)
  }
  return candidates
}

const itemOf = (update: ProjectUpdate): unknown => isUpsert(update) ? update.state : (update as EntityDeleted).id

/** Deletes cascade in public: forget that the cascaded rows were projected, so no false conflict follows. */
const forgetCascaded = (sql: PgClient.PgClient, update: ProjectUpdate): Effect.Effect<unknown, SqlError> => {
  if (update._tag === "project.deleted") {
    return sql`UPDATE cogo.projection_state SET projected = false
      WHERE project_id = ${update.id} AND aggregate_type <> 'project'`
  }
  if (update._tag === "page.deleted") {
    return sql`UPDATE cogo.projection_state s SET projected = false FROM public.project_pages pp
      WHERE pp.page_id = ${update.id} AND s.aggregate_type = 'project_page' AND s.aggregate_id = pp.id`
  }
  return Effect.void
}

const applyOne = (sql: PgClient.PgClient, op: Op) =>
  Effect.andThen(forgetCascaded(sql, op.update), projectors.get(op.update._tag)!.apply(sql, [itemOf(op.update)]))

/** Upserts only: the last state of each aggregate, one statement per kind, parents first. */
const upsertWrites = (sql: PgClient.PgClient, ops: ReadonlyArray<Op>) => {
  const last = new Map<string, Op>()
  for (const op of ops) last.set(op.key, op)
  return applyOrder.flatMap((kind) => {
    const states = [...last.values()].filter((op) => op.kind === kind).map((op) => (op.update as EntityUpserted).state)
    return states.length === 0 ? [] : [upsertStatement(sql, kind, states)]
  })
}

const applyUpserts = (sql: PgClient.PgClient, ops: ReadonlyArray<Op>) => Effect.forEach(upsertWrites(sql, ops), Effect.asVoid, { discard: true })

/**
 * Set mode: runs of upserts between deletes collapse set-based; deletes (and their cascades) apply in place.
 * A batch of upserts only (the common case) may leave its writes to the batch's closing statement
 * (`deferred`): one round trip less.
 */
const applySetBased = Effect.fn("Projection.applySetBased")(function*(sql: PgClient.PgClient, effective: ReadonlyArray<Op>, defer: boolean) {
  if (defer && effective.every((op) => isUpsert(op.update))) return upsertWrites(sql, effective)
  let run: Array<Op> = []
  for (const op of effective) {
    if (isUpsert(op.update)) {
      run.push(op)
      continue
    }
    yield* applyUpserts(sql, run)
    run = []
    yield* applyOne(sql, op)
  }
  yield* applyUpserts(sql, run)
  return []
})

/** Isolated mode: one update at a time in a savepoint; after a failure, the aggregate's later updates (conflicts included) stay pending. */
const applyIsolated = Effect.fn("Projection.applyIsolated")(function*(
  sql: PgClient.PgClient,
  candidates: ReadonlyArray<Op>,
  effective: ReadonlyArray<Op>,
  outcomes: Map<number, Outcome>,
  retryDelay: RetryDelay
) {
  const applicable = new Set(effective)
  const failed = new Set<string>()
  for (const op of candidates) {
    if (failed.has(op.key)) {
      outcomes.delete(op.row.id)
      continue
    }
    if (!applicable.has(op)) continue
    const attempt = yield* Effect.result(sql.withTransaction(applyOne(sql, op)))
    if (Result.isSuccess(attempt)) {
      outcomes.set(op.row.id, { _tag: "applied" })
    } else {
      failed.add(op.key)
      outcomes.set(op.row.id, yield* failureOutcome(retryDelay, op.row, attempt.failure.message))
    }
  }
})

export interface Applied {
  /** The outcome of every decided row, in claim order (held rows omitted). */
  readonly decided: ReadonlyArray<Decided>
  /** The projection state the decided rows leave (for `finishBatch`, or written by a replay). */
  readonly state: ReadonlyArray<ProjectionStateRow>
  /** Public writes not executed yet: the caller's closing statement must run them (live set-based batches). */
  readonly deferred: ReadonlyArray<Statement.Fragment>
}

/** What the apply step works on: claimed rows, their aggregates' projection state, their locked public rows. */
export interface ApplyInput {
  readonly rows: ReadonlyArray<ClaimedRow>
  readonly states: AppliedStates
  /** Locked by the claim (a replay makes no conflict checks: empty). */
  readonly current: ReadonlyMap<string, PublicRowVersion>
}

/**
 * Decides and applies the outcome of every claimed row. Writes `public.*` only (or returns those writes as
 * `deferred`): statuses, projection state and events are the caller's.
 */
export const applyRows = (sql: PgClient.PgClient, { rows, states, current }: ApplyInput, how: ApplyMode) =>
  Effect.gen(function*() {
    const outcomes = new Map<number, Outcome>()
    const candidates = candidatesOf(rows, states, outcomes)
    const replay = how.mode === "set" && how.replay
    const effective = replay ? candidates : withoutConflicts(candidates, new Map(current), states, outcomes)

    let deferred: ReadonlyArray<Statement.Fragment> = []
    if (how.mode === "set") {
      deferred = yield* applySetBased(sql, effective, !how.replay)
      for (const op of effective) outcomes.set(op.row.id, { _tag: "applied" })
    } else {
      yield* applyIsolated(sql, candidates, effective, outcomes, how.retryDelay)
    }

    const decided = rows.flatMap((row): Array<Decided> => {
      const outcome = outcomes.get(row.id)
      return outcome === undefined ? [] : [[row, outcome]]
    })
    return { decided, state: projectionStateOf(decided, candidates, effective, states), deferred } satisfies Applied
  })
