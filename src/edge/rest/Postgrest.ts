/**
 * A read-only subset of PostgREST at `GET /rest/v1/<table>` over `public.*`, run as the caller under RLS
 * (role `authenticated` + `request.jwt.claims`, like PostgREST itself), so `@supabase/supabase-js`
 * `.from(table).select(...)` works against the service (the embedded backend becomes a local Supabase
 * stand-in for the IDE's reads).
 *
 * Supported: `select=a,b` / `*`, filters `col=eq|neq|gt|gte|lt|lte.value`, `col=in.(a,b)`,
 * `col=is.null|true|false`, `order=a.asc,b.desc.nullslast`, `limit`, `offset`, and a single object with
 * `Accept: application/vnd.pgrst.object+json` (406 unless exactly one row). Only tables and columns of the
 * public schema are accepted (names are checked against the catalogue, values against the column type), so
 * a bad query is a 400, never a database error.
 */
import { Effect } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { SqlClient } from "effect/sql/SqlClient"
import type { Fragment } from "effect/sql/Statement"
import { problem } from "../../domain/platform/Problem.ts"
import { Auth, type Principal } from "../../services/auth/Auth.ts"
import { Database, DbRole, inRoleTransaction } from "../../services/platform/Database.ts"
import { problemResponse } from "../../services/platform/problemResponse.ts"
import { uuidPattern } from "../../domain/platform/Uuid.ts"

export const readableTables = [
  "projects",
  "project_members",
  "pages",
  "project_pages",
  "components",
  "action_flows",
  "symbols",
  "themes",
  "assets"
] as const

type ColumnKind = "uuid" | "int" | "bigint" | "bool" | "text" | "time" | "json" | "number"
export type Catalogue = ReadonlyMap<string, ReadonlyMap<string, ColumnKind>>

const kindOf = (dataType: string): ColumnKind => {
  switch (dataType) {
    case "uuid":
      return "uuid"
    case "integer":
    case "smallint":
      return "int"
    case "bigint":
      return "bigint"
    case "boolean":
      return "bool"
    case "jsonb":
    case "json":
      return "json"
    case "real":
    case "double precision":
    case "numeric":
      return "number"
    default:
      return dataType.startsWith("timestamp") || dataType === "date" ? "time" : "text"
  }
}

export type FilterOp = "eq" | "neq" | "gt" | "gte" | "lt" | "lte" | "in" | "is"
export interface Filter {
  readonly column: string
  readonly op: FilterOp
  readonly values: ReadonlyArray<string | null | boolean>
}
export interface Order {
  readonly column: string
  readonly descending: boolean
  readonly nulls: "first" | "last" | undefined
}
export interface ReadQuery {
  readonly table: string
  readonly columns: ReadonlyArray<string> | "*"
  readonly filters: ReadonlyArray<Filter>
  readonly order: ReadonlyArray<Order>
  readonly limit: number | undefined
  readonly offset: number | undefined
}

/** A 400 in PostgREST's error shape (code/message/details/hint) and problem+json's. */
export class QueryError {
  readonly _tag = "QueryError"
  constructor(readonly parameter: string, readonly message: string) {}
}

const maxLimit = 10_000
const comparisons: ReadonlySet<string> = new Set(["eq", "neq", "gt", "gte", "lt", "lte"])
const reserved: ReadonlySet<string> = new Set(["select", "order", "limit", "offset", "on_conflict", "columns"])

const int4Max = 2_147_483_647
const timePattern = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/
const numberPattern = /^-?\d{1,30}(?:\.\d{1,30})?(?:[eE][+-]?\d{1,3})?$/

/** Whether `value` is a literal Postgres accepts for a column of `kind` (so a filter never fails in SQL). */
const validFor = (kind: ColumnKind, value: string): boolean => {
  switch (kind) {
    case "uuid":
      return uuidPattern.test(value)
    case "int":
      return /^-?\d{1,10}$/.test(value) && Math.abs(Number(value)) <= int4Max
    case "bigint":
      return /^-?\d{1,18}$/.test(value)
    case "number":
      return numberPattern.test(value) && Number.isFinite(Number(value))
    case "bool":
      return value === "true" || value === "false"
    case "time":
      return timePattern.test(value) && !Number.isNaN(Date.parse(value.replace(" ", "T")))
    case "text":
      return !value.includes("\u0000")
    case "json":
      return false
  }
}

const checkValue = (parameter: string, kind: ColumnKind, value: string): QueryError | undefined =>
  validFor(kind, value)
    ? undefined
    : new QueryError(parameter, kind === "json" ? "json columns cannot be filtered" : `not a valid ${kind}: ${JSON.stringify(value)}`)

/** Splits `(a,"b,c",d)` into values (PostgREST's quoting). */
const parseList = (raw: string): ReadonlyArray<string> | undefined => {
  if (!raw.startsWith("(") || !raw.endsWith(")")) return undefined
  const inner = raw.slice(1, -1)
  const values: Array<string> = []
  let current = ""
  let quoted = false
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!
    if (quoted) {
      if (c === "\\" && i + 1 < inner.length) current += inner[++i]!
      else if (c === "\"") quoted = false
      else current += c
    } else if (c === "\"") quoted = true
    else if (c === ",") {
      values.push(current)
      current = ""
    } else current += c
  }
  if (quoted) return undefined
  if (inner !== "") values.push(current)
  return values
}

/** Parses and validates a PostgREST query string against the catalogue. */
export const parseReadQuery = (catalogue: Catalogue, table: string, params: URLSearchParams): ReadQuery | QueryError => {
  const columns = catalogue.get(table)
  if (columns === undefined) return new QueryError("table", `unknown table ${JSON.stringify(table)}`)
  const column = (parameter: string, name: string) => columns.has(name) ? undefined : new QueryError(parameter, `unknown column ${JSON.stringify(name)}`)

  let selected: ReadonlyArray<string> | "*" = "*"
  const select = params.get("select")
  if (select !== null && select.trim() !== "*" && select.trim() !== "") {
    const names = select.split(",").map((s) => s.trim())
    for (const name of names) {
      const bad = column("select", name)
      if (bad) return bad
    }
    selected = names
  }

  const filters: Array<Filter> = []
  for (const [name, raw] of params) {
    if (reserved.has(name)) continue
    const bad = column(name, name)
    if (bad) return bad
    const kind = columns.get(name)!
    const dot = raw.indexOf(".")
    const op = dot < 0 ? raw : raw.slice(0, dot)
    const operand = dot < 0 ? "" : raw.slice(dot + 1)
    if (comparisons.has(op)) {
      const invalid = checkValue(name, kind, operand)
      if (invalid) return invalid
      filters.push({ column: name, op: op as FilterOp, values: [operand] })
    } else if (op === "in") {
      const values = parseList(operand)
      if (values === undefined) return new QueryError(name, "in. expects a list like (a,b,c)")
      if (values.length > 1000) return new QueryError(name, "in. accepts at most 1000 values")
      for (const value of values) {
        const invalid = checkValue(name, kind, value)
        if (invalid) return invalid
      }
      filters.push({ column: name, op: "in", values })
    } else if (op === "is") {
      const value = operand === "null" ? null : operand === "true" ? true : operand === "false" ? false : undefined
      if (value === undefined) return new QueryError(name, "is. expects null, true or false")
      if (value !== null && kind !== "bool") return new QueryError(name, "is.true / is.false need a boolean column")
      filters.push({ column: name, op: "is", values: [value] })
    } else {
      return new QueryError(name, `unsupported operator ${JSON.stringify(op)} (eq, neq, gt, gte, lt, lte, in, is)`)
    }
  }

  const order: Array<Order> = []
  const orderParam = params.get("order")
  if (orderParam !== null && orderParam !== "") {
    for (const term of orderParam.split(",")) {
      const [name = "", ...modifiers] = term.trim().split(".")
      const bad = column("order", name)
      if (bad) return bad
      let descending = false
      let nulls: Order["nulls"] = undefined
      for (const modifier of modifiers) {
        if (modifier === "asc") descending = false
        else if (modifier === "desc") descending = true
        else if (modifier === "nullsfirst") nulls = "first"
        else if (modifier === "nullslast") nulls = "last"
        else return new QueryError("order", `unknown order modifier ${JSON.stringify(modifier)}`)
      }
      order.push({ column: name, descending, nulls })
    }
  }

  const count = (name: "limit" | "offset") => {
    const raw = params.get(name)
    if (raw === null) return undefined
    if (!/^\d{1,9}$/.test(raw)) return new QueryError(name, "must be a non-negative integer")
    return Math.min(Number(raw), maxLimit)
  }
  const limit = count("limit")
  if (limit instanceof QueryError) return limit
  const offset = count("offset")
  if (offset instanceof QueryError) return offset
  return { table, columns: selected, filters, order, limit, offset }
}

const ident = (name: string) => `"${name.replaceAll("\"", "\"\"")}"`

export const singleObjectMediaType = "application/vnd.pgrst.object+json"

const pgrstError = (status: number, code: string, message: string, details: string | null = null) =>
  HttpServerResponse.jsonUnsafe({
    ...problem(status, "rest-query", status === 406 ? "Not Acceptable" : status === 404 ? "Not Found" : "Bad Request", message),
    code,
    message,
    details,
    hint: null
  }, { status, contentType: "application/problem+json" })

/** `GET /rest/v1/:table` (and the same for HEAD-less clients). */
export const PostgrestLive = HttpRouter.use(Effect.fn(function*(router) {
  const sql = yield* SqlClient
  const db = yield* Database
  const auth = yield* Auth

  const rows = yield* sql<{ table_name: string; column_name: string; data_type: string }>`
    SELECT table_name, column_name, data_type FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name IN ${sql.in([...readableTables])}
    ORDER BY table_name, ordinal_position`
  const catalogue = new Map<string, Map<string, ColumnKind>>()
  for (const row of rows) {
    const columns = catalogue.get(row.table_name) ?? new Map<string, ColumnKind>()
    columns.set(row.column_name, kindOf(row.data_type))
    catalogue.set(row.table_name, columns)
  }

  const condition = (filter: Filter): Fragment => {
    const col = sql.unsafe(ident(filter.column))
    const first = filter.values[0] ?? null
    switch (filter.op) {
      case "eq":
        return sql`${col} = ${first}`
      case "neq":
        return sql`${col} <> ${first}`
      case "gt":
        return sql`${col} > ${first}`
      case "gte":
        return sql`${col} >= ${first}`
      case "lt":
        return sql`${col} < ${first}`
      case "lte":
        return sql`${col} <= ${first}`
      case "in":
        return filter.values.length === 0 ? sql`false` : sql`${col} IN ${sql.in(filter.values as ReadonlyArray<string>)}`
      case "is":
        return first === null ? sql`${col} IS NULL` : first === true ? sql`${col} IS TRUE` : sql`${col} IS FALSE`
    }
  }

  const run = (principal: Principal, query: ReadQuery) => {
    const kinds = catalogue.get(query.table)!
    const names = query.columns === "*" ? [...kinds.keys()] : query.columns
    const projection = names.map((name) => kinds.get(name) === "bigint" ? `${ident(name)}::float8 AS ${ident(name)}` : ident(name)).join(", ")
    const where = query.filters.length === 0 ? sql`` : sql`WHERE ${sql.and(query.filters.map(condition))}`
    const orderBy = query.order.length === 0 ? "" : `ORDER BY ${
      query.order.map((o) => `${ident(o.column)} ${o.descending ? "DESC" : "ASC"}${o.nulls === undefined ? "" : ` NULLS ${o.nulls.toUpperCase()}`}`).join(", ")
    }`
    const statement = sql`SELECT ${sql.unsafe(projection)} FROM public.${sql.unsafe(ident(query.table))} ${where} ${sql.unsafe(orderBy)}
      ${query.limit === undefined ? sql`` : sql`LIMIT ${query.limit}`} ${query.offset === undefined ? sql`` : sql`OFFSET ${query.offset}`}`
    return principal.role === "service_role"
      ? inRoleTransaction(sql, DbRole.service, statement)
      : db.asUser(principal.claims, statement)
  }

  yield* router.add("GET", "/rest/v1/:table", (request) =>
    Effect.gen(function*() {
      const principal = yield* auth.authenticate(request)
      const params = yield* HttpRouter.params
      const url = new URL(request.url, "http://local")
      const parsed = parseReadQuery(catalogue, params["table"] ?? "", url.searchParams)
      if (parsed instanceof QueryError) {
        return parsed.parameter === "table"
          ? pgrstError(404, "PGRST205", parsed.message)
          : pgrstError(400, "PGRST100", `${parsed.parameter}: ${parsed.message}`)
      }
      const result = yield* run(principal, parsed)
      const single = (request.headers["accept"] ?? "").includes(singleObjectMediaType)
      if (single) {
        if (result.length !== 1) {
          return pgrstError(406, "PGRST116", "JSON object requested, multiple (or no) rows returned", `The result contains ${result.length} rows`)
        }
        return HttpServerResponse.jsonUnsafe(result[0], { contentType: singleObjectMediaType })
      }
      const start = parsed.offset ?? 0
      return HttpServerResponse.jsonUnsafe(result, {
        headers: { "content-range": result.length === 0 ? "*/*" : `${start}-${start + result.length - 1}/*` }
      })
    }).pipe(
      Effect.catchTag("Unauthorized", (e) => Effect.succeed(problemResponse(e))),
      Effect.catchTag("SqlError", (e) => Effect.die(e))
    ))
}))
