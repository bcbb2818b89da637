/**
 * Commands of the cogo-side write API (`ProjectCommands`) and their validation, pure: `replayCommands`
 * checks a batch against the canonical state it read (`EntityRead`, what `cogo.command_reads` returns) and
 * yields the outbox updates, the canonical rows to write and the state after the batch.
 *
 * Rules: a child entity needs its project (and a project_page its page, a symbol its component) to exist in
 * the same project, a delete needs an existing entity, and an entity never moves to another project.
 * Deleting a project or page marks its dependents deleted too, mirroring the ON DELETE CASCADE of `public.*`.
 */
import { Result, Schema } from "effect"
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
} from "./ProjectUpdate.ts"

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

const DeleteEntity = Schema.TaggedStruct("delete", {
  kind: EntityKindSchema,
  id: Uuid,
  baseVersion: BaseVersion,
  origin: Origin
})

/** One write of the cogo-side API (decode untrusted input, e.g. LLM tool calls, with this Schema). */
export const EntityCommand = Schema.Union([
  upsertCommand("project", entityStates.project),
  upsertCommand("page", entityStates.page),
  upsertCommand("project_page", entityStates.project_page),
  upsertCommand("component", entityStates.component),
  upsertCommand("action_flow", entityStates.action_flow),
  upsertCommand("symbol", entityStates.symbol),
  upsertCommand("theme", entityStates.theme),
  upsertCommand("asset", entityStates.asset),
  DeleteEntity
])
export type EntityCommand = typeof EntityCommand.Type

/** The state an upsert of `kind` takes: the entity's state with an optional id. */
export type UpsertInput<K extends EntityKind> = Omit<EntityStateOf[K], "id"> & { readonly id?: string }

/** A command with its entity id (generated for an upsert without one). */
export interface IdentifiedCommand {
  readonly command: EntityCommand
  readonly id: string
}

/** One row of what validation reads (`cogo.command_reads`): `page_id` is a live project_page's page. */
export interface EntityRead {
  readonly entity_type: EntityKind
  readonly id: string
  readonly project_id: string
  readonly deleted: boolean
  readonly page_id: string | null
}

/** A canonical-state row (`cogo.project_entities`) written with the outbox rows. */
export interface CanonicalRow {
  readonly entity_type: EntityKind
  readonly id: string
  readonly project_id: string
  readonly state: unknown
  readonly deleted: boolean
  /** Index of the entry whose seq becomes the row's version; null keeps the stored version (cascades). */
  readonly entry: number | null
}

export interface ReplayedBatch {
  readonly updates: ReadonlyArray<{ readonly update: ProjectUpdate; readonly baseVersion: number | undefined }>
  readonly canonical: ReadonlyArray<CanonicalRow>
  /** What `cogo.command_reads` returns for these entities once the batch is written. */
  readonly after: ReadonlyArray<EntityRead>
}

/** What validation must read: the commands' entities and their parents. */
export const readKeys = (commands: ReadonlyArray<IdentifiedCommand>): ReadonlyArray<string> => {
  const ids = new Set<string>()
  for (const { command, id } of commands) {
    ids.add(id)
    if (command._tag !== "upsert") continue
    if (command.kind !== "project") ids.add(command.state.projectId)
    if (command.kind === "project_page") ids.add(command.state.pageId)
    if (command.kind === "symbol" && command.state.componentId !== null) ids.add(command.state.componentId)
  }
  return [...ids]
}

/** Projects whose entities must be read too: those of the batch's project and page deletes (the cascade). */
export const cascadeProjects = (commands: ReadonlyArray<IdentifiedCommand>, read: ReadonlyArray<EntityRead>): ReadonlyArray<string> => {
  const projects = new Set<string>()
  for (const { command, id } of commands) {
    if (command._tag !== "delete") continue
    if (command.kind === "project") projects.add(id)
    if (command.kind === "page") {
      const row = read.find((r) => r.entity_type === "page" && r.id === id)
      if (row !== undefined) projects.add(row.project_id)
    }
  }
  return [...projects]
}

interface Known {
  readonly kind: EntityKind
  readonly id: string
  projectId: string
  deleted: boolean
  /** project_page only: the page it links (for the page-delete cascade). */
  pageId: string | null
}

const keyOf = (kind: EntityKind, id: string) => `${kind}:${id}`

/** Replays the batch over what was read, so each command is checked against the state before it. */
export const replayCommands = (
  commands: ReadonlyArray<IdentifiedCommand>,
  read: ReadonlyArray<EntityRead>
): Result.Result<ReplayedBatch, ProjectCommandRejected> => {
  const known = new Map<string, Known>(read.map((row) => [keyOf(row.entity_type, row.id), {
    kind: row.entity_type,
    id: row.id,
    projectId: row.project_id,
    deleted: row.deleted,
    pageId: row.page_id
  }]))
  const updates: Array<ReplayedBatch["updates"][number]> = []
  const lastCommand = new Map<string, number>()
  const finalState = new Map<string, { kind: EntityKind; id: string; projectId: string; state: unknown }>()
  const reject = (index: number, reason: ProjectCommandRejected["reason"], message: string) =>
    Result.fail(new ProjectCommandRejected({ index, reason, message }))
  const liveOrReject = (index: number, kind: EntityKind, id: string, projectId: string, role: string) => {
    const entity = known.get(keyOf(kind, id))
    if (entity === undefined || entity.deleted) return reject(index, "parent_missing", `${role} ${kind} ${id} does not exist`)
    if (entity.projectId !== projectId) {
      return reject(index, "project_mismatch", `${role} ${kind} ${id} belongs to project ${entity.projectId}, not ${projectId}`)
    }
    return undefined
  }
  for (const [index, { command, id }] of commands.entries()) {
    const key = keyOf(command.kind, id)
    const existing = known.get(key)
    if (command._tag === "upsert") {
      const state = { ...command.state, id }
      const projectId = command.kind === "project" ? id : command.state.projectId
      const parentMissing = (command.kind !== "project" ? liveOrReject(index, "project", projectId, projectId, "project") : undefined) ??
        (command.kind === "project_page" ? liveOrReject(index, "page", command.state.pageId, projectId, "linked") : undefined) ??
        (command.kind === "symbol" && command.state.componentId !== null
          ? liveOrReject(index, "component", command.state.componentId, projectId, "referenced")
          : undefined)
      if (parentMissing !== undefined) return parentMissing
      if (existing !== undefined && existing.projectId !== projectId) {
        return reject(index, "project_mismatch", `${command.kind} ${id} belongs to project ${existing.projectId}, not ${projectId}`)
      }
      known.set(key, { kind: command.kind, id, projectId, deleted: false, pageId: command.kind === "project_page" ? command.state.pageId : null })
      finalState.set(key, { kind: command.kind, id, projectId, state })
      updates.push({ update: upsert(command.kind, state as EntityStateOf[typeof command.kind], command.origin), baseVersion: command.baseVersion })
    } else {
      if (existing === undefined || existing.deleted) return reject(index, "not_found", `${command.kind} ${id} does not exist`)
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
        finalState.set(keyOf(dependent.kind, dependent.id), { kind: dependent.kind, id: dependent.id, projectId: dependent.projectId, state: null })
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
  // A deleted row's state is null, so `command_reads` gives it no page.
  const after = [...known.values()].map((entity): EntityRead => ({
    entity_type: entity.kind,
    id: entity.id,
    project_id: entity.projectId,
    deleted: entity.deleted,
    page_id: entity.deleted ? null : entity.pageId
  }))
  return Result.succeed({ updates, canonical, after })
}
