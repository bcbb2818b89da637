/**
 * Project updates: one tagged update per change of a public entity (`<entity>.upserted` / `<entity>.deleted`),
 * the unit the outbox (`cogo.project_updates`) stores and the projection worker applies to `public.*`.
 *
 * Upserts carry the entity's full state (not a diff), so the last update of an aggregate determines its
 * projected row. Rows are stored as `(update_type, schema_version, payload)`; `decodeStoredUpdate` upgrades
 * payloads written by older versions of this module before decoding, so old outbox rows stay readable.
 *
 * Format history:
 * - v1: an upsert's payload was the bare entity state.
 * - v2 (current): an upsert's payload is `{ state, origin? }` (`origin` names the writer, e.g. "figma").
 *   Deletes are `{ id, projectId }` in both versions.
 */
import { Result, Schema, SchemaIssue } from "effect"
import { Uuid } from "../platform/Uuid.ts"

export const currentSchemaVersion = 2

/** Any PostgreSQL uuid (not only RFC 4122 variants): see src/domain/platform/Uuid.ts. */
export { Uuid }
const JsonRecord = Schema.Record(Schema.String, Schema.Unknown)
const NonNegativeInt = Schema.Number.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))

export const ProjectState = Schema.Struct({
  id: Uuid,
  name: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200)),
  description: Schema.NullOr(Schema.String),
  ownerId: Uuid,
  settings: JsonRecord
})
export type ProjectState = typeof ProjectState.Type

export const PageState = Schema.Struct({
  id: Uuid,
  projectId: Uuid,
  name: Schema.NonEmptyString,
  route: Schema.NullOr(Schema.String),
  definition: JsonRecord
})
export type PageState = typeof PageState.Type

export const ProjectPageState = Schema.Struct({
  id: Uuid,
  projectId: Uuid,
  pageId: Uuid,
  position: NonNegativeInt,
  isHome: Schema.Boolean
})
export type ProjectPageState = typeof ProjectPageState.Type

export const ComponentState = Schema.Struct({
  id: Uuid,
  projectId: Uuid,
  name: Schema.NonEmptyString,
  kind: Schema.Literals(["component", "component_set"]),
  definition: JsonRecord,
  properties: JsonRecord
})
export type ComponentState = typeof ComponentState.Type

export const ActionFlowState = Schema.Struct({
  id: Uuid,
  projectId: Uuid,
  name: Schema.NonEmptyString,
  trigger: JsonRecord,
  definition: JsonRecord
})
export type ActionFlowState = typeof ActionFlowState.Type

export const SymbolState = Schema.Struct({
  id: Uuid,
  projectId: Uuid,
  name: Schema.NonEmptyString,
  componentId: Schema.NullOr(Uuid),
  definition: JsonRecord
})
export type SymbolState = typeof SymbolState.Type

export const ThemeState = Schema.Struct({
  id: Uuid,
  projectId: Uuid,
  name: Schema.NonEmptyString,
  tokens: JsonRecord,
  isDefault: Schema.Boolean
})
export type ThemeState = typeof ThemeState.Type

export const AssetState = Schema.Struct({
  id: Uuid,
  projectId: Uuid,
  name: Schema.NonEmptyString,
  kind: Schema.NonEmptyString,
  mimeType: Schema.NullOr(Schema.String),
  url: Schema.NullOr(Schema.String),
  sizeBytes: Schema.NullOr(NonNegativeInt),
  contentHash: Schema.NullOr(Schema.String),
  metadata: JsonRecord
})
export type AssetState = typeof AssetState.Type

/** Entity kinds, each mirrored by one `public` table; also the outbox's `aggregate_type`. */
export const entityStates = {
  project: ProjectState,
  page: PageState,
  project_page: ProjectPageState,
  component: ComponentState,
  action_flow: ActionFlowState,
  symbol: SymbolState,
  theme: ThemeState,
  asset: AssetState
} as const
export type EntityKind = keyof typeof entityStates
export const entityKinds = Object.keys(entityStates) as ReadonlyArray<EntityKind>
export const EntityKindSchema = Schema.Literals(["project", "page", "project_page", "component", "action_flow", "symbol", "theme", "asset"])

export interface EntityStateOf {
  readonly project: ProjectState
  readonly page: PageState
  readonly project_page: ProjectPageState
  readonly component: ComponentState
  readonly action_flow: ActionFlowState
  readonly symbol: SymbolState
  readonly theme: ThemeState
  readonly asset: AssetState
}

const Origin = Schema.optionalKey(Schema.String)

const upserted = <const K extends EntityKind>(kind: K) =>
  Schema.TaggedStruct(`${kind}.upserted` as `${K}.upserted`, { state: entityStates[kind], origin: Origin })
const deleted = <const K extends EntityKind>(kind: K) =>
  Schema.TaggedStruct(`${kind}.deleted` as `${K}.deleted`, { id: Uuid, projectId: Uuid, origin: Origin })

export const ProjectUpserted = upserted("project")
export const ProjectDeleted = deleted("project")
export const PageUpserted = upserted("page")
export const PageDeleted = deleted("page")
export const ProjectPageUpserted = upserted("project_page")
export const ProjectPageDeleted = deleted("project_page")
export const ComponentUpserted = upserted("component")
export const ComponentDeleted = deleted("component")
export const ActionFlowUpserted = upserted("action_flow")
export const ActionFlowDeleted = deleted("action_flow")
export const SymbolUpserted = upserted("symbol")
export const SymbolDeleted = deleted("symbol")
export const ThemeUpserted = upserted("theme")
export const ThemeDeleted = deleted("theme")
export const AssetUpserted = upserted("asset")
export const AssetDeleted = deleted("asset")

export const ProjectUpdate = Schema.Union([
  ProjectUpserted, ProjectDeleted,
  PageUpserted, PageDeleted,
  ProjectPageUpserted, ProjectPageDeleted,
  ComponentUpserted, ComponentDeleted,
  ActionFlowUpserted, ActionFlowDeleted,
  SymbolUpserted, SymbolDeleted,
  ThemeUpserted, ThemeDeleted,
  AssetUpserted, AssetDeleted
])
export type ProjectUpdate = typeof ProjectUpdate.Type
export type UpdateType = ProjectUpdate["_tag"]

export type EntityUpserted<K extends EntityKind = EntityKind> = Extract<ProjectUpdate, { readonly _tag: `${K}.upserted` }>
export type EntityDeleted<K extends EntityKind = EntityKind> = Extract<ProjectUpdate, { readonly _tag: `${K}.deleted` }>

export const updateTypes: ReadonlySet<string> = new Set(entityKinds.flatMap((kind) => [`${kind}.upserted`, `${kind}.deleted`]))

/** The entity kind an update changes (its outbox `aggregate_type`). */
export const entityOf = (update: ProjectUpdate): EntityKind => update._tag.slice(0, update._tag.lastIndexOf(".")) as EntityKind

export const isUpsert = (update: ProjectUpdate): update is EntityUpserted => update._tag.endsWith(".upserted")

/** The aggregate an update belongs to: entity kind, entity id and owning project. */
export const aggregateOf = (update: ProjectUpdate): { readonly kind: EntityKind; readonly id: string; readonly projectId: string } => {
  const kind = entityOf(update)
  if (isUpsert(update)) {
    const state = update.state
    return { kind, id: state.id, projectId: "projectId" in state ? state.projectId : state.id }
  }
  const removal = update as EntityDeleted
  return { kind, id: removal.id, projectId: removal.projectId }
}

export const upsert = <K extends EntityKind>(kind: K, state: EntityStateOf[K], origin?: string): EntityUpserted<K> =>
  ({ _tag: `${kind}.upserted`, state, ...(origin === undefined ? {} : { origin }) }) as unknown as EntityUpserted<K>

export const remove = <K extends EntityKind>(kind: K, id: string, projectId: string, origin?: string): EntityDeleted<K> =>
  ({ _tag: `${kind}.deleted`, id, projectId, ...(origin === undefined ? {} : { origin }) }) as unknown as EntityDeleted<K>

const encodeUpdate = Schema.encodeSync(ProjectUpdate)

/** The stored form of an update: its type, the current schema version and the JSON payload (without `_tag`). */
export const toStored = (update: ProjectUpdate): { readonly updateType: UpdateType; readonly schemaVersion: number; readonly payload: Record<string, unknown> } => {
  const { _tag, ...payload } = encodeUpdate(update) as { readonly _tag: UpdateType } & Record<string, unknown>
  return { updateType: _tag, schemaVersion: currentSchemaVersion, payload }
}

/** Why a stored update cannot be decoded; becomes the dead letter's error. */
export class UndecodableUpdate extends Schema.TaggedError<UndecodableUpdate>()("UndecodableUpdate", {
  updateType: Schema.String,
  schemaVersion: Schema.Number,
  message: Schema.String
}) {}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** Upgrades a payload written at `schemaVersion` to the current format. */
const upgradePayload = (updateType: string, schemaVersion: number, payload: Record<string, unknown>): Record<string, unknown> =>
  schemaVersion === 1 && updateType.endsWith(".upserted") ? { state: payload } : payload

const decodeUpdate = Schema.decodeUnknownResult(ProjectUpdate)

/** Decodes an outbox row's update, upgrading older schema versions; never throws. */
export const decodeStoredUpdate = (row: {
  readonly updateType: string
  readonly schemaVersion: number
  readonly payload: unknown
}): Result.Result<ProjectUpdate, UndecodableUpdate> => {
  const fail = (message: string) =>
    Result.fail(new UndecodableUpdate({ updateType: row.updateType, schemaVersion: row.schemaVersion, message }))
  if (!updateTypes.has(row.updateType)) return fail(`unknown update type '${row.updateType}'`)
  if (!Number.isInteger(row.schemaVersion) || row.schemaVersion < 1 || row.schemaVersion > currentSchemaVersion) {
    return fail(`unsupported schema version ${row.schemaVersion} (this build reads 1..${currentSchemaVersion})`)
  }
  if (!isRecord(row.payload)) return fail(`payload of '${row.updateType}' is not a JSON object`)
  const upgraded = upgradePayload(row.updateType, row.schemaVersion, row.payload)
  const decoded = decodeUpdate({ ...upgraded, _tag: row.updateType })
  return Result.isSuccess(decoded)
    ? Result.succeed(decoded.success)
    : fail(`invalid payload for '${row.updateType}': ${SchemaIssue.makeFormatterDefault()(decoded.failure.issue)}`)
}

/** A project command refused before anything was written (the whole batch is refused). */
export class ProjectCommandRejected extends Schema.TaggedError<ProjectCommandRejected>()("ProjectCommandRejected", {
  /** Position of the offending command in the batch (-1: the batch itself did not decode). */
  index: Schema.Number,
  reason: Schema.Literals(["invalid", "not_found", "parent_missing", "project_mismatch"]),
  message: Schema.String
}) {}
