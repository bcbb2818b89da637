/**
 * Database pool use. `@effect/sql-pg` does not expose its pool's statistics, so the connections are counted
 * where Postgres sees them: `pg_stat_activity` rows of this database whose `application_name` is `cogo`
 * (what `Database.clientLayer` sets), by state, sampled every `DB_METRICS_INTERVAL`. On a shared database
 * the count covers every replica; compare it with `db_pool_max_connections` x replicas. The embedded
 * backend (PGlite) is one backend and reports itself only.
 */
import { Config, Duration, Effect, Layer, Metric, Schedule } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { AppConfig } from "../platform/AppConfig.ts"

export const dbConnections = Metric.gauge("db_connections", {
  description: "Connections of the cogo application to this database, by state (active, idle, idle in transaction, ...), sampled from pg_stat_activity"
})
export const dbPoolMax = Metric.gauge("db_pool_max_connections", { description: "Configured pool size per process (DATABASE_POOL_MAX)" })

export const DatabaseMetricsLive = Layer.effectDiscard(
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const config = yield* AppConfig
    const interval = yield* Config.Duration("DB_METRICS_INTERVAL").pipe(Config.withDefault(Duration.seconds(15)))
    yield* Metric.update(dbPoolMax, config.databasePoolMax)
    const seen = new Set<string>()
    const sample = Effect.gen(function*() {
      const rows = yield* sql<{ state: string | null; connections: string }>`
        SELECT coalesce(state, 'unknown') AS state, count(*) AS connections
        FROM pg_stat_activity
        WHERE datname = current_database() AND application_name = 'cogo'
        GROUP BY 1`
      const current = new Map(rows.map((r) => [r.state ?? "unknown", Number(r.connections)]))
      // States seen before but absent now drop to 0 rather than keeping a stale value.
      for (const state of current.keys()) seen.add(state)
      if (seen.size === 0) seen.add("active")
      yield* Effect.forEach(seen, (state) =>
        Metric.update(Metric.withAttributes(dbConnections, { state }), current.get(state) ?? 0), { discard: true })
    })
    yield* sample.pipe(
      Effect.catchCause((cause) => Effect.logDebug("database connection sample failed", cause)),
      Effect.repeat(Schedule.spaced(interval)),
      Effect.withTracerEnabled(false),
      Effect.forkScoped
    )
  })
)
