/**
 * The database for the configured backend: an `@effect/sql-pg` pool against `DATABASE_URL`, or, without it,
 * embedded PGlite (+ pgvector) in a worker thread reached through the same driver's `stream` option; then the
 * `Database` service over it and the migrations applied.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option } from "effect"
import { AppConfig } from "../services/platform/AppConfig.ts"
import { Database } from "../services/platform/Database.ts"
import { EmbeddedPostgres } from "../services/platform/EmbeddedPostgres.ts"
import { Migrations } from "../services/platform/Migrations.ts"

/** The `PgClient`/`SqlClient` layer for the configured backend. */
export const DatabaseClientLive = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* AppConfig
    const common = {
      maxConnections: config.databasePoolMax,
      applicationName: "cogo",
      transformJson: false
    }
    if (Option.isSome(config.databaseUrl)) {
      return PgClient.layer({ ...common, url: config.databaseUrl.value })
    }
    return Layer.unwrap(Effect.map(Effect.service(EmbeddedPostgres), (embedded) =>
      PgClient.layer({
        ...common,
        // Statement names are per backend and PGlite is one backend shared by every pooled connection.
        prepare: false,
        ssl: false,
        username: "postgres",
        database: "postgres",
        stream: embedded.connect
      }))).pipe(Layer.provide(EmbeddedPostgres.layer(config.dataDir)))
  })
)

/** Database client, the Database service, and migrations applied (when `COGO_MIGRATE_ON_START`). */
export const DatabaseLive = Layer.unwrap(Effect.map(Effect.service(AppConfig), (config) =>
  Migrations.layer({ run: config.migrateOnStart }).pipe(
    Layer.provideMerge(Database.layer),
    Layer.provideMerge(DatabaseClientLive)
  )))
