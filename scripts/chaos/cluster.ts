/**
 * The parts the chaos harness runs and breaks: its own PostgreSQL 15 cluster (.ci/start-postgres.sh, stopped
 * with `pg_ctl -m immediate`, i.e. a crash) and replicas of the real service (`src/main.ts` child processes
 * in production auth mode) on that cluster.
 */
import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { existsSync, mkdirSync, rmSync } from "node:fs"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { startService, type ServiceProcess } from "../../test/support/ServiceProcess.ts"

export const pgBin = "/usr/lib/postgresql/15/bin"
export const postgresAvailable = () => existsSync(`${pgBin}/pg_ctl`) && process.getuid?.() === 0

export const jwtSecret = "chaos-only-jwt-secret-with-at-least-32-characters"
export const pluginSecret = "chaos-only-figma-plugin-secret"

export interface Postgres {
  readonly url: string
  readonly start: () => Promise<void>
  /** An immediate (crash) stop. */
  readonly stop: () => Promise<void>
  readonly remove: () => Promise<void>
}

const run = promisify(execFile)

/**
 * Like .ci/start-postgres.sh, but durable: a crash-stop must not lose acknowledged commits, so fsync,
 * synchronous_commit and full_page_writes stay on (the CI script turns them off for speed; with them off
 * an immediate stop drops the last commits and the checks would blame the service for it).
 */
export const postgres = (port: number): Postgres => {
  const dataDir = `/tmp/pg-chaos-${port}`
  const asPostgres = (tool: string, args: ReadonlyArray<string>) => run("runuser", ["-u", "postgres", "--", `${pgBin}/${tool}`, ...args])
  const stop = () =>
    asPostgres("pg_ctl", ["-D", dataDir, "-m", "immediate", "stop"]).then(
      () => undefined,
      () => undefined // not running
    )
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: async () => {
      if (!existsSync(`${dataDir}/PG_VERSION`)) {
        mkdirSync(dataDir, { recursive: true })
        await run("chown", ["postgres:postgres", dataDir])
        await asPostgres("initdb", ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
      }
      // The port may be held for up to a minute (TIME-WAIT of another process's ephemeral port): try again.
      for (let attempt = 1; ; attempt++) {
        const started = await asPostgres("pg_ctl", ["-D", dataDir, "-l", `${dataDir}/server.log`, "-w", "start", "-o",
          `-p ${port} -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=128MB`]).then(() => true, (error: unknown) => {
          if (attempt >= 120) throw error
          return false
        })
        if (started) return
        await new Promise((resolve) => setTimeout(resolve, 500))
      }
    },
    stop,
    remove: async () => {
      await stop()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

/** One statement on its own connection. */
export const query = <A extends object>(url: string, text: string) =>
  Effect.runPromise(Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    return yield* sql.unsafe<A>(text)
  }).pipe(Effect.scoped, Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 }))))

export const startReplica = (databaseUrl: string, id: string, env: Record<string, string> = {}) =>
  startService({
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_MAX: "4",
    PROJECTION_CONNECTIONS: "2",
    COGO_REPLICA_ID: id,
    COGO_AUTH_MODE: "prod",
    SUPABASE_JWT_SECRET: jwtSecret,
    SUPABASE_SERVICE_ROLE_KEY: "chaos-only-service-role-key",
    FIGMA_PLUGIN_SECRET: pluginSecret,
    COGO_LEADER_POLL: "250 millis",
    COGO_SSE_HEARTBEAT: "1 second",
    COGO_DRAIN_NOTICE: "500 millis",
    JOBS_POLL_INTERVAL: "200 millis",
    JOBS_LEASE: "5 seconds",
    JOBS_RESCUE_INTERVAL: "500 millis",
    PROJECTION_POLL_MS: "200",
    LOG_LEVEL: "Warn",
    ...env
  }, 120_000)

export const stopReplica = async (replica: ServiceProcess, signal: NodeJS.Signals) => {
  if (replica.child.exitCode !== null || replica.child.signalCode !== null) return replica.exited
  replica.child.kill(signal)
  return replica.exited
}
