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
 *
 * Group commit (issue 16): autocommit appends queue up for a few writers (`lanes`); each writer takes what
 * has queued and writes it in as few calls as equivalence allows (appendGroups.ts), so 16 concurrent single
 * commands cost a few statements and commits instead of 16. Each command stays atomic; commands that share a
 * call commit together (and when the shared call fails, each is written alone, with its own answer).
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Deferred, Effect, Exit, Layer, Option, Queue, type Tracer } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import type * as Statement from "effect/sql/Statement"
import type { CanonicalRow } from "../../domain/cqrs/EntityCommand.ts"
import { aggregateOf, type EntityKind, type ProjectUpdate, toStored } from "../../domain/cqrs/ProjectUpdate.ts"
import { currentTraceparent } from "../../domain/platform/Traceparent.ts"
import { Database, type NotInTransaction } from "../platform/Database.ts"
import { channel } from "../platform/Notifications.ts"
import { idArray } from "../platform/sqlArrays.ts"
import { type CheckedAppend, expectedJson, groupAppends, mergeAppends, type ReadGuard, type UpdateRow } from "./appendGroups.ts"

export type { ReadGuard }

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

/** Writers of queued autocommit appends (each holds at most one pool connection at a time). */
const lanes = 4
/** Appends a lane takes at once, and outbox rows per shared call (one advisory lock per aggregate). */
const maxTaken = 64
const maxGroupRows = 256

interface Inserted {
  readonly id: string
  readonly seq: string
  readonly aggregate_type: EntityKind
  readonly aggregate_id: string
  readonly project_id: string
}

interface Pending extends CheckedAppend {
  readonly done: Deferred.Deferred<Option.Option<ReadonlyArray<AppendedUpdate>>, SqlError>
  /** The caller's span: a group's call runs under its first append's. */
  readonly span: Option.Option<Tracer.Span>
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

      /** The outbox rows of `entries`, carrying the current trace. */
      const updateRows = (entries: ReadonlyArray<OutboxEntry>) =>
        Effect.map(currentTraceparent, (traceparent) =>
          entries.map((entry, ord): UpdateRow => {
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
              traceparent: traceparent ?? null
            }
          }))

      /** One call of `cogo.append_project_updates`; `None` when the guard failed (nothing written). */
      const call = (rows: ReadonlyArray<UpdateRow>, canonical: ReadonlyArray<CanonicalRow>, agentRole: boolean, guard: ReadGuard | undefined) =>
        Effect.map(
          sql<Inserted>`
            SELECT * FROM cogo.append_project_updates(
              ${JSON.stringify(rows)}::jsonb, ${JSON.stringify(canonical)}::jsonb, ${agentRole},
              ${idArray(guard?.ids ?? [])}::uuid[], ${idArray(guard?.projects ?? [])}::uuid[],
              ${guard === undefined ? null : expectedJson(guard.expected)}::jsonb, ${channel})`,
          (inserted) => inserted.length === 0 ? Option.none() : Option.some(inserted)
        )

      /**
       * Each of `rows` with its outbox row. RETURNING order is not guaranteed: rows are matched by (aggregate,
       * seq); the rows of one aggregate got consecutive seqs in row order. `inserted` may hold other appends'
       * rows too (a shared call), of other aggregates.
       */
      const assign = (rows: ReadonlyArray<UpdateRow>, inserted: ReadonlyArray<Inserted>): ReadonlyArray<AppendedUpdate> => {
        const byKey = new Map<string, Inserted>()
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
          const hit = byKey.get(`${key}:${seq}`)!
          return { id: Number(hit.id), seq, aggregateType: hit.aggregate_type, aggregateId: hit.aggregate_id, projectId: hit.project_id }
        })
      }

      /** One call, its rows matched back to `rows`; `None` when the guard failed. */
      const callAssigned = (rows: ReadonlyArray<UpdateRow>, canonical: ReadonlyArray<CanonicalRow>, agentRole: boolean, guard: ReadGuard | undefined) =>
        Effect.map(call(rows, canonical, agentRole, guard), Option.map((inserted) => assign(rows, inserted)))

      // Group commit: autocommit appends queue up for `lanes` writers; each takes what has queued and writes
      // it in as few calls as `groupAppends` allows (appendGroups.ts). An append that finds nothing else in flight
      // is written by its caller at once.
      const pending = yield* Queue.unbounded<Pending>()
      /** Autocommit appends being written (by their caller or a lane) or queued. */
      let inFlight = 0
      const writeAlone = (append: Pending) =>
        Effect.flatMap(Effect.exit(callAssigned(append.rows, append.canonical, true, append.guard)), (exit) => Deferred.done(append.done, exit))
      const writeGroup = (group: ReadonlyArray<Pending>): Effect.Effect<void> => {
        const first = group[0]!
        const write = group.length === 1 ? writeAlone(first) : Effect.gen(function*() {
          const merged = mergeAppends(group)
          const exit = yield* Effect.exit(call(merged.rows, merged.canonical, true, merged.guard))
          // A guard that no longer holds or an error: each append alone, each with its own answer.
          if (Exit.isFailure(exit) || Option.isNone(exit.value)) return yield* Effect.forEach(group, writeAlone, { discard: true })
          const inserted = exit.value.value
          for (const append of group) yield* Deferred.succeed(append.done, Option.some(assign(append.rows, inserted)))
        })
        return Option.match(first.span, { onNone: () => write, onSome: (span) => Effect.withParentSpan(write, span) })
      }
      const lane = Effect.forever(Effect.flatMap(Queue.takeBetween(pending, 1, maxTaken), (taken) =>
        Effect.forEach(groupAppends(taken, maxGroupRows), writeGroup, { discard: true }).pipe(
          Effect.onInterrupt(() => Effect.forEach(taken, (append) => Deferred.interrupt(append.done), { discard: true }))
        )))
      for (let n = 0; n < lanes; n++) yield* Effect.forkScoped(lane)
      yield* Effect.addFinalizer(() =>
        Effect.flatMap(Queue.clear(pending), (left) => Effect.forEach(left, (append) => Deferred.interrupt(append.done), { discard: true })))

      const appendAll = Effect.fn("Outbox.appendAll")(function*(entries: ReadonlyArray<OutboxEntry>, options?: AppendOptions) {
        yield* database.requireTransaction("Outbox.append")
        if (entries.length === 0) return []
        // No guard: the rows are always written.
        const rows = yield* updateRows(entries)
        return Option.getOrThrow(yield* callAssigned(rows, options?.canonical ?? [], false, undefined))
      })

      const appendChecked = Effect.fn("Outbox.appendChecked")(function*(
        entries: ReadonlyArray<OutboxEntry>,
        options: AppendOptions & { readonly guard: ReadGuard }
      ) {
        if (entries.length === 0) return Option.some([])
        const rows = yield* updateRows(entries)
        const canonical = options.canonical ?? []
        // Inside a transaction the caller's role stays (it must be the agent's, see ProjectCommands).
        if (Exit.isSuccess(yield* Effect.exit(database.requireTransaction("Outbox.appendChecked")))) {
          return yield* callAssigned(rows, canonical, false, options.guard)
        }
        // Nothing else being written: write it here, without the hop to a lane (the common case at low load).
        const direct = inFlight === 0
        inFlight++
        return yield* Effect.ensuring(
          direct
            ? callAssigned(rows, canonical, true, options.guard)
            : Effect.gen(function*() {
              const done = yield* Deferred.make<Option.Option<ReadonlyArray<AppendedUpdate>>, SqlError>()
              yield* Queue.offer(pending, { rows, canonical, guard: options.guard, done, span: yield* Effect.option(Effect.currentSpan) })
              return yield* Deferred.await(done)
            }),
          Effect.sync(() => inFlight--)
        )
      })

      const append = Effect.fn("Outbox.append")(function*(entry: OutboxEntry) {
        const [appended] = yield* appendAll([entry])
        return appended!
      })

      return Outbox.of({ append, appendAll, appendChecked, lockAggregates })
    })
  )
}
