/**
 * SQL building blocks shared by the `/rest/v1` reads (Postgrest.ts) and writes (writes.ts): the catalogue of
 * public tables and columns (the only identifiers a request may name, quoted here), filter conditions, the
 * projection of returned columns, and the cast of a body value to its column's type.
 */
import { Effect } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import type { Fragment } from "effect/sql/Statement"
import { type Catalogue, type ColumnKind, type Filter, kindOf } from "./query.ts"

/** Tables `/rest/v1` reads. `project_conflicts` is a view (migration 0015): read-only. */
export const readableTables = [
  "projects",
  "project_members",
  "pages",
  "project_pages",
  "components",
  "action_flows",
  "symbols",
  "themes",
  "assets",
  "project_conflicts"
] as const

/** Tables users write through `/rest/v1` (under RLS). */
export const writableTables: ReadonlySet<string> = new Set(readableTables.filter((table) => table !== "project_conflicts"))

export const singleObjectMediaType = "application/vnd.pgrst.object+json"

export const ident = (name: string) => `"${name.replaceAll("\"", "\"\"")}"`

/** Column names and kinds of the readable tables, from the database's catalogue. */
export const loadCatalogue = (sql: SqlClient) =>
  Effect.map(
    sql<{ table_name: string; column_name: string; data_type: string }>`
      SELECT table_name, column_name, data_type FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name IN ${sql.in([...readableTables])}
      ORDER BY table_name, ordinal_position`,
    (rows) => {
      const catalogue = new Map<string, Map<string, ColumnKind>>()
      for (const row of rows) {
        const columns = catalogue.get(row.table_name) ?? new Map<string, ColumnKind>()
        columns.set(row.column_name, kindOf(row.data_type))
        catalogue.set(row.table_name, columns)
      }
      return catalogue as Catalogue
    }
  )

/** How a request value enters a statement: a bind parameter, or (reads) a reference into `cogo.rest_read`'s values. */
export type Bind = (value: string | number | boolean | null, kind: ColumnKind) => Fragment

/** A bind parameter whose type PostgreSQL infers from the column it is compared with. */
export const parameterOf = (sql: SqlClient): Bind => (value) => sql`${value}`

/**
 * Values of a read run through `cogo.rest_read` (migration 0025): each one is appended to `values` (sent as one
 * JSON array) and referenced as `($1->>n)::<column type>`; the statement text carries no request value.
 */
export const jsonValuesOf = (sql: SqlClient) => {
  const values: Array<string | number | boolean | null> = []
  const bind: Bind = (value, kind) => {
    values.push(value)
    return sql.literal(`($1->>${values.length - 1})::${castOf[kind]}`)
  }
  return { values, bind }
}

/** One filter as a condition (values through `bind`, the column a catalogue name of kind `kind`). */
export const condition = (sql: SqlClient, filter: Filter, kind: ColumnKind, bind: Bind): Fragment => {
  const col = sql.unsafe(ident(filter.column))
  const first = filter.values[0] ?? null
  switch (filter.op) {
    case "eq":
      return sql`${col} = ${bind(first, kind)}`
    case "neq":
      return sql`${col} <> ${bind(first, kind)}`
    case "gt":
      return sql`${col} > ${bind(first, kind)}`
    case "gte":
      return sql`${col} >= ${bind(first, kind)}`
    case "lt":
      return sql`${col} < ${bind(first, kind)}`
    case "lte":
      return sql`${col} <= ${bind(first, kind)}`
    case "in":
      return filter.values.length === 0 ? sql`false` : sql`${col} IN (${sql.csv(filter.values.map((value) => bind(value, kind)))})`
    case "is":
      return first === null ? sql`${col} IS NULL` : first === true ? sql`${col} IS TRUE` : sql`${col} IS FALSE`
  }
}

/** `WHERE a AND b` (empty without filters) over the columns `kinds` of one table. */
export const whereOf = (sql: SqlClient, filters: ReadonlyArray<Filter>, kinds: ReadonlyMap<string, ColumnKind>, bind: Bind = parameterOf(sql)): Fragment =>
  filters.length === 0 ? sql`` : sql`WHERE ${sql.and(filters.map((filter) => condition(sql, filter, kinds.get(filter.column) ?? "text", bind)))}`

/**
 * The select list of `names` for PostgreSQL to encode as JSON (reads and write representations): plain columns, each once, so bigints
 * are exact JSON numbers, jsonb values are PostgreSQL's text and timestamps ISO 8601, as PostgREST answers.
 */
export const jsonProjectionOf = (kinds: ReadonlyMap<string, ColumnKind>, names: ReadonlyArray<string> | "*"): string =>
  (names === "*" ? [...kinds.keys()] : [...new Set(names)]).map(ident).join(", ")

/** The SQL type a body value of a column of `kind` is cast to. */
export const castOf: Readonly<Record<ColumnKind, string>> = {
  uuid: "uuid",
  int: "integer",
  bigint: "bigint",
  bool: "boolean",
  text: "text",
  time: "timestamptz",
  json: "jsonb",
  number: "numeric"
}
