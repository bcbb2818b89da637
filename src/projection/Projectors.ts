/**
 * One projector per update type: how `<entity>.upserted` and `<entity>.deleted` become rows of the entity's
 * `public` table. Every statement is set-based (the batch travels as one JSON parameter), so applying a
 * thousand upserts of one kind is one round trip. Table and column names are static strings of this file.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import type { EntityKind, UpdateType } from "../domain/cqrs/ProjectUpdate.ts"
import { idArray } from "../services/platform/sqlArrays.ts"

interface Column {
  readonly field: string
  readonly column: string
  readonly type: "uuid" | "text" | "jsonb" | "integer" | "bigint" | "boolean"
}

interface EntityTable {
  readonly table: string
  readonly columns: ReadonlyArray<Column>
}

const c = (field: string, column: string, type: Column["type"]): Column => ({ field, column, type })
const projectColumn = c("projectId", "project_id", "uuid")
const nameColumn = c("name", "name", "text")
const definitionColumn = c("definition", "definition", "jsonb")

/** The public table of each entity kind and how its state fields map to columns (id excluded). */
export const entityTables: { readonly [K in EntityKind]: EntityTable } = {
  project: {
    table: "public.projects",
    columns: [nameColumn, c("description", "description", "text"), c("ownerId", "owner_id", "uuid"), c("settings", "settings", "jsonb")]
  },
  page: { table: "public.pages", columns: [projectColumn, nameColumn, c("route", "route", "text"), definitionColumn] },
  project_page: {
    table: "public.project_pages",
    columns: [projectColumn, c("pageId", "page_id", "uuid"), c("position", "position", "integer"), c("isHome", "is_home", "boolean")]
  },
  component: {
    table: "public.components",
    columns: [projectColumn, nameColumn, c("kind", "kind", "text"), definitionColumn, c("properties", "properties", "jsonb")]
  },
  action_flow: { table: "public.action_flows", columns: [projectColumn, nameColumn, c("trigger", "trigger", "jsonb"), definitionColumn] },
  symbol: { table: "public.symbols", columns: [projectColumn, nameColumn, c("componentId", "component_id", "uuid"), definitionColumn] },
  theme: {
    table: "public.themes",
    columns: [projectColumn, nameColumn, c("tokens", "tokens", "jsonb"), c("isDefault", "is_default", "boolean")]
  },
  asset: {
    table: "public.assets",
    columns: [
      projectColumn, nameColumn, c("kind", "kind", "text"), c("mimeType", "mime_type", "text"), c("url", "url", "text"),
      c("sizeBytes", "size_bytes", "bigint"), c("contentHash", "content_hash", "text"), c("metadata", "metadata", "jsonb")
    ]
  }
}

/**
 * Order in which kinds are written when a batch is applied set-based: parents before children, so a page
 * never waits for its project within one batch (deletes never take this path; see apply.ts).
 */
export const applyOrder: ReadonlyArray<EntityKind> = ["project", "page", "component", "theme", "asset", "action_flow", "project_page", "symbol"]

/** A public row as the conflict check sees it. */
export interface PublicRowVersion {
  readonly id: string
  readonly version: number
  readonly updatedBy: string | null
}

export interface Projector {
  readonly updateType: UpdateType
  readonly kind: EntityKind
  /** Applies upserts (states) or deletes (ids) of this update type; one statement. */
  readonly apply: (sql: PgClient.PgClient, items: ReadonlyArray<unknown>) => Effect.Effect<void, SqlError>
}

/** The statement prefix (up to the JSON parameter) and suffix of each kind's set-based upsert. */
const upsertSql = (kind: EntityKind) => {
  const { table, columns } = entityTables[kind]
  const names = columns.map((col) => col.column)
  const recordType = ["id uuid", ...columns.map((col) => `${col.column} ${col.type}`)].join(", ")
  return {
    prefix: `INSERT INTO ${table} (id, ${names.join(", ")})
    SELECT id, ${names.join(", ")} FROM jsonb_to_recordset(`,
    suffix: `::jsonb) AS x(${recordType})
    ON CONFLICT (id) DO UPDATE SET ${names.map((name) => `${name} = excluded.${name}`).join(", ")}`
  }
}
const upsertSqls = new Map((Object.keys(entityTables) as ReadonlyArray<EntityKind>).map((kind) => [kind, upsertSql(kind)] as const))

/**
 * The set-based upsert of `states` of one kind (one statement, or a fragment of the batch's closing
 * statement: see bookkeeping.ts).
 */
export const upsertStatement = (sql: PgClient.PgClient, kind: EntityKind, states: ReadonlyArray<unknown>) => {
  const { columns } = entityTables[kind]
  const { prefix, suffix } = upsertSqls.get(kind)!
  const rows = states.map((state) => {
    const source = state as Record<string, unknown>
    const row: Record<string, unknown> = { id: source["id"] }
    for (const col of columns) row[col.column] = source[col.field] ?? null
    return row
  })
  return sql`${sql.literal(prefix)}${JSON.stringify(rows)}${sql.literal(suffix)}`
}

const upsertProjector = (kind: EntityKind): Projector => ({
  updateType: `${kind}.upserted` as UpdateType,
  kind,
  apply: (sql, items) => Effect.asVoid(upsertStatement(sql, kind, items))
})

const deleteProjector = (kind: EntityKind): Projector => {
  const statement = `DELETE FROM ${entityTables[kind].table} WHERE id = ANY($1::uuid[])`
  return {
    updateType: `${kind}.deleted` as UpdateType,
    kind,
    apply: (sql, ids) => Effect.asVoid(sql.unsafe(statement, [idArray(ids as ReadonlyArray<string>)]))
  }
}

/** The projector of every update type. */
export const projectors: ReadonlyMap<UpdateType, Projector> = new Map(
  (Object.keys(entityTables) as ReadonlyArray<EntityKind>).flatMap((kind) => {
    const up = upsertProjector(kind)
    const down = deleteProjector(kind)
    return [[up.updateType, up], [down.updateType, down]] as const
  })
)
