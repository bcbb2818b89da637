/**
 * One `SqlClient`/`PgClient` for the whole service, whichever backend runs:
 * - `DATABASE_URL` set: an `@effect/sql-pg` pool against that Postgres (local or Supabase);
 * - unset: embedded PGlite (+ pgvector) in a worker thread, reached through the same driver's `stream` option.
 *
 * Units of work run under a database role (`SET LOCAL ROLE` through `set_config(..., true)`), which is what
 * makes CQRS a database guarantee: agents cannot write `public.*`, only the projector can, and IDE reads run
 * as `authenticated` with the caller's JWT claims, exactly like PostgREST.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Option, Redacted, Schema } from "effect"
import type { SqlClient } from "effect/sql/SqlClient"
import { isSqlError, type SqlError } from "effect/sql/SqlError"
import { AppConfig, type Backend } from "./AppConfig.ts"

/** The database roles the service switches to per unit of work (created by migration 0001). */
export const DbRole = {
  /** Agents, ingress, orchestrator: writes `cogo.*`, reads `public.*`, cannot write `public.*`. */
  agent: "cogo_agent",
  /** The projection worker: the only service role that writes `public.*`. */
  projector: "cogo_projector",
  /** End users through the IDE read API, under RLS. */
  authenticated: "authenticated",
  anon: "anon",
  /** Supabase's service key principal: reads public.* (no write grant, see migration 0002). */
  service: "service_role"
} as const
export type DbRole = (typeof DbRole)[keyof typeof DbRole]

/**
 * Runs `effect` in a transaction of `sql` under `role` (`SET LOCAL ROLE` through `set_config(..., true)`).
 * `Database.withRole` is this on the service's pool; a component with its own client (the projection's
 * reserved connections) uses it directly.
 */
export const inRoleTransaction = <A, E, R>(sql: SqlClient, role: DbRole, effect: Effect.Effect<A, E, R>) =>
  sql.withTransaction(Effect.andThen(sql`SELECT set_config('role', ${role}, true)`, effect))

/** Claims of a verified caller, set as `request.jwt.claims` so `auth.uid()` and RLS policies see them. */
export interface JwtClaims {
  readonly sub: string
  readonly role?: string
  readonly [claim: string]: unknown
}

/** A user's `request.jwt.claims` setting: the JWT's claims with the database role, as PostgREST sets it. */
export const userClaimsSetting = (claims: JwtClaims): string => JSON.stringify({ role: DbRole.authenticated, ...claims })

export class NotInTransaction extends Schema.TaggedError<NotInTransaction>()("NotInTransaction", {
  operation: Schema.String
}) {}

export class Database extends Context.Service<Database, {
  readonly backend: Backend
  /** Human-readable target for logs and /health (no credentials). */
  readonly target: string
  /** Runs `effect` in a transaction under `role`. Must be the outermost transaction of the unit of work. */
  readonly withRole: <A, E, R>(role: DbRole, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
  /** Runs `effect` in a transaction as `authenticated` with the caller's claims (RLS applies). */
  readonly asUser: <A, E, R>(claims: JwtClaims, effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | SqlError, R>
  /** Fails with `NotInTransaction` unless called inside a transaction (guards outbox/job appends). */
  readonly requireTransaction: (operation: string) => Effect.Effect<void, NotInTransaction>
}>()("cogo/Database") {
  static readonly layer = Layer.effect(
    Database,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const sql = yield* PgClient.PgClient
      const backend = AppConfig.backendOf(config)
      const target = Option.match(config.databaseUrl, {
        onNone: () => `embedded PGlite at ${config.dataDir}`,
        onSome: (url) => describeUrl(Redacted.value(url))
      })

      const withRole = <A, E, R>(role: DbRole, effect: Effect.Effect<A, E, R>) => inRoleTransaction(sql, role, effect)

      const asUser = <A, E, R>(claims: JwtClaims, effect: Effect.Effect<A, E, R>) =>
        sql.withTransaction(
          Effect.andThen(
            sql`SELECT set_config('role', ${DbRole.authenticated}, true), set_config('request.jwt.claims', ${userClaimsSetting(claims)}, true)`,
            effect
          )
        )

      const requireTransaction = (operation: string) =>
        Effect.flatMap(Effect.serviceOption(sql.transactionService), (tx) =>
          Option.isSome(tx) ? Effect.void : Effect.fail(new NotInTransaction({ operation })))

      yield* Effect.logInfo(`database backend: ${target}${backend === "embedded" ? " (PGlite + pgvector in a worker thread)" : ""}`)
      return Database.of({ backend, target, withRole, asUser, requireTransaction })
    })
  )
}

const describeUrl = (raw: string): string => {
  try {
    const url = new URL(raw)
    return `postgres at ${url.hostname}:${url.port || "5432"}${url.pathname}`
  } catch {
    return "postgres (unparsable DATABASE_URL)"
  }
}

/**
 * What a database error means for the caller, decided in this one place:
 * - `Unavailable`: the database cannot be reached (connection refused or lost, server shutting down or
 *   starting, too many connections, connect/pool timeouts) -> 503 + `Retry-After`;
 * - `InvalidInput`: PostgreSQL refused a value the request carried (an impossible date, a malformed literal,
 *   text it cannot store, an operator that does not apply to the value's type...) -> 400;
 * - `Other`: a bug or an unexpected state -> 500.
 */
export type SqlErrorClass =
  | { readonly _tag: "Unavailable"; readonly message: string }
  | {
    readonly _tag: "InvalidInput"
    readonly code: string
    readonly message: string
    readonly details: string | null
    readonly hint: string | null
  }
  | { readonly _tag: "Other"; readonly message: string }

/** SQLSTATEs of an unreachable server: 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 53300 too_many_connections. */
const unavailableStates: ReadonlySet<string> = new Set(["57P01", "57P02", "57P03", "53300"])
/** Class 22 (data exception) plus undefined function/operator on a value (42883), datatype mismatch (42804), stack depth (54001). */
const invalidInputStates: ReadonlySet<string> = new Set(["42883", "42804", "54001"])
/** Socket errors of a connection attempt or of a connection that went away. */
const unavailableSocketCodes: ReadonlySet<string> = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND", "EAI_AGAIN"])

const field = (cause: unknown, name: string): string | null => {
  if (typeof cause !== "object" || cause === null) return null
  const value = (cause as Record<string, unknown>)[name]
  return typeof value === "string" ? value : null
}

/** The server or socket error under a SqlError (its reason's cause), searched a few `cause` links deep. */
const codeOf = (error: SqlError): { readonly code: string | null; readonly source: unknown } => {
  let node: unknown = error.reason.cause
  for (let depth = 0; depth < 4 && typeof node === "object" && node !== null; depth++) {
    const code = field(node, "code")
    if (code !== null) return { code, source: node }
    node = (node as { readonly cause?: unknown }).cause
  }
  return { code: null, source: error.reason.cause }
}

export const classifySqlError = (error: SqlError): SqlErrorClass => {
  const { code, source } = codeOf(error)
  const message = field(source, "message") ?? error.message
  if (
    error.reason._tag === "ConnectionError" || error.reason._tag === "AuthenticationError" ||
    (code !== null && (code.startsWith("08") || unavailableStates.has(code) || unavailableSocketCodes.has(code)))
  ) {
    return { _tag: "Unavailable", message }
  }
  if (code !== null && (code.startsWith("22") || invalidInputStates.has(code))) {
    return { _tag: "InvalidInput", code, message, details: field(source, "detail"), hint: field(source, "hint") }
  }
  return { _tag: "Other", message }
}

/** `classifySqlError` for any value (a defect, a wrapped failure): undefined when it is not a SqlError. */
export const classifyDatabaseFailure = (value: unknown): SqlErrorClass | undefined => isSqlError(value) ? classifySqlError(value) : undefined

/** The SQLSTATE and the server's message fields of a SqlError (undefined when it carries no SQLSTATE). */
export const sqlStateOf = (error: SqlError): { readonly code: string; readonly message: string; readonly details: string | null; readonly hint: string | null } | undefined => {
  const { code, source } = codeOf(error)
  return code === null ? undefined : { code, message: field(source, "message") ?? error.message, details: field(source, "detail"), hint: field(source, "hint") }
}
