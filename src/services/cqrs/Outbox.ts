/**
 * The transactional outbox (`cogo.project_updates`). `appendAll` only works inside the caller's transaction
 * (a typed `NotInTransaction` error otherwise), so an outbox row is committed exactly when the canonical
 * change it describes is. Each row gets the next sequence number of its aggregate, allocated under a
 * transaction-scoped advisory lock on that aggregate: within one aggregate, id order = seq order = commit
 * order, which is what lets the projection worker apply updates in order. Consumers are woken by an
 * `outbox` notification that Postgres delivers on commit.
 *
 * The append itself is one call of `cogo.append_project_updates` (migration 0020): locks, sequence
 * numbers, outbox rows, canonical rows and the notification in one round trip. `appendChecked` is the same
 * call as an autocommit statement (its own transaction, under the agent role), written only if what the
 * caller validated against is unchanged: a single project command in one round trip, no BEGIN/COMMIT.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Exit, Layer, Option } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import type * as Statement from "effect/sql/Statement"
import type { CanonicalRow, EntityRead } from "../../domain/cqrs/EntityCommand.ts"
import { aggregateOf, type EntityKind, type ProjectUpdate, toStored } from "../../domain/cqrs/ProjectUpdate.ts"
import { currentTraceparent } from "../../domain/platform/Traceparent.ts"
import { Database, type NotInTransaction } from "../platform/Database.ts"
import { channel } from "../platform/Notifications.ts"

/** Advisory lock class of outbox aggregates (first key of the two-key advisory lock functions; also in migration 0020). */
export const aggregateLockClass = 0x636f01

export interface OutboxEntry {
  readonly update: ProjectUpdate
  /** The public row version the update was computed from, when the writer read a user's edit. */
  readonly baseVersion?: number | undefined
}

export interface AppendOptions {
  /** Canonical state upserted in the append statement itself (one round trip for both). */
  readonly canonical?: ReadonlyArray<CanonicalRow>
}

/** What a writer validated against: `cogo.command_reads(ids, projects)` as it read (or remembered) it. */
export interface ReadGuard {
  /** A Postgres uuid[] literal (`idArray`). */
  readonly ids: string
  /** A Postgres uuid[] literal (`idArray`). */
  readonly projects: string
  readonly expected: ReadonlyArray<EntityRead>
}

/** The guard's rows as `cogo.append_project_updates` compares them: arrays ordered by id, then kind. */
const expectedJson = (rows: ReadonlyArray<EntityRead>): string =>
  JSON.stringify(
    rows.map((r) => [r.entity_type, r.id, r.project_id, r.deleted, r.page_id] as const)
      .sort((a, b) => a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
  )

export interface AggregateRef {
  readonly kind: EntityKind
  readonly id: string
}

export interface AppendedUpdate {
  readonly id: number
  readonly seq: number
  readonly aggregateType: EntityKind
  readonly aggregateId: string
  readonly projectId: string
}

export class Outbox extends Context.Service<Outbox, {
  /** Appends one update in the caller's transaction. */
  readonly append: (entry: OutboxEntry) => Effect.Effect<AppendedUpdate, NotInTransaction | SqlError>
  /** Appends several updates (in this order) in the caller's transaction, set-based. */
  readonly appendAll: (
    entries: ReadonlyArray<OutboxEntry>,
    options?: AppendOptions
  ) => Effect.Effect<ReadonlyArray<AppendedUpdate>, NotInTransaction | SqlError>
  /**
   * Appends provided that, under the aggregates' locks, `guard`'s reads are still what the caller saw;
   * `None` (nothing written) when they changed, and the caller reads and validates again. Outside a
   * transaction it is ONE autocommit statement, under the agent role; inside one it joins it.
   */
  readonly appendChecked: (
    entries: ReadonlyArray<OutboxEntry>,
    options: AppendOptions & { readonly guard: ReadGuard }
  ) => Effect.Effect<Option.Option<ReadonlyArray<AppendedUpdate>>, SqlError>
  /**
   * A statement fragment (one row, column `locked`) that takes the append locks of `aggregates`, sorted so
   * writers cannot deadlock (the same keys and order as the append). A writer that must read under the
   * locks puts it in the statement that reads.
   */
  readonly lockAggregates: (aggregates: ReadonlyArray<AggregateRef>) => Statement.Statement<{ readonly locked: string }>
}>()("cogo/Outbox") {
  static readonly layer = Layer.effect(
    Outbox,
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const database = yield* Database

      const lockAggregates = (aggregates: ReadonlyArray<AggregateRef>) =>
        sql<{ readonly locked: string }>`SELECT count(pg_advisory_xact_lock(${aggregateLockClass}, hashtext(k))) AS locked
          FROM (SELECT DISTINCT (a->>0) || ':' || (a->>1)::uuid::text AS k
                FROM jsonb_array_elements(${JSON.stringify(aggregates.map((a) => [a.kind, a.id]))}::jsonb) AS a ORDER BY 1) keys`

      /** One call of `cogo.append_project_updates`; no rows back when the guard failed. */
      const run = (entries: ReadonlyArray<OutboxEntry>, canonical: ReadonlyArray<CanonicalRow>, agentRole: boolean, guard: ReadGuard | undefined) =>
        Effect.gen(function*() {
          const traceparent = (yield* currentTraceparent) ?? null
          const rows = entries.map((entry, ord) => {
            const aggregate = aggregateOf(entry.update)
            const stored = toStored(entry.update)
            return {
              ord,
              aggregate_type: aggregate.kind,
              aggregate_id: aggregate.id,
              project_id: aggregate.projectId,
              update_type: stored.updateType,
              schema_version: stored.schemaVersion,
              payload: stored.payload,
              base_version: entry.baseVersion ?? null,
              traceparent
            }
          })
          const inserted = yield* sql<{ id: string; seq: string; aggregate_type: EntityKind; aggregate_id: string; project_id: string }>`
            SELECT * FROM cogo.append_project_updates(
              ${JSON.stringify(rows)}::jsonb, ${JSON.stringify(canonical)}::jsonb, ${agentRole},
              ${guard?.ids ?? "{}"}::uuid[], ${guard?.projects ?? "{}"}::uuid[],
              ${guard === undefined ? null : expectedJson(guard.expected)}::jsonb, ${channel})`
          if (inserted.length === 0) return Option.none()
          // RETURNING order is not guaranteed: give each entry its row back through (aggregate, seq); the
          // entries of one aggregate got consecutive seqs in entry order.
          const byKey = new Map<string, (typeof inserted)[number]>()
          const nextSeq = new Map<string, number>()
          for (const row of inserted) {
            const key = `${row.aggregate_type}:${row.aggregate_id}`
            const seq = Number(row.seq)
            byKey.set(`${key}:${seq}`, row)
            nextSeq.set(key, Math.min(nextSeq.get(key) ?? seq, seq))
          }
          return Option.some(rows.map((row): AppendedUpdate => {
            const key = `${row.aggregate_type}:${row.aggregate_id}`
            const seq = nextSeq.get(key)!
            nextSeq.set(key, seq + 1)
            return { id: Number(byKey.get(`${key}:${seq}`)!.id), seq, aggregateType: row.aggregate_type, aggregateId: row.aggregate_id, projectId: row.project_id }
          }))
        })

      const appendAll = Effect.fn("Outbox.appendAll")(function*(entries: ReadonlyArray<OutboxEntry>, options?: AppendOptions) {
        yield* database.requireTransaction("Outbox.append")
        if (entries.length === 0) return []
        // No guard: the rows are always written.
        return Option.getOrThrow(yield* run(entries, options?.canonical ?? [], false, undefined))
      })

      const appendChecked = Effect.fn("Outbox.appendChecked")(function*(
        entries: ReadonlyArray<OutboxEntry>,
        options: AppendOptions & { readonly guard: ReadGuard }
      ) {
        if (entries.length === 0) return Option.some([])
        // Inside a transaction the caller's role stays (it must be the agent's, see ProjectCommands).
        const joined = Exit.isSuccess(yield* Effect.exit(database.requireTransaction("Outbox.appendChecked")))
        return yield* run(entries, options.canonical ?? [], !joined, options.guard)
      })

      const append = Effect.fn("Outbox.append")(function*(entry: OutboxEntry) {
        const [appended] = yield* appendAll([entry])
        return appended!
      })

      return Outbox.of({ append, appendAll, appendChecked, lockAggregates })
    })
  )
}
