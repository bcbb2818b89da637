/**
 * Databases for tests. With TEST_DATABASE_URL (CI: a real PostgreSQL 15 + pgvector), every call makes a
 * fresh database from a migrated template; without it, an in-memory embedded PGlite (the default backend),
 * migrated by the same code the service runs. Both give the service's own layers, not doubles.
 */
import { PgClient } from "@effect/sql-pg"
import { ConfigProvider, Effect, Layer, Redacted } from "effect"
import { AppConfig } from "../../src/services/platform/AppConfig.ts"
import { Database } from "../../src/services/platform/Database.ts"
import { Migrations } from "../../src/services/platform/Migrations.ts"
import { DatabaseClientLive } from "../../src/layers/DatabaseLive.ts"

export const templateDatabase = "cogo_test_template"

export const testDatabaseUrl = (): string | undefined => {
  const url = process.env["TEST_DATABASE_URL"]
  return url === undefined || url === "" ? undefined : url
}

/** True when tests run against a real Postgres (several connections, SKIP LOCKED, cross-process). */
export const hasRealPostgres = testDatabaseUrl() !== undefined

/** The same server URL pointing at another database. */
export const withDatabase = (url: string, database: string): string => {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

/** Runs one statement on the server's maintenance database (CREATE/DROP DATABASE). */
export const adminQuery = (url: string, statement: string) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    yield* sql.unsafe(statement)
  }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })))

/** Creates the template database and migrates it (once per run, from global setup). */
export const migrateTemplate = (url: string) =>
  Effect.gen(function*() {
    yield* adminQuery(url, `DROP DATABASE IF EXISTS ${templateDatabase} WITH (FORCE)`)
    yield* adminQuery(url, `CREATE DATABASE ${templateDatabase}`)
    yield* Effect.scoped(Layer.build(
      Migrations.layer({ run: true }).pipe(
        Layer.provide(DatabaseClientLive),
        Layer.provide(configLayer({ DATABASE_URL: withDatabase(url, templateDatabase), DATABASE_POOL_MAX: "2" }))
      )
    ))
  })

/** AppConfig from an explicit environment (tests never read the machine's). */
export const configLayer = (env: Record<string, string>) =>
  AppConfig.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env))))

let counter = 0

/**
 * A fresh migrated database for one test file (or one test), dropped when the layer's scope closes.
 * Provides AppConfig, PgClient/SqlClient, Database and Migrations. `env` adds configuration.
 */
export const testDatabaseEnv = (env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const url = testDatabaseUrl()
    if (url === undefined) return { COGO_DATA_DIR: ":memory:", ...env }
    const name = `cogo_test_${process.pid}_${Date.now().toString(36)}_${counter++}`
    yield* Effect.acquireRelease(
      adminQuery(url, `CREATE DATABASE ${name} TEMPLATE ${templateDatabase}`),
      () => adminQuery(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).pipe(Effect.ignore)
    )
    return { DATABASE_URL: withDatabase(url, name), DATABASE_POOL_MAX: "8", ...env }
  })

export const TestDatabaseLive = (env: Record<string, string> = {}) =>
  Layer.unwrap(Effect.map(testDatabaseEnv(env), (fullEnv) =>
    Migrations.layer({ run: true }).pipe(
      Layer.provideMerge(Database.layer),
      Layer.provideMerge(DatabaseClientLive),
      Layer.provideMerge(configLayer(fullEnv))
    )))
