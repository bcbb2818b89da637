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
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
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
   * A read compiled for `cogo.rest_read` (migration 0025): the statement text (request values are referenced
   * as `($1->>n)::<type>`, never inlined), its values as one JSON array, and the first row's offset.
   */
  interface CompiledRead {
    readonly text: string
    readonly values: string
    readonly offset: number
  }
  const compile = (query: ReadQuery): CompiledRead => {
    const { values, bind } = jsonValuesOf(sql)
    const orderBy = query.order.length === 0 ? "" : `ORDER BY ${
      query.order.map((o) => `${ident(o.column)} ${o.descending ? "DESC" : "ASC"}${o.nulls === undefined ? "" : ` NULLS ${o.nulls.toUpperCase()}`}`).join(", ")
    }`
    const kinds = catalogue.get(query.table)!
    const [text] = sql`SELECT count(*)::int AS count, coalesce(json_agg(_r), '[]')::text AS body
      FROM (SELECT ${sql.unsafe(jsonProjectionOf(kinds, query.columns))} FROM public.${sql.unsafe(ident(query.table))}
        ${whereOf(sql, query.filters, kinds, bind)} ${sql.unsafe(orderBy)}
        ${query.limit === undefined ? sql`` : sql`LIMIT ${bind(query.limit, "bigint")}`} ${query.offset === undefined ? sql`` : sql`OFFSET ${bind(query.offset, "bigint")}`}) _r`
      .compile()
    return { text, values: JSON.stringify(values), offset: query.offset ?? 0 }
  }

  // Reads compiled per request target (path and query string; at most 1,000 of at most 2 KB, oldest dropped first). The
  // catalogue is fixed for the life of the process, so a target always compiles to the same statement, and
  // a client repeats its reads: a hit skips parsing, validation and SQL building (issue 16).
  const compiledReads = new Map<string, CompiledRead>()
  const compiledRead = (target: string, table: string): CompiledRead | QueryError => {
    const cached = compiledReads.get(target)
    if (cached !== undefined) return cached
    const queryStart = target.indexOf("?")
    const parsed = parseReadQuery(catalogue, table, new URLSearchParams(queryStart < 0 ? "" : target.slice(queryStart + 1)))
    if (parsed instanceof QueryError) return parsed
    const read = compile(parsed)
    // Long targets are compiled but not kept: the cache stays a few MB however its keys are chosen.
    if (target.length > 2_048) return read
    if (compiledReads.size >= 1_000) compiledReads.delete(compiledReads.keys().next().value!)
    compiledReads.set(target, read)
    return read
  }

  // `request.jwt.claims` per principal: Auth answers the same principal object for a cached token.
  const claimsSettings = new WeakMap<Principal, string>()
  const claimsOf = (principal: Principal): string => {
    const cached = claimsSettings.get(principal)
    if (cached !== undefined) return cached
    const claims = userClaimsSetting(principal.claims)
    claimsSettings.set(principal, claims)
    return claims
  }

  /**
   * The rows of a read as PostgreSQL's own JSON (one text value, PostgREST's `json_agg` shape, written to the
   * response as is: no row decoding nor re-encoding here) and their count. One round trip: `cogo.rest_read`
   * switches to the caller's role and claims and then runs the read.
   * The statement has no span of its own: it is the whole of the request's work and always the same text, so
   * the request's server span times it, with its database time (pool wait included) as `cogo.db.duration_ms`.
   * A span per read cost 10-20 µs of CPU per request (issue 16). A failure still fails the request, which
   * logs it in its span (EdgeMiddleware).
   */
  const run = (principal: Principal, read: CompiledRead) => {
    const started = performance.now()
    return sql.unsafe<{ readonly count: number; readonly body: string }>(
      "SELECT count, body FROM cogo.rest_read($1, $2, $3, $4::jsonb)",
      principal.role === "service_role"
        ? [DbRole.service, null, read.text, read.values]
        : [DbRole.authenticated, claimsOf(principal), read.text, read.values]
    ).pipe(
      Effect.withTracerEnabled(false),
      Effect.flatMap(([result]) =>
        Effect.as(Effect.annotateCurrentSpan("cogo.db.duration_ms", performance.now() - started), result ?? { count: 0, body: "[]" })
      )
    )
  }

  const respond = (request: HttpServerRequest.HttpServerRequest, principal: Principal, table: string) => {
    const read = compiledRead(request.url, table)
    if (read instanceof QueryError) {
      return Effect.succeed(
        read.parameter === "table"
          ? pgrstError(404, "PGRST205", read.message)
          : pgrstError(400, "PGRST100", `${read.parameter}: ${read.message}`)
      )
    }
    return Effect.map(run(principal, read), ({ body, count }) => {
      if ((request.headers["accept"] ?? "").includes(singleObjectMediaType)) {
        if (count !== 1) {
          return pgrstError(406, "PGRST116", "JSON object requested, multiple (or no) rows returned", { details: `The result contains ${count} rows` })
        }
        // `json_agg` of one row is `[<row>]`.
        return HttpServerResponse.text(body.slice(1, -1), { contentType: singleObjectMediaType })
      }
      return HttpServerResponse.text(body, {
        contentType: "application/json",
        headers: { "content-range": count === 0 ? "*/*" : `${read.offset}-${read.offset + count - 1}/*` }
      })
    })
  }

  yield* router.add("GET", "/rest/v1/:table", (request) =>
    auth.authenticate(request).pipe(
      Effect.flatMap((principal) => Effect.flatMap(HttpRouter.params, (params) => respond(request, principal, params["table"] ?? ""))),
      Effect.catchTag("Unauthorized", (e) => Effect.succeed(problemResponse(e))),
      Effect.catchTag("SqlError", (e) => Effect.die(e))
    ))

  yield* addWriteRoutes(router, { sql, db: yield* Database, auth, catalogue })
  yield* addRpcRoutes(router, auth, yield* Conflicts)
}))
