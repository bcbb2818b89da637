/**
 * The database side of the benches that run on both backends: the platform layers of a bench database, and
 * the loop that runs a bench on embedded PGlite (in memory) and on PostgreSQL (a fresh database on
 * BENCH_DATABASE_URL, dropped afterwards).
 */
import { ConfigProvider, Effect, Layer } from "effect"
import { DatabaseClientLive } from "../src/layers/DatabaseLive.ts"
import { AppConfig } from "../src/services/platform/AppConfig.ts"
import { Database } from "../src/services/platform/Database.ts"
import { EventBus } from "../src/services/platform/EventBus.ts"
import { Migrations } from "../src/services/platform/Migrations.ts"
import { Notifications } from "../src/services/platform/Notifications.ts"
import { adminQuery, withDatabase } from "../test/support/TestDatabase.ts"

export type Backend = "postgres" | "embedded"

/** Database, migrations and the platform services of a bench database: `env` is DATABASE_URL (+ pool size) or COGO_DATA_DIR. */
export const platform = (env: Record<string, string>) =>
  EventBus.layer.pipe(
    Layer.provideMerge(Notifications.layer),
    Layer.provideMerge(Migrations.layer({ run: true })),
    Layer.provideMerge(Database.layer),
    Layer.provideMerge(DatabaseClientLive),
    Layer.provideMerge(AppConfig.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ LOG_LEVEL: "Warn", ...env })))))
  )

const admin = (url: string, statement: string) => Effect.runPromise(adminQuery(url, statement))

/** Runs `bench` on each backend in turn (PostgreSQL in `cogo_bench_<name>_<pid>`) and returns all its rows. */
export const perBackend = async <Row, E>(
  name: string,
  backends: ReadonlyArray<Backend>,
  bench: (backend: Backend, env: Record<string, string>) => Effect.Effect<ReadonlyArray<Row>, E>
): Promise<Array<Row>> => {
  const rows: Array<Row> = []
  for (const backend of backends) {
    if (backend === "embedded") {
      rows.push(...await Effect.runPromise(bench("embedded", { COGO_DATA_DIR: ":memory:" })))
      continue
    }
    const server = process.env["BENCH_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:55432/postgres"
    const database = `cogo_bench_${name}_${process.pid}`
    await admin(server, `CREATE DATABASE ${database}`)
    try {
      rows.push(...await Effect.runPromise(bench("postgres", { DATABASE_URL: withDatabase(server, database), DATABASE_POOL_MAX: "16" })))
    } finally {
      await admin(server, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    }
  }
  return rows
}
