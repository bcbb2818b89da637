/**
 * The transactional outbox (`cogo.project_updates`). `append` only works inside the caller's transaction
 * (a typed `NotInTransaction` error otherwise), so an outbox row is committed exactly when the canonical
 * change it describes is. Each row gets the next sequence number of its aggregate, allocated under a
 * transaction-scoped advisory lock on that aggregate: within one aggregate, id order = seq order = commit
 * order, which is what lets the projection worker apply updates in order. Consumers are woken by an
 * `outbox` notification that Postgres delivers on commit.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import type * as Statement from "effect/sql/Statement"
import { aggregateOf, type EntityKind, type ProjectUpdate, toStored } from "../../domain/cqrs/ProjectUpdate.ts"
import { currentTraceparent } from "../../domain/platform/Traceparent.ts"
import { idArray } from "../platform/sqlArrays.ts"
import { Database, type NotInTransaction } from "../platform/Database.ts"
import { channel } from "../platform/Notifications.ts"

/** Advisory lock class of outbox aggregates (first key of the two-key advisory lock functions). */
export const aggregateLockClass = 0x636f01

export interface OutboxEntry {
  readonly update: ProjectUpdate
  /** The public row version the update was computed from, when the writer read a user's edit. */
  readonly baseVersion?: number | undefined
}

/** A canonical-state row (`cogo.project_entities`) written in the same statement as the outbox rows. */
export interface CanonicalRow {
  readonly entity_type: EntityKind
  readonly id: string
  readonly project_id: string
  readonly state: unknown
  readonly deleted: boolean
  /** Index of the entry whose seq becomes the row's version; null keeps the stored version (cascades). */
  readonly entry: number | null
}

export interface AppendOptions {
  /** Canonical state upserted in the append statement itself (one round trip for both). */
  readonly canonical?: ReadonlyArray<CanonicalRow>
  /**
   * The caller already took these aggregates' append locks with `lockAggregates`, in an EARLIER statement
   * of this transaction, so the append skips that round trip.
   */
  readonly aggregatesLocked?: boolean
}

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
   * A statement fragment (one row, column `locked`) that takes the append locks of `aggregates`, sorted so
   * writers cannot deadlock. A writer puts it in a statement it runs anyway, then appends with
   * `aggregatesLocked: true`.
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
          FROM (SELECT k FROM jsonb_array_elements_text(${
          JSON.stringify([...new Set(aggregates.map((a) => `${a.kind}:${a.id}`))].sort())
        }::jsonb) AS k ORDER BY k) keys`

      const appendAll = Effect.fn("Outbox.appendAll")(function*(entries: ReadonlyArray<OutboxEntry>, options?: AppendOptions) {
        yield* database.requireTransaction("Outbox.append")
        if (entries.length === 0) return []
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
        if (options?.aggregatesLocked !== true) yield* lockAggregates(rows.map((row) => ({ kind: row.aggregate_type, id: row.aggregate_id })))
        // A new statement, so its snapshot includes every update committed before the locks were granted.
        // The notification (delivered on commit) and the canonical rows ride along: one round trip.
        const inserted = yield* sql<{ id: string; seq: string; aggregate_type: EntityKind; aggregate_id: string; project_id: string }>`
          WITH input AS (
            SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(
              ord integer, aggregate_type text, aggregate_id uuid, project_id uuid, update_type text,
              schema_version integer, payload jsonb, base_version bigint, traceparent text)
          ), latest AS (
            SELECT aggregate_type, aggregate_id, max(seq) AS seq FROM cogo.project_updates
            WHERE aggregate_id = ANY(${idArray(new Set(rows.map((row) => row.aggregate_id)))}::uuid[])
            GROUP BY aggregate_type, aggregate_id
          ), numbered AS MATERIALIZED (
            SELECT i.*, coalesce(l.seq, 0) + row_number() OVER (PARTITION BY i.aggregate_type, i.aggregate_id ORDER BY i.ord) AS seq
            FROM input i LEFT JOIN latest l ON l.aggregate_type = i.aggregate_type AND l.aggregate_id = i.aggregate_id
          ), inserted AS (
            INSERT INTO cogo.project_updates
              (aggregate_type, aggregate_id, project_id, seq, update_type, schema_version, payload, base_version, traceparent)
            SELECT aggregate_type, aggregate_id, project_id, seq, update_type, schema_version, payload, base_version, traceparent
            FROM numbered ORDER BY ord
            RETURNING id, seq, aggregate_type, aggregate_id, project_id
          ), canonical AS (
            INSERT INTO cogo.project_entities AS e (entity_type, id, project_id, state, version, deleted, updated_at)
            SELECT c.entity_type, c.id, c.project_id, c.state, coalesce(n.seq, 0), c.deleted, now()
            FROM jsonb_to_recordset(${JSON.stringify(options?.canonical ?? [])}::jsonb)
              AS c(entity_type text, id uuid, project_id uuid, state jsonb, deleted boolean, entry integer)
            LEFT JOIN numbered n ON n.ord = c.entry
            ON CONFLICT (entity_type, id) DO UPDATE SET
              state = excluded.state,
              deleted = excluded.deleted,
              version = CASE WHEN excluded.version = 0 THEN e.version ELSE excluded.version END,
              updated_at = now()
          ), notified AS (
            SELECT pg_notify(${channel}, 'outbox:' || (SELECT count(*) FROM input)) AS sent
          )
          SELECT inserted.* FROM inserted, notified`
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
        return rows.map((row): AppendedUpdate => {
          const key = `${row.aggregate_type}:${row.aggregate_id}`
          const seq = nextSeq.get(key)!
          nextSeq.set(key, seq + 1)
          return { id: Number(byKey.get(`${key}:${seq}`)!.id), seq, aggregateType: row.aggregate_type, aggregateId: row.aggregate_id, projectId: row.project_id }
        })
      })

      const append = Effect.fn("Outbox.append")(function*(entry: OutboxEntry) {
        const [appended] = yield* appendAll([entry])
        return appended!
      })

      return Outbox.of({ append, appendAll, lockAggregates })
    })
  )
}
