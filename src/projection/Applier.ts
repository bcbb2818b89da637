/**
 * Claims outbox updates and applies them to `public.*`, one transaction per batch under `DbRole.projector`.
 *
 * Order and exactly-once (see docs/projection.md):
 * - A batch first takes transaction-scoped advisory locks on a few projects with due work
 *   (`pg_try_advisory_xact_lock`, so replicas pick different projects), then reads those projects' pending
 *   updates in a NEW statement, whose snapshot includes everything the previous lock holder committed.
 * - Updates of an aggregate are applied in `seq` order; an update waiting for a retry holds back the later
 *   updates of its aggregate only. `cogo.projection_state.applied_seq` makes re-applying impossible.
 * - Public rows, update statuses and projection state are written in the same transaction: a worker that
 *   dies mid-batch leaves nothing behind, and the next batch re-claims the same updates.
 *
 * Speed: a batch with no deletes collapses each aggregate to its last state (updates carry full states)
 * and writes each kind with one statement, parents first. Deletes (with their cascades) and batches that
 * fail are applied one update at a time, each in a savepoint, so one bad update only fails itself.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Duration, Effect, Layer, Metric, Option, Result, Schedule, Tracer } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import type { SqlError } from "effect/sql/SqlError"
import {
  aggregateOf,
  decodeStoredUpdate,
  type EntityKind,
  type EntityDeleted,
  type EntityUpserted,
  isUpsert,
  type ProjectUpdate
} from "../domain/cqrs/ProjectUpdate.ts"
import { parseTraceparent, type TraceContext } from "../domain/platform/Traceparent.ts"
import { AppConfig } from "../services/platform/AppConfig.ts"
import { DbRole, inRoleTransaction } from "../services/platform/Database.ts"
import { channel } from "../services/platform/Notifications.ts"
import type { NewBusEvent } from "../domain/platform/BusEvent.ts"
import { applyOrder, entityTables, idArray, lockPublicRows, projectors, type PublicRowVersion } from "./Projectors.ts"
import { batchDuration, batchSize, conflictsTotal, deadLettersTotal, updatesProcessed } from "./ProjectionMetrics.ts"

/** Advisory lock class of projects being projected (first key of the two-key advisory lock functions). */
export const projectLockClass = 0x636f02

export const applierConfig = Config.all({
  batchSize: Config.Int("PROJECTION_BATCH_SIZE").pipe(Config.withDefault(2000)),
  projectsPerBatch: Config.Int("PROJECTION_PROJECTS_PER_BATCH").pipe(Config.withDefault(16)),
  maxAttempts: Config.Int("PROJECTION_MAX_ATTEMPTS").pipe(Config.withDefault(5)),
  retryBaseMillis: Config.Int("PROJECTION_RETRY_BASE_MS").pipe(Config.withDefault(200)),
  retryCapMillis: Config.Int("PROJECTION_RETRY_CAP_MS").pipe(Config.withDefault(30_000))
})
export type ApplierConfig = typeof applierConfig extends Config.Config<infer A> ? A : never

/** Connections reserved for projection batches (PostgreSQL only; 0: share the service's pool). */
export const projectionConnections = Config.Int("PROJECTION_CONNECTIONS").pipe(Config.withDefault(4))

/**
 * The client batches run on. On PostgreSQL a small pool of its own, so writers queueing for the service's
 * pool never delay projection (commit-to-visible latency under write load); on the embedded backend (one
 * backend anyway) or with PROJECTION_CONNECTIONS=0, the service's pool.
 */
const projectionClient = Effect.gen(function*() {
  const shared = yield* PgClient.PgClient
  const { databaseUrl } = yield* AppConfig
  const connections = yield* projectionConnections
  if (Option.isNone(databaseUrl) || connections <= 0) return shared
  return yield* PgClient.make({ url: databaseUrl.value, maxConnections: connections, applicationName: "cogo-projection", transformJson: false }).pipe(
    Effect.provide(Reactivity.layer)
  )
})

interface ClaimedRow {
  readonly id: number
  readonly aggregateType: string
  readonly aggregateId: string
  readonly projectId: string
  readonly seq: number
  readonly updateType: string
  readonly schemaVersion: number
  readonly payload: unknown
  readonly baseVersion: number | null
  readonly traceparent: string | null
  readonly attempts: number
  readonly due: boolean
}

/** The identifying columns of an outbox row as the driver returns them. */
interface OutboxRowIdentityRaw {
  readonly id: string
  readonly aggregate_type: string
  readonly aggregate_id: string
  readonly project_id: string
  readonly seq: string
  readonly update_type: string
  readonly schema_version: number
}

interface ClaimedRowRaw extends OutboxRowIdentityRaw {
  readonly payload: unknown
  readonly base_version: string | null
  readonly traceparent: string | null
  readonly attempts: number
  readonly due: boolean
}

/** The identifying columns of an outbox row, as every reader of `cogo.project_updates` reports them. */
export const outboxRowIdentity = (row: OutboxRowIdentityRaw) => ({
  id: Number(row.id),
  aggregateType: row.aggregate_type,
  aggregateId: row.aggregate_id,
  projectId: row.project_id,
  seq: Number(row.seq),
  updateType: row.update_type,
  schemaVersion: row.schema_version
})

const toClaimedRow = (row: ClaimedRowRaw): ClaimedRow => ({
  ...outboxRowIdentity(row),
  payload: typeof row.payload === "string" ? safeParse(row.payload) : row.payload,
  baseVersion: row.base_version === null ? null : Number(row.base_version),
  traceparent: row.traceparent,
  attempts: row.attempts,
  due: row.due
})

const safeParse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

type Outcome =
  | { readonly _tag: "applied" }
  | { readonly _tag: "superseded" }
  | { readonly _tag: "conflict"; readonly kind: "edited_by_user" | "deleted_by_user"; readonly publicVersion: number | null; readonly userId: string | null }
  | { readonly _tag: "retry"; readonly error: string; readonly delayMillis: number }
  | { readonly _tag: "dead"; readonly error: string }

interface Op {
  readonly row: ClaimedRow
  readonly update: ProjectUpdate
  readonly kind: EntityKind
  readonly key: string
}

export interface BatchSummary {
  /** Updates claimed by the batch (0: nothing to do). */
  readonly claimed: number
  readonly applied: number
  readonly superseded: number
  readonly conflicts: number
  readonly retried: number
  readonly dead: number
  /** Claimed but left pending (waiting for an earlier update of their aggregate). */
  readonly held: number
  readonly mode: "set" | "isolated" | "idle"
  /** The batch took as many projects or updates as it may: more work is probably due right now. */
  readonly saturated: boolean
}

/** Progress = the batch changed the state of at least one update (held-only batches are not progress). */
export const madeProgress = (summary: BatchSummary) => summary.claimed - summary.held > 0

const emptySummary: BatchSummary = { claimed: 0, applied: 0, superseded: 0, conflicts: 0, retried: 0, dead: 0, held: 0, mode: "idle", saturated: false }

const aggregateKey = (type: string, id: string) => `${type}:${id}`

interface ProjectionStateRow {
  readonly aggregate_type: string
  readonly aggregate_id: string
  readonly project_id: string
  readonly applied_seq: number
  readonly applied_update_id: number
  readonly projected: boolean | null
}

export class ProjectionApplier extends Context.Service<ProjectionApplier, {
  /** Claims and applies one batch in its own transaction under the projector role. */
  readonly processBatch: Effect.Effect<BatchSummary, SqlError>
  /**
   * Rebuilds one project's `public.*` rows from its applied updates, holding the project's lock: deletes
   * the project's entity rows (the project row and its members stay) and projection state, then replays
   * (no conflict checks, statuses unchanged).
   */
  readonly rebuildProject: (projectId: string) => Effect.Effect<{ readonly replayed: number }, SqlError>
  /** The delay before retry number `attempt` (1-based), or none when the update should become a dead letter. */
  readonly retryDelay: (attempt: number) => Effect.Effect<Option.Option<Duration.Duration>>
}>()("cogo/ProjectionApplier") {
  static readonly layer = Layer.effect(
    ProjectionApplier,
    Effect.gen(function*() {
      const config = yield* applierConfig
      return yield* makeApplier(config)
    })
  )

  /** The applier with explicit configuration (tests, bench). */
  static readonly layerWith = (config: ApplierConfig) => Layer.effect(ProjectionApplier, makeApplier(config))
}

const makeApplier = (config: ApplierConfig) =>
  Effect.gen(function*() {
    const sql = yield* projectionClient
    /** `Database.withRole` on the projection's own client (its statements must run in this transaction). */
    const asProjector = <A, E, R>(effect: Effect.Effect<A, E, R>) => inRoleTransaction(sql, DbRole.projector, effect)

    const retrySchedule = Schedule.min([
      Schedule.exponential(Duration.millis(config.retryBaseMillis)),
      Schedule.spaced(Duration.millis(config.retryCapMillis))
    ]).pipe(Schedule.jittered, Schedule.upTo({ times: Math.max(0, config.maxAttempts - 1) }))

    const retryDelay = (attempt: number) =>
      Effect.gen(function*() {
        const step = yield* Schedule.toStep(retrySchedule)
        let delay = Duration.zero
        for (let i = 0; i < attempt; i++) {
          const next = yield* Effect.result(step(Date.now(), undefined))
          if (Result.isFailure(next)) return Option.none<Duration.Duration>()
          delay = next.success[1]
        }
        return Option.some(delay)
      })

    const lockDueProjects = sql<{ project_id: string }>`
      SELECT project_id FROM (
        SELECT project_id, min(id) AS first_id FROM cogo.project_updates
        WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= now())
        GROUP BY project_id ORDER BY first_id LIMIT ${config.projectsPerBatch * 4}
      ) candidates
      WHERE pg_try_advisory_xact_lock(${projectLockClass}, hashtext(project_id::text))
      LIMIT ${config.projectsPerBatch}`

    const claimRows = (projectIds: ReadonlyArray<string>, limit: number) =>
      Effect.map(
        sql<ClaimedRowRaw>`
          SELECT id, aggregate_type, aggregate_id, project_id, seq, update_type, schema_version, payload,
                 base_version, traceparent, attempts, (next_attempt_at IS NULL OR next_attempt_at <= now()) AS due
          FROM cogo.project_updates
          WHERE status = 'pending'
            AND project_id = ANY(${idArray(projectIds)}::uuid[])
          ORDER BY id LIMIT ${limit}`,
        (rows) => rows.map(toClaimedRow)
      )

    const loadAppliedSeqs = (keys: ReadonlyArray<{ readonly t: string; readonly i: string }>) =>
      Effect.map(
        sql<{ aggregate_type: string; aggregate_id: string; applied_seq: string; projected: boolean }>`
          SELECT s.aggregate_type, s.aggregate_id, s.applied_seq, s.projected FROM cogo.projection_state s
          WHERE s.aggregate_id = ANY(${idArray(new Set(keys.map((key) => key.i)))}::uuid[])`,
        (rows) => new Map(rows.map((row) => [aggregateKey(row.aggregate_type, row.aggregate_id), { appliedSeq: Number(row.applied_seq), projected: row.projected }]))
      )

    /** Decodes a row; a row whose payload does not match its own aggregate columns is as bad as undecodable. */
    const decodeRow = (row: ClaimedRow): Result.Result<Op, string> => {
      const decoded = decodeStoredUpdate(row)
      if (Result.isFailure(decoded)) return Result.fail(decoded.failure.message)
      const aggregate = aggregateOf(decoded.success)
      if (aggregate.kind !== row.aggregateType || aggregate.id !== row.aggregateId || aggregate.projectId !== row.projectId) {
        return Result.fail(
          `payload is for ${aggregate.kind} ${aggregate.id} in project ${aggregate.projectId}, but the row is for ${row.aggregateType} ${row.aggregateId} in project ${row.projectId}`
        )
      }
      return Result.succeed({ row, update: decoded.success, kind: aggregate.kind, key: aggregateKey(row.aggregateType, row.aggregateId) })
    }

    const failureOutcome = (row: ClaimedRow, error: string) =>
      Effect.map(retryDelay(row.attempts + 1), Option.match({
        onNone: (): Outcome => ({ _tag: "dead", error: `${error} (after ${row.attempts + 1} attempts)` }),
        onSome: (delay): Outcome => ({ _tag: "retry", error, delayMillis: Duration.toMillis(delay) })
      }))

    const itemOf = (update: ProjectUpdate): unknown => isUpsert(update) ? update.state : (update as EntityDeleted).id

    /** Deletes cascade in public: forget that the cascaded rows were projected, so no false conflict follows. */
    const forgetCascaded = (update: ProjectUpdate): Effect.Effect<unknown, SqlError> => {
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

    const applyOne = (op: Op) =>
      Effect.andThen(forgetCascaded(op.update), projectors.get(op.update._tag)!.apply(sql, [itemOf(op.update)]))

    /** Upsert-only batches: the last state of each aggregate, one statement per kind, parents first. */
    const applySetBased = (ops: ReadonlyArray<Op>) => {
      if (ops.length === 0) return Effect.void
      const last = new Map<string, Op>()
      for (const op of ops) last.set(op.key, op)
      return Effect.forEach(applyOrder, (kind) => {
        const states = [...last.values()].filter((op) => op.kind === kind).map((op) => (op.update as EntityUpserted).state)
        return states.length === 0 ? Effect.void : projectors.get(`${kind}.upserted`)!.apply(sql, states)
      }, { discard: true })
    }

    /** Public rows of every aggregate in `ops`, locked until commit. */
    const lockCurrentRows = (ops: ReadonlyArray<Op>) =>
      Effect.gen(function*() {
        const current = new Map<string, PublicRowVersion>()
        const byKind = new Map<EntityKind, Set<string>>()
        for (const op of ops) {
          const ids = byKind.get(op.kind) ?? new Set<string>()
          ids.add(op.row.aggregateId)
          byKind.set(op.kind, ids)
        }
        for (const kind of applyOrder) {
          const ids = byKind.get(kind)
          if (ids === undefined) continue
          for (const row of yield* lockPublicRows(sql, kind, [...ids])) current.set(aggregateKey(kind, row.id), row)
        }
        return current
      })

    const projectedExpression = `CASE x.aggregate_type ${
      (Object.keys(entityTables) as ReadonlyArray<EntityKind>).map((kind) =>
        `WHEN '${kind}' THEN EXISTS (SELECT 1 FROM ${entityTables[kind].table} t WHERE t.id = x.aggregate_id)`).join(" ")
    } ELSE false END`

    // The writes that close a batch are statement fragments, combined into ONE statement (data-modifying
    // CTEs) by `finishBatch`: a batch of one update costs as few round trips as possible.

    /** `projected`: null = look at the public row (after deletes, whose cascades the batch does not track). */
    const projectionStateUpsert = (rows: ReadonlyArray<ProjectionStateRow>) => sql`
      INSERT INTO cogo.projection_state AS s (aggregate_type, aggregate_id, project_id, applied_seq, applied_update_id, projected, updated_at)
      SELECT x.aggregate_type, x.aggregate_id, x.project_id, x.applied_seq, x.applied_update_id, coalesce(x.projected, ${sql.literal(projectedExpression)}), now()
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(aggregate_type text, aggregate_id uuid, project_id uuid, applied_seq bigint, applied_update_id bigint, projected boolean)
      ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET
        applied_seq = GREATEST(s.applied_seq, excluded.applied_seq),
        applied_update_id = excluded.applied_update_id,
        projected = excluded.projected,
        updated_at = now()`

    const statusUpdate = (outcomes: ReadonlyArray<readonly [ClaimedRow, Outcome]>) => {
      const rows = outcomes.map(([row, outcome]) => ({
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

    const conflictInsert = (outcomes: ReadonlyArray<readonly [ClaimedRow, Outcome]>) => {
      const rows = outcomes.flatMap(([row, c]) => c._tag !== "conflict" ? [] : [{
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

    /**
     * `EventBus.publish` for many events: rows in `cogo.bus_events` (RETURNING id) whose ids the enclosing
     * statement notifies as `bus:<id>` on the `cogo` channel (the format EventBus and Notifications use),
     * delivered on commit like theirs.
     */
    const busEventInsert = (events: ReadonlyArray<NewBusEvent>) => sql`
      INSERT INTO cogo.bus_events (topic, kind, project_id, payload, traceparent)
      SELECT topic, kind, project_id, payload, traceparent
      FROM jsonb_to_recordset(${JSON.stringify(events.map((event, ord) => ({
      ord,
      topic: event.topic,
      kind: event.kind,
      project_id: event.projectId ?? null,
      payload: event.payload ?? {},
      traceparent: event.traceparent ?? null
    })))}::jsonb) AS x(ord integer, topic text, kind text, project_id uuid, payload jsonb, traceparent text)
      ORDER BY ord
      RETURNING id`

    const notifyInserted = sql`SELECT count(pg_notify(${channel}, 'bus:' || id)) FROM (SELECT id FROM inserted ORDER BY id) ids`

    const publishAll = (events: ReadonlyArray<NewBusEvent>) =>
      Effect.asVoid(sql`WITH inserted AS (${busEventInsert(events)}) ${notifyInserted}`)

    /** Projection state, statuses, conflicts and events of a batch: one statement. */
    const finishBatch = (state: ReadonlyArray<ProjectionStateRow>, decided: ReadonlyArray<readonly [ClaimedRow, Outcome]>) =>
      Effect.asVoid(sql`
        WITH state AS (${projectionStateUpsert(state)}),
          statuses AS (${statusUpdate(decided)}),
          conflicts AS (${conflictInsert(decided)}),
          inserted AS (${busEventInsert(batchEvents(decided))})
        ${notifyInserted}`)

    /**
     * Decides and applies the outcome of every claimed row. `replay`: rebuild mode (no conflict checks, no
     * status writes, no events). Returns the outcomes in claim order (held rows omitted).
     */
    const applyRows = (rows: ReadonlyArray<ClaimedRow>, mode: "set" | "isolated", replay: boolean) =>
      Effect.gen(function*() {
        const outcomes = new Map<number, Outcome>()
        const states = yield* loadAppliedSeqs(
          [...new Map(rows.map((row) => [aggregateKey(row.aggregateType, row.aggregateId), { t: row.aggregateType, i: row.aggregateId }])).values()]
            .filter((key) => key.t in entityTables)
        )
        // Order: within an aggregate, an update waits for every earlier one still pending.
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

        // Conflicts: a user wrote the row (updated_by set) after the version the update was based on.
        const current = replay ? new Map<string, PublicRowVersion>() : yield* lockCurrentRows(candidates)
        const projected = new Map<string, boolean>()
        const effective: Array<Op> = []
        for (const op of candidates) {
          if (!replay) {
            const row = current.get(op.key)
            const wasProjected = projected.get(op.key) ?? states.get(op.key)?.projected ?? false
            if (row !== undefined && row.updatedBy !== null && (op.row.baseVersion ?? 0) < row.version) {
              outcomes.set(op.row.id, { _tag: "conflict", kind: "edited_by_user", publicVersion: row.version, userId: row.updatedBy })
              continue
            }
            if (row === undefined && wasProjected && isUpsert(op.update) && op.row.baseVersion === null) {
              outcomes.set(op.row.id, { _tag: "conflict", kind: "deleted_by_user", publicVersion: null, userId: null })
              continue
            }
            // From here on the row is the projector's: later updates of this batch do not conflict.
            if (isUpsert(op.update)) current.set(op.key, { id: op.row.aggregateId, version: 0, updatedBy: null })
            else current.delete(op.key)
            projected.set(op.key, isUpsert(op.update))
          }
          effective.push(op)
        }

        if (mode === "set") {
          // Runs of upserts between deletes collapse set-based; deletes (and their cascades) apply in place.
          let run: Array<Op> = []
          for (const op of effective) {
            if (isUpsert(op.update)) {
              run.push(op)
              continue
            }
            yield* applySetBased(run)
            run = []
            yield* applyOne(op)
          }
          yield* applySetBased(run)
          for (const op of effective) outcomes.set(op.row.id, { _tag: "applied" })
        } else {
          const applicable = new Set(effective)
          const failed = new Set<string>()
          for (const op of candidates) {
            // After a failure, the aggregate's later updates (conflicts included) stay pending.
            if (failed.has(op.key)) {
              outcomes.delete(op.row.id)
              continue
            }
            if (!applicable.has(op)) continue
            const attempt = yield* Effect.result(sql.withTransaction(applyOne(op)))
            if (Result.isSuccess(attempt)) {
              outcomes.set(op.row.id, { _tag: "applied" })
            } else {
              failed.add(op.key)
              outcomes.set(op.row.id, yield* failureOutcome(op.row, attempt.failure.message))
            }
          }
        }

        const decided = rows.flatMap((row) => {
          const outcome = outcomes.get(row.id)
          return outcome === undefined ? [] : [[row, outcome] as const]
        })
        // What the projector now knows of each aggregate it decided: applied through which seq, and whether its
        // row should exist (a conflict leaves that unchanged, so the user's delete keeps conflicting).
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
        // Replay writes its projection state now; a live batch leaves it to `finishBatch`.
        const state = [...appliedState.values()]
        if (replay && state.length > 0) yield* projectionStateUpsert(state)
        return { decided, state }
      })

    const summarize = (
      claimed: number,
      decided: ReadonlyArray<readonly [ClaimedRow, Outcome]>,
      mode: BatchSummary["mode"],
      saturated: boolean
    ): BatchSummary => {
      const count = (tag: Outcome["_tag"]) => decided.filter(([, outcome]) => outcome._tag === tag).length
      return {
        claimed,
        applied: count("applied"),
        superseded: count("superseded"),
        conflicts: count("conflict"),
        retried: count("retry"),
        dead: count("dead"),
        held: claimed - decided.length,
        mode,
        saturated
      }
    }

    /** Events of a batch: one projection.applied per project, plus conflicts and dead letters. */
    const batchEvents = (decided: ReadonlyArray<readonly [ClaimedRow, Outcome]>): ReadonlyArray<NewBusEvent> => {
      const events: Array<NewBusEvent> = []
      const perProject = new Map<string, { applied: number; lastUpdateId: number }>()
      for (const [row, outcome] of decided) {
        if (outcome._tag === "dead") {
          events.push({
            topic: "project",
            kind: "projection.dead_letter",
            projectId: row.projectId,
            payload: { updateId: row.id, updateType: row.updateType, aggregateId: row.aggregateId, error: outcome.error },
            traceparent: row.traceparent ?? undefined
          })
        }
        if (outcome._tag === "conflict") {
          events.push({
            topic: "project",
            kind: "projection.conflict",
            projectId: row.projectId,
            payload: {
              updateId: row.id,
              aggregateType: row.aggregateType,
              aggregateId: row.aggregateId,
              kind: outcome.kind,
              publicVersion: outcome.publicVersion,
              baseVersion: row.baseVersion,
              userId: outcome.userId
            },
            traceparent: row.traceparent ?? undefined
          })
        }
        if (outcome._tag !== "applied") continue
        const entry = perProject.get(row.projectId) ?? { applied: 0, lastUpdateId: 0 }
        perProject.set(row.projectId, { applied: entry.applied + 1, lastUpdateId: Math.max(entry.lastUpdateId, row.id) })
      }
      for (const [projectId, entry] of perProject) events.push({ topic: "project", kind: "projection.applied", projectId, payload: entry })
      return events
    }

    const recordMetrics = (summary: BatchSummary, seconds: number) =>
      Effect.all([
        Metric.update(batchDuration, seconds),
        Metric.update(batchSize, summary.claimed),
        Metric.update(Metric.withAttributes(updatesProcessed, { outcome: "applied" }), summary.applied),
        Metric.update(Metric.withAttributes(updatesProcessed, { outcome: "superseded" }), summary.superseded),
        Metric.update(Metric.withAttributes(updatesProcessed, { outcome: "conflict" }), summary.conflicts),
        Metric.update(Metric.withAttributes(updatesProcessed, { outcome: "retried" }), summary.retried),
        Metric.update(Metric.withAttributes(updatesProcessed, { outcome: "dead" }), summary.dead),
        Metric.update(conflictsTotal, summary.conflicts),
        Metric.update(deadLettersTotal, summary.dead)
      ], { discard: true })

    /** Links to the traces of the updates in a batch (a batch serves many traces; cap the list). */
    /** The distinct trace contexts of a batch's updates (capped: a batch may serve thousands of traces). */
    const batchTraces = (rows: ReadonlyArray<ClaimedRow>) => {
      const traces = new Map<string, { readonly context: TraceContext; updates: number }>()
      for (const row of rows) {
        const existing = row.traceparent === null ? undefined : traces.get(row.traceparent)
        if (existing !== undefined) existing.updates++
        else if (row.traceparent !== null && traces.size < 32) {
          Option.map(parseTraceparent(row.traceparent), (context) => traces.set(row.traceparent!, { context, updates: 1 }))
        }
      }
      return Array.from(traces.values())
    }

    /**
     * A `Projection.apply` span in every trace the batch serves, child of the span that appended the update,
     * covering apply and acknowledge: so one trace reaches from the request to the public rows. The batch's
     * own span links to the same traces.
     */
    const traceApply = (rows: ReadonlyArray<ClaimedRow>) =>
      Effect.forEach(batchTraces(rows), ({ context, updates }) =>
        Effect.makeSpanScoped("Projection.apply", {
          parent: Tracer.externalSpan(context),
          attributes: { "cogo.updates": updates, "cogo.batch.updates": rows.length }
        }), { discard: true })

    const traceLinks = (rows: ReadonlyArray<ClaimedRow>): Array<Tracer.SpanLink> =>
      batchTraces(rows).map(({ context, updates }) => ({ span: Tracer.externalSpan(context), attributes: { "cogo.updates": updates } }))

    const batchIn = (mode: "set" | "isolated") =>
      asProjector(Effect.gen(function*() {
        const projects = yield* lockDueProjects
        if (projects.length === 0) return emptySummary
        const rows = yield* claimRows(projects.map((p) => p.project_id), config.batchSize)
        if (rows.length === 0) return emptySummary
        return yield* Effect.scoped(Effect.gen(function*() {
          yield* traceApply(rows)
          const { decided, state } = yield* applyRows(rows, mode, false).pipe(
            Effect.withSpan("Projection.applyBatch", { links: traceLinks(rows), attributes: { "cogo.batch.updates": rows.length, "cogo.batch.mode": mode } })
          )
          yield* finishBatch(state, decided)
          return summarize(rows.length, decided, mode, projects.length >= config.projectsPerBatch || rows.length >= config.batchSize)
        }))
      }))

    const processBatch = Effect.gen(function*() {
      const start = performance.now()
      // A set-based batch fails as a whole (one bad update aborts the transaction): redo it one by one.
      const summary = yield* batchIn("set").pipe(
        Effect.catchTag("SqlError", (error) =>
          Effect.logDebug("set-based projection batch failed; re-applying one update at a time", error).pipe(
            Effect.andThen(batchIn("isolated"))
          ))
      )
      if (summary.claimed > 0) yield* recordMetrics(summary, (performance.now() - start) / 1000)
      return summary
    }).pipe(Effect.withSpan("Projection.processBatch"))

    const rebuildProject = Effect.fn("Projection.rebuildProject")(function*(projectId: string) {
      return yield* asProjector(Effect.gen(function*() {
        yield* sql`SELECT pg_advisory_xact_lock(${projectLockClass}, hashtext(${projectId}::text))`
        // The project row itself stays (its members are not projected state); replay overwrites it, or
        // deletes it when its last update did. Children go, links and symbols first.
        for (const kind of [...applyOrder].reverse()) {
          if (kind !== "project") yield* sql.unsafe(`DELETE FROM ${entityTables[kind].table} WHERE project_id = $1`, [projectId])
        }
        yield* sql`DELETE FROM cogo.projection_state WHERE project_id = ${projectId}`
        let replayed = 0
        let afterId = 0
        while (true) {
          const rows = yield* Effect.map(
            sql<ClaimedRowRaw>`
              SELECT id, aggregate_type, aggregate_id, project_id, seq, update_type, schema_version, payload,
                     base_version, traceparent, attempts, true AS due
              FROM cogo.project_updates
              WHERE project_id = ${projectId} AND status = 'applied' AND id > ${afterId}
              ORDER BY id LIMIT ${config.batchSize}`,
            (raw) => raw.map(toClaimedRow)
          )
          if (rows.length === 0) break
          yield* applyRows(rows, "set", true)
          replayed += rows.length
          afterId = rows[rows.length - 1]!.id
        }
        yield* publishAll([{ topic: "project", kind: "projection.rebuilt", projectId, payload: { replayed } }])
        return { replayed }
      }))
    })

    return ProjectionApplier.of({ processBatch, rebuildProject, retryDelay })
  })
