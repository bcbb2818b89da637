/**
 * The cogo-side write API for project state, called by agents, the executor and the figma ingress.
 *
 * Each command records the entity's canonical state in `cogo.project_entities` and appends the matching
 * outbox row, in ONE transaction under `DbRole.agent` (which cannot write `public.*`: the projection worker
 * materializes it). `write` takes a batch so an importer writes many entities in one transaction.
 *
 * When the caller is already inside a transaction (e.g. a job step), the commands join it; that
 * transaction must then run under `DbRole.agent` (`Database.withRole`), as the outermost one.
 *
 * Commands are validated against canonical state before anything is written: a child entity needs its
 * project (and a project_page its page, a symbol its component) to exist in the same project, a delete
 * needs an existing entity, and an entity never moves to another project. Deleting a project or page marks
 * its dependents deleted in canonical state too, mirroring the ON DELETE CASCADE of `public.*`.
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
import { Config, Context, Effect, Layer, Option, Schema } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import {
  type EntityKind,
  EntityKindSchema,
  type EntityStateOf,
  entityStates,
  ProjectCommandRejected,
  type ProjectUpdate,
  remove,
  upsert,
  Uuid
} from "../../domain/cqrs/ProjectUpdate.ts"
import { idArray } from "../platform/sqlArrays.ts"
import { Database, DbRole, type NotInTransaction } from "../platform/Database.ts"
import { type AggregateRef, type CanonicalRow, Outbox } from "./Outbox.ts"

const BaseVersion = Schema.optionalKey(Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0)))
const Origin = Schema.optionalKey(Schema.String)

const OptionalId = Schema.optionalKey(Uuid)
type WithOptionalId<F extends Schema.Struct.Fields> = {
  readonly [K in keyof F | "id"]: K extends "id" ? typeof OptionalId : F[K & keyof F]
}
const withOptionalId = <F extends Schema.Struct.Fields>(fields: F): WithOptionalId<F> =>
  ({ ...fields, id: OptionalId }) as WithOptionalId<F>

/** An upsert command for one entity kind: its full state, the id optional (generated when missing). */
const upsertCommand = <const K extends EntityKind, const F extends Schema.Struct.Fields>(kind: K, state: Schema.Struct<F>) =>
  Schema.TaggedStruct("upsert", {
    kind: Schema.Literal(kind),
    state: Schema.Struct(withOptionalId(state.fields)),
    /** The public row version this state was computed from (set it after reading a user's edit). */
    baseVersion: BaseVersion,
    origin: Origin
  })

export const UpsertProject = upsertCommand("project", entityStates.project)
export const UpsertPage = upsertCommand("page", entityStates.page)
export const UpsertProjectPage = upsertCommand("project_page", entityStates.project_page)
export const UpsertComponent = upsertCommand("component", entityStates.component)
export const UpsertActionFlow = upsertCommand("action_flow", entityStates.action_flow)
export const UpsertSymbol = upsertCommand("symbol", entityStates.symbol)
export const UpsertTheme = upsertCommand("theme", entityStates.theme)
export const UpsertAsset = upsertCommand("asset", entityStates.asset)

export const DeleteEntity = Schema.TaggedStruct("delete", {
  kind: EntityKindSchema,
  id: Uuid,
  baseVersion: BaseVersion,
  origin: Origin
})

/** One write of the cogo-side API (decode untrusted input, e.g. LLM tool calls, with this Schema). */
export const EntityCommand = Schema.Union([
  UpsertProject, UpsertPage, UpsertProjectPage, UpsertComponent,
  UpsertActionFlow, UpsertSymbol, UpsertTheme, UpsertAsset,
  DeleteEntity
])
export type EntityCommand = typeof EntityCommand.Type

/** The state an upsert of `kind` takes: the entity's state with an optional id. */
export type UpsertInput<K extends EntityKind> = Omit<EntityStateOf[K], "id"> & { readonly id?: string }

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
       * Joins the caller's transaction (which must run under `DbRole.agent`, see above), or opens one whose
       * FIRST statement sets the role, as `Database.withRole` does with a statement of its own: one round
       * trip less per command. `opened` tells `writeValidated` to set it.
       */
      const inAgentTransaction = <A, E, R>(effect: (opened: boolean) => Effect.Effect<A, E, R>) =>
        Effect.matchEffect(database.requireTransaction("ProjectCommands.write"), {
          onFailure: () => sql.withTransaction(effect(true)),
          onSuccess: () => effect(false)
        })

      interface Known {
        readonly kind: EntityKind
        readonly id: string
        projectId: string
        deleted: boolean
        /** project_page only: the page it links (for the page-delete cascade). */
        pageId: string | null
      }
      interface KnownRow {
        readonly entity_type: EntityKind
        readonly id: string
        readonly project_id: string
        readonly deleted: boolean
        readonly page_id: string | null
      }
      const keyOf = (kind: EntityKind, id: string) => `${kind}:${id}`

      /**
       * `first`: this is the transaction's first statement. It takes the outbox append locks of the written
       * aggregates (so the append needs no round trip of its own) and, when the command opened the
       * transaction, sets the agent role; both in one-time filters, evaluated once before the scan. The role
       * applies from the next statement on (this one only reads `cogo.project_entities`).
       */
      const loadKnown = (
        keys: ReadonlyArray<{ readonly t: EntityKind; readonly i: string }>,
        projects: ReadonlyArray<string>,
        first?: { readonly locking: ReadonlyArray<AggregateRef>; readonly setRole: boolean }
      ) =>
        sql<KnownRow>`
          SELECT e.entity_type, e.id, e.project_id, e.deleted, e.state->>'pageId' AS page_id
          FROM cogo.project_entities e
          WHERE ${first?.setRole === true ? sql`(SELECT set_config('role', ${DbRole.agent}, true)) IS NOT NULL AND` : sql``}
            ${first === undefined ? sql`` : sql`(SELECT locked FROM (${outbox.lockAggregates(first.locking)}) l) IS NOT NULL AND`}
            (e.id = ANY(${idArray(new Set(keys.map((key) => key.i)))}::uuid[])
             OR e.project_id = ANY(${idArray(projects)}::uuid[]))`

      const writeValidated = (commands: ReadonlyArray<EntityCommand>, opened: boolean) =>
        Effect.gen(function*() {
          const updates: Array<{ update: ProjectUpdate; baseVersion: number | undefined }> = []
          const withIds = commands.map((command) =>
            command._tag === "upsert"
              ? { command, id: command.state.id ?? crypto.randomUUID() }
              : { command, id: command.id })

          // Load what validation needs: the entities, their parents, and all of a project being cut down.
          const keys: Array<{ t: EntityKind; i: string }> = []
          for (const { command, id } of withIds) {
            keys.push({ t: command.kind, i: id })
            if (command._tag !== "upsert") continue
            if (command.kind !== "project") keys.push({ t: "project", i: command.state.projectId })
            if (command.kind === "project_page") keys.push({ t: "page", i: command.state.pageId })
            if (command.kind === "symbol" && command.state.componentId !== null) keys.push({ t: "component", i: command.state.componentId })
          }
          const firstRows = yield* loadKnown(keys, [], {
            locking: withIds.map(({ command, id }) => ({ kind: command.kind, id })),
            setRole: opened
          })
          const cascadeProjects = new Set<string>()
          for (const { command, id } of withIds) {
            if (command._tag !== "delete") continue
            if (command.kind === "project") cascadeProjects.add(id)
            if (command.kind === "page") {
              const row = firstRows.find((r) => r.entity_type === "page" && r.id === id)
              if (row !== undefined) cascadeProjects.add(row.project_id)
            }
          }
          const rows = cascadeProjects.size === 0 ? firstRows : yield* loadKnown(keys, [...cascadeProjects])
          const known = new Map<string, Known>(rows.map((row) => [keyOf(row.entity_type, row.id), {
            kind: row.entity_type,
            id: row.id,
            projectId: row.project_id,
            deleted: row.deleted,
            pageId: row.page_id
          }]))

          // Replay the batch over what is known, so each command is checked against the state before it.
          const lastCommand = new Map<string, number>()
          const finalState = new Map<string, { kind: EntityKind; id: string; projectId: string; state: unknown }>()
          const reject = (index: number, reason: ProjectCommandRejected["reason"], message: string) =>
            Effect.fail(new ProjectCommandRejected({ index, reason, message }))
          const requireLive = (index: number, kind: EntityKind, id: string, projectId: string, role: string) => {
            const entity = known.get(keyOf(kind, id))
            if (entity === undefined || entity.deleted) return reject(index, "parent_missing", `${role} ${kind} ${id} does not exist`)
            if (entity.projectId !== projectId) {
              return reject(index, "project_mismatch", `${role} ${kind} ${id} belongs to project ${entity.projectId}, not ${projectId}`)
            }
            return Effect.void
          }
          for (const [index, { command, id }] of withIds.entries()) {
            const key = keyOf(command.kind, id)
            const existing = known.get(key)
            if (command._tag === "upsert") {
              const state = { ...command.state, id }
              const projectId = command.kind === "project" ? id : command.state.projectId
              if (command.kind !== "project") yield* requireLive(index, "project", projectId, projectId, "project")
              if (command.kind === "project_page") yield* requireLive(index, "page", command.state.pageId, projectId, "linked")
              if (command.kind === "symbol" && command.state.componentId !== null) {
                yield* requireLive(index, "component", command.state.componentId, projectId, "referenced")
              }
              if (existing !== undefined && existing.projectId !== projectId) {
                return yield* reject(index, "project_mismatch", `${command.kind} ${id} belongs to project ${existing.projectId}, not ${projectId}`)
              }
              known.set(key, {
                kind: command.kind,
                id,
                projectId,
                deleted: false,
                pageId: command.kind === "project_page" ? command.state.pageId : null
              })
              finalState.set(key, { kind: command.kind, id, projectId, state })
              updates.push({ update: upsert(command.kind, state as EntityStateOf[typeof command.kind], command.origin), baseVersion: command.baseVersion })
            } else {
              if (existing === undefined || existing.deleted) {
                return yield* reject(index, "not_found", `${command.kind} ${id} does not exist`)
              }
              existing.deleted = true
              finalState.set(key, { kind: command.kind, id, projectId: existing.projectId, state: null })
              updates.push({ update: remove(command.kind, id, existing.projectId, command.origin), baseVersion: command.baseVersion })
              for (const dependent of known.values()) {
                const cascades = dependent.deleted === false && (
                  (command.kind === "project" && dependent.projectId === id && dependent.kind !== "project") ||
                  (command.kind === "page" && dependent.kind === "project_page" && dependent.pageId === id)
                )
                if (!cascades) continue
                dependent.deleted = true
                const dependentKey = keyOf(dependent.kind, dependent.id)
                finalState.set(dependentKey, { kind: dependent.kind, id: dependent.id, projectId: dependent.projectId, state: null })
              }
            }
            lastCommand.set(key, index)
          }

          const canonical = [...finalState.entries()].map(([key, entity]): CanonicalRow => ({
            entity_type: entity.kind,
            id: entity.id,
            project_id: entity.projectId,
            state: entity.state,
            deleted: entity.state === null,
            // Entities only cascaded (no command of their own here) keep their version.
            entry: lastCommand.get(key) ?? null
          }))
          const appended = yield* outbox.appendAll(updates, { canonical, aggregatesLocked: true })
          return appended.map((row, index): CommandResult => ({
            kind: row.aggregateType,
            id: withIds[index]!.id,
            projectId: row.projectId,
            version: row.seq,
            updateId: row.id
          }))
        })

      const write = Effect.fn("ProjectCommands.write")(function*(commands: ReadonlyArray<EntityCommand>) {
        const decoded = yield* decodeCommands(commands).pipe(
          Effect.mapError((error) => new ProjectCommandRejected({ index: -1, reason: "invalid", message: error.message }))
        )
        if (decoded.length === 0) return []
        return yield* inAgentTransaction((opened) => writeValidated(decoded, opened))
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
