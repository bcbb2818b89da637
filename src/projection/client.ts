/**
 * The database client projection batches run on, and the projector role they run under.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Effect, Option } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import { AppConfig } from "../services/platform/AppConfig.ts"
import { DbRole, inRoleTransaction } from "../services/platform/Database.ts"

/** Connections reserved for projection batches (PostgreSQL only; 0: share the service's pool). */
export const projectionConnections = Config.Int("PROJECTION_CONNECTIONS").pipe(Config.withDefault(4))

/**
 * On PostgreSQL a small pool of its own, so writers queueing for the service's pool never delay projection
 * (commit-to-visible latency under write load); on the embedded backend (one backend anyway) or with
 * PROJECTION_CONNECTIONS=0, the service's pool.
 */
export const projectionClient = Effect.gen(function*() {
  const shared = yield* PgClient.PgClient
  const { databaseUrl } = yield* AppConfig
  const connections = yield* projectionConnections
  if (Option.isNone(databaseUrl) || connections <= 0) return shared
  return yield* PgClient.make({ url: databaseUrl.value, maxConnections: connections, applicationName: "cogo-projection", transformJson: false }).pipe(
    Effect.provide(Reactivity.layer)
  )
})

/** `Database.withRole(DbRole.projector, …)` on the projection's own client (its statements must run in this transaction). */
export const asProjector = <A, E, R>(sql: PgClient.PgClient, effect: Effect.Effect<A, E, R>) => inRoleTransaction(sql, DbRole.projector, effect)
