/**
 * The cogo-side write API for project state, called by agents, the executor and the figma ingress.
 *
 * Each command records the entity's canonical state in `cogo.project_entities` and appends the matching
 * outbox row, in ONE transaction under `DbRole.agent` (which cannot write `public.*`: the projection worker
 * materializes it). `write` takes a batch so an importer writes many entities in one transaction. Commands
 * are validated against canonical state before anything is written (rules: src/domain/cqrs/EntityCommand.ts).
 *
 * Round trips (issue 16). Alone (no caller transaction), a batch is validated against what it reads and then
 * written by ONE autocommit call of `cogo.append_project_updates` (migration 0020), which sets the agent
 * role, takes the append locks, checks that what was read is unchanged under the locks, and writes outbox
 * rows, canonical rows and the notification: no BEGIN/COMMIT. The read is skipped when the entities involved
 * were read or written recently by this process (a bounded in-memory map; an id it does not hold is guessed
 * absent): the check under the locks makes a wrong guess cost a read and a retry, never a wrong write. So a
 * command on recently seen entities is one round trip, otherwise two. After `checkedAttempts` checks lost
 * to concurrent writers, the batch runs in a transaction that reads under the locks. Concurrent single
 * commands share that call when it is equivalent to writing them one by one (group commit, see Outbox).
 *
 * When the caller is already inside a transaction (e.g. a job step), the commands join it; that
 * transaction must then run under `DbRole.agent` (`Database.withRole`), as the outermost one.
 *
 * Large batches: a transaction takes one advisory lock per written aggregate (the outbox append locks), and
 * advisory locks live in PostgreSQL's shared lock table, sized `max_locks_per_transaction` x connections
 * (64 x 100 by default). A 4,000-frame Figma import is ~10,000 aggregates: in one transaction it exhausted the
 * table ("out of shared memory"), more so with imports in parallel. `writeChunked` writes such batches as
 * consecutive transactions of at most `PROJECT_COMMANDS_CHUNK_SIZE` commands (default 256), so a writer holds
 * at most that many locks at a time. Each chunk commits on its own: callers use it for idempotent batches
 * (upserts with stable ids), which they can simply write again after a partial failure.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Effect, Exit, Layer, Option, Result, Schema } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import {
  cascadeProjects,
  EntityCommand,
  type EntityRead,
  type IdentifiedCommand,
  readKeys,
  replayCommands,
  type UpsertInput
} from "../../domain/cqrs/EntityCommand.ts"
import { type EntityKind, ProjectCommandRejected } from "../../domain/cqrs/ProjectUpdate.ts"
import { isUuid } from "../../domain/platform/Uuid.ts"
import { idArray } from "../platform/sqlArrays.ts"
import { Database, DbRole, type NotInTransaction } from "../platform/Database.ts"
import { type AppendedUpdate, Outbox } from "./Outbox.ts"

export { EntityCommand, type UpsertInput }

/** Checked writes tried before falling back to a locking transaction (each failure: a concurrent write won). */
const checkedAttempts = 3
/** Entity ids whose reads the process remembers (oldest forgotten first). */
const recentLimit = 10_000

export interface CommandResult {
  readonly kind: EntityKind
  readonly id: string
  readonly projectId: string
  /** The entity's canonical version (its outbox sequence number) after this command. */
  readonly version: number
  /** The outbox row that carries this change to `public.*`. */
  readonly updateId: number
}

export interface CanonicalEntity {
  readonly kind: EntityKind
  readonly id: string
  readonly projectId: string
  readonly version: number
  readonly deleted: boolean
  readonly state: unknown
}

export type ProjectCommandError = ProjectCommandRejected | NotInTransaction | SqlError

export class ProjectCommands extends Context.Service<ProjectCommands, {
  /** Validates and writes the commands, in order, in one transaction (joins the caller's if there is one). */
  readonly write: (commands: ReadonlyArray<EntityCommand>) => Effect.Effect<ReadonlyArray<CommandResult>, ProjectCommandError>
  /**
   * Writes the commands in order, in consecutive transactions of at most the chunk size each (see above):
   * not atomic as a whole. Call it outside a transaction (inside one, every chunk joins it).
   */
  readonly writeChunked: (commands: ReadonlyArray<EntityCommand>) => Effect.Effect<ReadonlyArray<CommandResult>, ProjectCommandError>
  /** Upserts one entity. */
  readonly upsert: <K extends EntityKind>(
    kind: K,
    state: UpsertInput<K>,
    options?: { readonly baseVersion?: number; readonly origin?: string }
  ) => Effect.Effect<CommandResult, ProjectCommandError>
  /** Deletes one entity (its dependents follow, as in `public.*`). */
  readonly remove: (
    kind: EntityKind,
    id: string,
    options?: { readonly baseVersion?: number; readonly origin?: string }
  ) => Effect.Effect<CommandResult, ProjectCommandError>
  /** The canonical state of one entity, deleted ones included. */
  readonly get: (kind: EntityKind, id: string) => Effect.Effect<Option.Option<CanonicalEntity>, SqlError>
}>()("cogo/ProjectCommands") {
  static readonly layer = Layer.effect(
    ProjectCommands,
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const database = yield* Database
      const outbox = yield* Outbox
      const decodeCommands = Schema.decodeUnknownEffect(Schema.Array(EntityCommand))
      const chunkSize = yield* Config.Int("PROJECT_COMMANDS_CHUNK_SIZE").pipe(Config.withDefault(256))

      /**
       * What validation reads (`cogo.command_reads`). `locking`: as the transaction's first statement, taking
       * the outbox append locks of the written aggregates (and, when the command opened the transaction,
       * setting the agent role) in one-time filters evaluated before the scan; the role applies from the next
       * statement on.
       */
      const readEntities = (
        ids: ReadonlyArray<string>,
        projects: ReadonlyArray<string>,
        locking?: { readonly commands: ReadonlyArray<IdentifiedCommand>; readonly setRole: boolean }
      ) =>
        sql<EntityRead>`
          SELECT r.entity_type, r.id, r.project_id, r.deleted, r.page_id
          FROM cogo.command_reads(${idArray(ids)}::uuid[], ${idArray(projects)}::uuid[]) r
          WHERE ${locking?.setRole === true ? sql`(SELECT set_config('role', ${DbRole.agent}, true)) IS NOT NULL AND` : sql``}
            ${locking === undefined ? sql`true` : sql`(SELECT locked FROM (${
          outbox.lockAggregates(locking.commands.map(({ command, id }) => ({ kind: command.kind, id })))
        }) l) IS NOT NULL`}`

      /** Reads of recently seen entities, by id (insertion order = recency). */
      const recent = new Map<string, ReadonlyArray<EntityRead>>()
      const remember = (ids: ReadonlyArray<string>, rows: ReadonlyArray<EntityRead>) => {
        for (const id of ids) {
          recent.delete(id)
          recent.set(id, rows.filter((row) => row.id === id))
        }
        for (const oldest of recent.keys()) {
          if (recent.size <= recentLimit) break
          recent.delete(oldest)
        }
      }
      /** What reading `ids` most likely returns; undefined for ids not in PostgreSQL's printed (lowercase) form. */
      const recall = (ids: ReadonlyArray<string>): ReadonlyArray<EntityRead> | undefined =>
        ids.every((id) => isUuid(id) && id === id.toLowerCase()) ? ids.flatMap((id) => recent.get(id) ?? []) : undefined

      const results = (commands: ReadonlyArray<IdentifiedCommand>, appended: ReadonlyArray<AppendedUpdate>) =>
        appended.map((row, index): CommandResult => ({
          kind: row.aggregateType,
          id: commands[index]!.id,
          projectId: row.projectId,
          version: row.seq,
          updateId: row.id
        }))

      /** In a transaction (`opened`: the command opened it and sets the role): reads under the append locks. */
      const writeLocked = (commands: ReadonlyArray<IdentifiedCommand>, opened: boolean) =>
        Effect.gen(function*() {
          const ids = readKeys(commands)
          const first = yield* readEntities(ids, [], { commands, setRole: opened })
          const projects = cascadeProjects(commands, first)
          const read = projects.length === 0 ? first : yield* readEntities(ids, projects)
          const batch = yield* Effect.fromResult(replayCommands(commands, read))
          return results(commands, yield* outbox.appendAll(batch.updates, { canonical: batch.canonical }))
        })

      /** Alone: checked autocommit writes (see above), then a locking transaction. */
      const writeChecked = (commands: ReadonlyArray<IdentifiedCommand>) =>
        Effect.gen(function*() {
          const ids = readKeys(commands)
          // A project or page delete reads the whole project (its cascade): never guessed.
          const cascading = commands.some(({ command }) => command._tag === "delete" && (command.kind === "project" || command.kind === "page"))
          const guess = cascading ? undefined : recall(ids)
          for (let attempt = 0; attempt < checkedAttempts; attempt++) {
            const guessed = attempt === 0 && guess !== undefined
            const first = guessed ? guess : yield* readEntities(ids, [])
            const projects = cascadeProjects(commands, first)
            const read = projects.length === 0 ? first : yield* readEntities(ids, projects)
            const batch = replayCommands(commands, read)
            if (Result.isFailure(batch)) {
              if (guessed) continue
              return yield* Effect.fail(batch.failure)
            }
            const appended = yield* outbox.appendChecked(batch.success.updates, {
              canonical: batch.success.canonical,
              guard: { ids, projects, expected: read }
            })
            if (Option.isSome(appended)) {
              remember(ids, batch.success.after)
              return results(commands, appended.value)
            }
            for (const id of ids) recent.delete(id)
          }
          yield* Effect.annotateCurrentSpan({ "commands.checks_lost": checkedAttempts })
          return yield* sql.withTransaction(writeLocked(commands, true))
        })

      const write = Effect.fn("ProjectCommands.write")(function*(commands: ReadonlyArray<EntityCommand>) {
        const decoded = yield* decodeCommands(commands).pipe(
          Effect.mapError((error) => new ProjectCommandRejected({ index: -1, reason: "invalid", message: error.message }))
        )
        if (decoded.length === 0) return []
        const identified = decoded.map((command): IdentifiedCommand =>
          command._tag === "upsert"
            ? { command, id: command.state.id ?? crypto.randomUUID() }
            : { command, id: command.id })
        const inTransaction = Exit.isSuccess(yield* Effect.exit(database.requireTransaction("ProjectCommands.write")))
        return yield* inTransaction ? writeLocked(identified, false) : writeChecked(identified)
      })

      const writeChunked = Effect.fn("ProjectCommands.writeChunked")(function*(commands: ReadonlyArray<EntityCommand>) {
        yield* Effect.annotateCurrentSpan({ "commands.count": commands.length, "commands.chunk_size": chunkSize })
        const results: Array<CommandResult> = []
        for (let start = 0; start < commands.length; start += chunkSize) {
          const written = yield* write(commands.slice(start, start + chunkSize)).pipe(
            Effect.mapError((error) =>
              error._tag === "ProjectCommandRejected" && error.index >= 0
                ? new ProjectCommandRejected({ index: error.index + start, reason: error.reason, message: error.message })
                : error)
          )
          results.push(...written)
        }
        return results
      })

      const upsertOne = <K extends EntityKind>(
        kind: K,
        state: UpsertInput<K>,
        options?: { readonly baseVersion?: number; readonly origin?: string }
      ) =>
        Effect.map(
          write([{ _tag: "upsert", kind, state, ...options } as unknown as EntityCommand]),
          (results) => results[0]!
        )

      const removeOne = (kind: EntityKind, id: string, options?: { readonly baseVersion?: number; readonly origin?: string }) =>
        Effect.map(write([{ _tag: "delete", kind, id, ...options }]), (results) => results[0]!)

      const get = Effect.fn("ProjectCommands.get")(function*(kind: EntityKind, id: string) {
        const rows = yield* sql<{ project_id: string; version: string; deleted: boolean; state: unknown }>`
          SELECT project_id, version, deleted, state FROM cogo.project_entities WHERE entity_type = ${kind} AND id = ${id}`
        return Option.map(Option.fromNullishOr(rows[0]), (row): CanonicalEntity => ({
          kind,
          id,
          projectId: row.project_id,
          version: Number(row.version),
          deleted: row.deleted,
          state: row.state
        }))
      })

      return ProjectCommands.of({ write, writeChunked, upsert: upsertOne, remove: removeOne, get })
    })
  )
}
