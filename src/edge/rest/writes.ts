/**
 * PostgREST-compatible writes at `/rest/v1/<table>` (issue 12), run as the caller under RLS (role
 * `authenticated` + `request.jwt.claims`), so `@supabase/supabase-js` `insert`, `upsert`, `update` and
 * `delete` work unmodified:
 * - `POST`: one object or an array (`columns=` limits and orders the inserted columns; keys missing from a
 *   row are NULL, or the column default with `Prefer: missing=default`); upsert with
 *   `Prefer: resolution=merge-duplicates|ignore-duplicates` and `on_conflict=a,b` (default: primary key);
 * - `PATCH` (one object) and `DELETE` with the read filters; without any filter they are refused (400,
 *   like PostgreSQL's safeupdate);
 * - `Prefer: return=minimal (default)|representation|headers-only`, `count=exact` (`Content-Range`),
 *   `select=` on the returned rows, `Accept: application/vnd.pgrst.object+json` (406 and rollback unless
 *   exactly one row);
 * - optimistic concurrency: `If-Match: "N"` on PATCH/DELETE adds `version = N`; when rows match the other
 *   filters but not the version, nothing changes and the answer is 412 (with `version=eq.N` as a filter the
 *   answer is PostgREST's: zero rows). A returned single row carries `ETag: "version"`.
 * Column names are checked against the catalogue, values against the column type; server-owned columns
 * (`version`, `created_at`, `updated_at`, `updated_by`; `id` on PATCH) are refused, and authored content is
 * validated as COGO UI JSON (src/domain/authoring/Content.ts): a 400 naming the JSON path.
 */
import { Effect } from "effect"
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
import type { SqlClient } from "effect/sql/SqlClient"
import type { Fragment, Statement } from "effect/sql/Statement"
import { contentIssue, formatContentIssue } from "../../domain/authoring/Content.ts"
import type { Auth, Principal } from "../../services/auth/Auth.ts"
import type { Database } from "../../services/platform/Database.ts"
import { problemResponse } from "../../services/platform/problemResponse.ts"
import { pgrstError } from "../http/ProblemJson.ts"
import { writeErrorResponse } from "./errors.ts"
import { type Catalogue, type ColumnKind, type Filter, parseFilters, parseSelect, QueryError, validFor } from "./query.ts"
import { castOf, ident, jsonProjectionOf, singleObjectMediaType, whereOf, writableTables } from "./sql.ts"

/** Columns the server owns: never in a write body. */
const serverOwned: ReadonlySet<string> = new Set(["version", "created_at", "updated_at", "updated_by"])
const primaryKeys: Readonly<Record<string, ReadonlyArray<string>>> = { project_members: ["project_id", "user_id"] }
const primaryKeyOf = (table: string) => primaryKeys[table] ?? ["id"]

export interface Prefer {
  readonly return: "minimal" | "representation" | "headers-only"
  readonly count: boolean
  readonly resolution: "merge" | "ignore" | undefined
  readonly missingDefault: boolean
}

/** The `Prefer` header (several headers arrive joined by commas). */
export const parsePrefer = (header: string | undefined): Prefer => {
  const tokens = new Set((header ?? "").split(",").map((token) => token.trim().toLowerCase()))
  return {
    return: tokens.has("return=representation") ? "representation" : tokens.has("return=headers-only") ? "headers-only" : "minimal",
    count: tokens.has("count=exact") || tokens.has("count=planned") || tokens.has("count=estimated"),
    resolution: tokens.has("resolution=merge-duplicates") ? "merge" : tokens.has("resolution=ignore-duplicates") ? "ignore" : undefined,
    missingDefault: tokens.has("missing=default")
  }
}

/** `If-Match: "3"` (or `W/"3"`, or `3`) as a version; undefined when absent, `null` when unreadable. */
export const parseIfMatch = (header: string | undefined): number | undefined | null => {
  if (header === undefined) return undefined
  const match = /^\s*(?:W\/)?"?(\d{1,15})"?\s*$/.exec(header)
  return match === null ? null : Number(match[1])
}

/** A refusal decided inside the transaction (rolls it back); carries the response. */
class Refused {
  readonly _tag = "Refused"
  constructor(readonly response: HttpServerResponse.HttpServerResponse) {}
}

const badColumn = (table: string, column: string) =>
  pgrstError(400, "PGRST204", `Could not find the '${column}' column of '${table}' in the schema cache`)
const invalidValue = (column: string, kind: ColumnKind, value: unknown) =>
  pgrstError(400, "22P02", `invalid input syntax for type ${castOf[kind]}: ${JSON.stringify(value)}`, { details: `column ${column}` })

/** A body value as an SQL value of its column (a parameter with a cast), or the response refusing it. */
const cellOf = (sql: SqlClient, column: string, kind: ColumnKind, value: unknown): Fragment | HttpServerResponse.HttpServerResponse => {
  if (value === null) return sql`NULL`
  if (kind === "json") return sql`${JSON.stringify(value)}::jsonb`
  const text = typeof value === "string" ? value : typeof value === "number" || typeof value === "boolean" ? String(value) : undefined
  if (text === undefined || !validFor(kind, text)) return invalidValue(column, kind, value)
  return sql`${text}::${sql.literal(castOf[kind])}`
}

type Row = Readonly<Record<string, unknown>>
const isRow = (value: unknown): value is Row => typeof value === "object" && value !== null && !Array.isArray(value)

/** The write's column names: `columns=` (quoted or not) or the keys of the rows, checked; or a refusal. */
const columnsOf = (
  table: string,
  kinds: ReadonlyMap<string, ColumnKind>,
  rows: ReadonlyArray<Row>,
  param: string | null,
  refused: ReadonlySet<string>
): ReadonlyArray<string> | HttpServerResponse.HttpServerResponse => {
  const names = param === null
    ? [...new Set(rows.flatMap((row) => Object.keys(row)))]
    : param.split(",").map((name) => name.trim().replace(/^"(.*)"$/, "$1")).filter((name) => name !== "")
  for (const name of names) {
    if (!kinds.has(name)) return badColumn(table, name)
    if (refused.has(name)) {
      return pgrstError(400, "428C9", `column "${name}" is set by the server and cannot be written`, {
        hint: name === "version" ? "send the version you edited as a filter (version=eq.N) or as If-Match" : null
      })
    }
  }
  for (const row of rows) {
    for (const name of names) {
      const issue = contentIssue(table, name, row[name])
      if (issue !== undefined && row[name] !== undefined) {
        return pgrstError(400, "23514", `invalid ${table}.${name}: ${formatContentIssue(issue)}`, { details: issue.path.join(".") })
      }
    }
  }
  return names
}

export interface WriteContext {
  readonly sql: SqlClient
  readonly db: Database["Service"]
  readonly auth: Auth["Service"]
  readonly catalogue: Catalogue
}

type Method = "POST" | "PATCH" | "DELETE"

const readBody = (request: HttpServerRequest.HttpServerRequest) =>
  Effect.map(Effect.result(request.json), (result) => result._tag === "Success" ? { ok: true as const, value: result.success } : { ok: false as const })

/** Registers `POST`, `PATCH` and `DELETE /rest/v1/:table`. */
export const addWriteRoutes = Effect.fn(function*(router: HttpRouter.HttpRouter, context: WriteContext) {
  const { auth, catalogue, db, sql } = context
  const joinComma = sql.join(", ", false)

  /** The statement of a write, or the response refusing the request. */
  const statementOf = (method: Method, table: string, request: HttpServerRequest.HttpServerRequest, url: URL, body: unknown, returning: string) =>
    Effect.sync((): { readonly statement: Statement<Record<string, unknown>>; readonly version: number | undefined; readonly filters: ReadonlyArray<Filter> } | HttpServerResponse.HttpServerResponse => {
      const kinds = catalogue.get(table)!
      const prefer = parsePrefer(request.headers["prefer"])
      const target = sql.unsafe(`public.${ident(table)}`)
      const returningSql = sql.unsafe(returning)
      if (method === "POST") {
        const rows = Array.isArray(body) ? body : [body]
        if (!rows.every(isRow)) return pgrstError(400, "PGRST102", "Empty or invalid json", { details: "the body must be an object or an array of objects" })
        const columns = columnsOf(table, kinds, rows, url.searchParams.get("columns"), serverOwned)
        if (!Array.isArray(columns)) return columns as HttpServerResponse.HttpServerResponse
        const names = columns as ReadonlyArray<string>
        const tuples: Array<Fragment> = []
        for (const row of rows) {
          const cells: Array<Fragment> = []
          for (const name of names) {
            const value = row[name]
            const cell = value === undefined ? (prefer.missingDefault ? sql`DEFAULT` : sql`NULL`) : cellOf(sql, name, kinds.get(name)!, value)
            if (HttpServerResponse.isHttpServerResponse(cell)) return cell
            cells.push(cell)
          }
          tuples.push(sql`(${joinComma(cells)})`)
        }
        const conflictParam = url.searchParams.get("on_conflict")
        const conflictColumns = conflictParam === null ? primaryKeyOf(table) : conflictParam.split(",").map((name) => name.trim())
        const unknown = conflictColumns.find((name) => !kinds.has(name))
        if (unknown !== undefined) return badColumn(table, unknown)
        const updated = names.filter((name) => !conflictColumns.includes(name))
        const onConflict = prefer.resolution === undefined
          ? sql``
          : prefer.resolution === "ignore" || updated.length === 0
          ? sql`ON CONFLICT (${sql.unsafe(conflictColumns.map(ident).join(", "))}) DO NOTHING`
          : sql`ON CONFLICT (${sql.unsafe(conflictColumns.map(ident).join(", "))}) DO UPDATE SET ${
            sql.unsafe(updated.map((name) => `${ident(name)} = excluded.${ident(name)}`).join(", "))
          }`
        const statement = rows.length === 0
          ? sql`SELECT ${returningSql} FROM ${target} WHERE false`
          : names.length === 0
          ? sql`INSERT INTO ${target} SELECT FROM generate_series(1, ${rows.length}) ${onConflict} RETURNING ${returningSql}`
          : sql`INSERT INTO ${target} (${sql.unsafe(names.map(ident).join(", "))}) VALUES ${joinComma(tuples)} ${onConflict} RETURNING ${returningSql}`
        return { statement, version: undefined, filters: [] }
      }
      const filters = parseFilters(kinds, url.searchParams)
      if (filters instanceof QueryError) return pgrstError(400, "PGRST100", `${filters.parameter}: ${filters.message}`)
      const version = parseIfMatch(request.headers["if-match"])
      if (version === null) return pgrstError(400, "PGRST100", "If-Match: expected a row version such as \"3\"")
      if (filters.length === 0 && version === undefined) {
        return pgrstError(400, "21000", `${method === "PATCH" ? "UPDATE" : "DELETE"} requires a WHERE clause`, {
          hint: "filter the rows to change, e.g. id=eq.<uuid>"
        })
      }
      const guarded = version === undefined ? filters : [...filters, { column: "version", op: "eq" as const, values: [String(version)] }]
      if (method === "DELETE") {
        return { statement: sql`DELETE FROM ${target} ${whereOf(sql, guarded, kinds)} RETURNING ${returningSql}`, version, filters }
      }
      if (!isRow(body)) return pgrstError(400, "PGRST102", "Empty or invalid json", { details: "the body must be one object" })
      const columns = columnsOf(table, kinds, [body], null, new Set([...serverOwned, "id"]))
      if (!Array.isArray(columns)) return columns as HttpServerResponse.HttpServerResponse
      const names = columns as ReadonlyArray<string>
      if (names.length === 0) return pgrstError(400, "PGRST102", "Empty or invalid json", { details: "nothing to update" })
      const assignments: Array<Fragment> = []
      for (const name of names) {
        const cell = cellOf(sql, name, kinds.get(name)!, body[name])
        if (HttpServerResponse.isHttpServerResponse(cell)) return cell
        assignments.push(sql`${sql.unsafe(ident(name))} = ${cell}`)
      }
      return { statement: sql`UPDATE ${target} SET ${joinComma(assignments)} ${whereOf(sql, guarded, kinds)} RETURNING ${returningSql}`, version, filters }
    })

  const handle = (method: Method, request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const principal: Principal = yield* auth.authenticate(request)
      const params = yield* HttpRouter.params
      const table = params["table"] ?? ""
      const kinds = catalogue.get(table)
      if (kinds === undefined) return pgrstError(404, "PGRST205", `Could not find the table 'public.${table}' in the schema cache`)
      if (!writableTables.has(table) || principal.role === "service_role") {
        return pgrstError(403, "42501", `permission denied for ${writableTables.has(table) ? "table" : "view"} ${table}`, {
          hint: principal.role === "service_role" ? "public.* is written by users (under RLS) and the projector only" : null
        })
      }
      const url = new URL(request.url, "http://local")
      const selected = parseSelect(kinds, url.searchParams)
      if (selected instanceof QueryError) return pgrstError(400, "PGRST100", `${selected.parameter}: ${selected.message}`)
      const prefer = parsePrefer(request.headers["prefer"])
      const accept = request.headers["accept"] ?? ""
      const singleObject = accept.includes(singleObjectMediaType)
      const represent = prefer.return === "representation" || singleObject
      const returning = represent ? jsonProjectionOf(kinds, selected) : primaryKeyOf(table).map(ident).join(", ")

      let body: unknown = undefined
      if (method !== "DELETE") {
        const read = yield* readBody(request)
        if (!read.ok) return pgrstError(400, "PGRST102", "Empty or invalid json")
        body = read.value
      }
      const built = yield* statementOf(method, table, request, url, body, returning)
      if (HttpServerResponse.isHttpServerResponse(built)) return built

      // A representation is PostgreSQL's JSON of the returned rows (as the reads answer); otherwise the keys.
      const written = represent
        ? Effect.map(
          sql<{ readonly count: number; readonly body: string }>`WITH _w AS (${built.statement})
            SELECT count(*)::int AS count, coalesce(json_agg(_w), '[]')::text AS body FROM _w`,
          ([result]): Written => ({ count: result?.count ?? 0, body: result?.body ?? "[]", rows: [] })
        )
        : Effect.map(built.statement, (rows): Written => ({ count: rows.length, body: undefined, rows }))
      const result = yield* db.asUser(principal.claims, Effect.gen(function*() {
        const result = yield* written
        if (singleObject && result.count !== 1) {
          return yield* Effect.fail(new Refused(pgrstError(406, "PGRST116", "JSON object requested, multiple (or no) rows returned", {
            details: `The result contains ${result.count} rows`
          })))
        }
        if (result.count === 0 && built.version !== undefined) {
          const current = yield* sql<{ version: string }>`SELECT version FROM public.${sql.unsafe(ident(table))} ${whereOf(sql, built.filters, kinds)} LIMIT 2`
          if (current.length > 0) {
            return yield* Effect.fail(new Refused(pgrstError(412, "PGRST412", `the row changed: you sent version ${built.version}`, {
              details: current.length === 1 ? `current version ${current[0]!.version}` : "several rows match the filters",
              hint: "re-read the row and apply your edit to its current version"
            })))
          }
        }
        return result
      }))
      return respond(method, table, prefer, singleObject, result)
    }).pipe(
      Effect.catchTag("Unauthorized", (e) => Effect.succeed(problemResponse(e))),
      Effect.catch((e) => e instanceof Refused ? Effect.succeed(e.response) : writeErrorResponse(e))
    )

  for (const method of ["POST", "PATCH", "DELETE"] as const) {
    yield* router.add(method, "/rest/v1/:table", (request) => handle(method, request))
  }
})

/** A write that ran: its row count and either the JSON representation or the returned keys. */
interface Written {
  readonly count: number
  /** PostgreSQL's `json_agg` of the returned rows (`Prefer: return=representation` or a single object). */
  readonly body: string | undefined
  readonly rows: ReadonlyArray<Record<string, unknown>>
}

/** PostgREST's answer to a write that ran. */
const respond = (method: Method, table: string, prefer: Prefer, singleObject: boolean, { body, count, rows }: Written) => {
  const headers: Record<string, string> = {}
  if (prefer.count) headers["content-range"] = count === 0 ? "*/0" : body !== undefined ? `0-${count - 1}/${count}` : `*/${count}`
  const created = method === "POST"
  if (created && prefer.return === "headers-only" && rows.length === 1) {
    const row = rows[0]!
    headers["location"] = `/${table}?${primaryKeyOf(table).map((key) => `${key}=eq.${encodeURIComponent(String(row[key]))}`).join("&")}`
  }
  if (body === undefined) return HttpServerResponse.empty({ status: created ? 201 : 204, headers })
  // `json_agg` of one row is `[<row>]`.
  const single = count === 1 ? body.slice(1, -1) : undefined
  const version = single === undefined ? undefined : (JSON.parse(single) as Readonly<Record<string, unknown>>)["version"]
  if (typeof version === "number") headers["etag"] = `"${version}"`
  const status = created ? 201 : 200
  return singleObject
    ? HttpServerResponse.text(single ?? "", { status, headers, contentType: singleObjectMediaType })
    : HttpServerResponse.text(body, { status, headers, contentType: "application/json" })
}
