/**
 * A subset of PostgREST at `GET /rest/v1/<table>` over `public.*` (writes: writes.ts), run as the caller under RLS
 * (role `authenticated` + `request.jwt.claims`, like PostgREST itself), so `@supabase/supabase-js`
 * `.from(table).select(...)` works against the service (the embedded backend becomes a local Supabase
 * stand-in for the IDE's reads).
 *
 * Supported: `select=a,b` / `*`, filters `col=eq|neq|gt|gte|lt|lte.value`, `col=in.(a,b)`,
 * `col=is.null|true|false`, `order=a.asc,b.desc.nullslast`, `limit`, `offset`, and a single object with
 * `Accept: application/vnd.pgrst.object+json` (406 unless exactly one row). Only tables and columns of the
 * public schema are accepted (names are checked against the catalogue, values against the column type), so
 * a bad query is a 400. A value PostgreSQL still refuses (an impossible date such as 2020-02-30) is a 400 with
 * its SQLSTATE as `code`, and a database outage a 503 (`failureResponse`, src/edge/http/ProblemJson.ts).
 * The body is built by PostgreSQL (`json_agg`, PostgREST's own shape) and written as is (issue 16).
 */
import { Effect } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { SqlClient } from "effect/sql/SqlClient"
import { Auth, type Principal } from "../../services/auth/Auth.ts"
import { Conflicts } from "../../services/authoring/Conflicts.ts"
import { Database, DbRole, userClaimsSetting } from "../../services/platform/Database.ts"
import { problemResponse } from "../../services/platform/problemResponse.ts"
import { pgrstError } from "../http/ProblemJson.ts"
import { parseReadQuery, QueryError, type ReadQuery } from "./query.ts"
import { ident, jsonProjectionOf, jsonValuesOf, loadCatalogue, singleObjectMediaType, whereOf } from "./sql.ts"
import { addRpcRoutes } from "./rpc.ts"
import { addWriteRoutes } from "./writes.ts"

/** `GET /rest/v1/:table`, and the writes of writes.ts. */
export const PostgrestLive = HttpRouter.use(Effect.fn(function*(router) {
  const sql = yield* SqlClient
  const auth = yield* Auth

  const catalogue = yield* loadCatalogue(sql)

  /**
   * The rows of a read as PostgreSQL's own JSON (one text value, PostgREST's `json_agg` shape, written to the
   * response as is: no row decoding nor re-encoding here) and their count. One round trip: `cogo.rest_read`
   * (migration 0025) switches to the caller's role and claims and then runs the read, with the request's values
   * passed apart from the statement text.
   */
  const run = (principal: Principal, query: ReadQuery) => {
    const { values, bind } = jsonValuesOf(sql)
    const orderBy = query.order.length === 0 ? "" : `ORDER BY ${
      query.order.map((o) => `${ident(o.column)} ${o.descending ? "DESC" : "ASC"}${o.nulls === undefined ? "" : ` NULLS ${o.nulls.toUpperCase()}`}`).join(", ")
    }`
    const kinds = catalogue.get(query.table)!
    const [read] = sql`SELECT count(*)::int AS count, coalesce(json_agg(_r), '[]')::text AS body
      FROM (SELECT ${sql.unsafe(jsonProjectionOf(kinds, query.columns))} FROM public.${sql.unsafe(ident(query.table))}
        ${whereOf(sql, query.filters, kinds, bind)} ${sql.unsafe(orderBy)}
        ${query.limit === undefined ? sql`` : sql`LIMIT ${bind(query.limit, "bigint")}`} ${query.offset === undefined ? sql`` : sql`OFFSET ${bind(query.offset, "bigint")}`}) _r`
      .compile()
    const [role, claims] = principal.role === "service_role"
      ? [DbRole.service, null]
      : [DbRole.authenticated, userClaimsSetting(principal.claims)]
    return Effect.map(
      sql<{ readonly count: number; readonly body: string }>`SELECT count, body FROM cogo.rest_read(${role}, ${claims}, ${read}, ${JSON.stringify(values)}::jsonb)`,
      ([result]) => result ?? { count: 0, body: "[]" }
    )
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
      const { body, count } = yield* run(principal, parsed)
      const single = (request.headers["accept"] ?? "").includes(singleObjectMediaType)
      if (single) {
        if (count !== 1) {
          return pgrstError(406, "PGRST116", "JSON object requested, multiple (or no) rows returned", { details: `The result contains ${count} rows` })
        }
        // `json_agg` of one row is `[<row>]`.
        return HttpServerResponse.text(body.slice(1, -1), { contentType: singleObjectMediaType })
      }
      const start = parsed.offset ?? 0
      return HttpServerResponse.text(body, {
        contentType: "application/json",
        headers: { "content-range": count === 0 ? "*/*" : `${start}-${start + count - 1}/*` }
      })
    }).pipe(
      Effect.catchTag("Unauthorized", (e) => Effect.succeed(problemResponse(e))),
      Effect.catchTag("SqlError", (e) => Effect.die(e))
    ))

  yield* addWriteRoutes(router, { sql, db: yield* Database, auth, catalogue })
  yield* addRpcRoutes(router, auth, yield* Conflicts)
}))
