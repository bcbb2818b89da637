/**
 * Replicas of the real service (`src/main.ts` child processes) on one fresh database of the test PostgreSQL
 * (TEST_DATABASE_URL), for the scale-out tests.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { adminQuery, testDatabaseUrl, withDatabase } from "../support/TestDatabase.ts"
import { startService, type ServiceProcess } from "../support/ServiceProcess.ts"
import { jwtSecret, serviceRoleKey } from "../edge/server.ts"

let counter = 0

/** A new empty database on the test server; the first replica migrates it. */
export const freshDatabase = async (): Promise<string> => {
  const url = testDatabaseUrl()
  if (url === undefined) throw new Error("TEST_DATABASE_URL is not set")
  const name = `cogo_scaleout_${process.pid}_${counter++}`
  await Effect.runPromise(adminQuery(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  await Effect.runPromise(adminQuery(url, `CREATE DATABASE ${name}`))
  return withDatabase(url, name)
}

export const dropDatabase = async (databaseUrl: string) => {
  const url = testDatabaseUrl()
  const name = new URL(databaseUrl).pathname.slice(1)
  if (url !== undefined) await Effect.runPromise(adminQuery(url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
}

export const replicaEnv = (databaseUrl: string | undefined, replicaId: string, env: Record<string, string> = {}) => ({
  ...(databaseUrl === undefined ? { COGO_DATA_DIR: ":memory:" } : { DATABASE_URL: databaseUrl }),
  DATABASE_POOL_MAX: "4",
  COGO_REPLICA_ID: replicaId,
  COGO_LEADER_POLL: "250 millis",
  COGO_AUTH_MODE: "prod",
  SUPABASE_JWT_SECRET: jwtSecret,
  SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
  LOG_LEVEL: "Info",
  ...env
})

export const startReplica = (databaseUrl: string | undefined, replicaId: string, env: Record<string, string> = {}) =>
  startService(replicaEnv(databaseUrl, replicaId, env))

export interface Health {
  readonly status: number
  readonly body: {
    readonly type?: string
    readonly replica?: { readonly id: string; readonly isLeader: boolean; readonly leader: string | null }
  }
}

export const health = async (replica: ServiceProcess): Promise<Health> => {
  const response = await fetch(`${replica.baseUrl}/health`, { signal: AbortSignal.timeout(5_000) })
  return { status: response.status, body: await response.json() as Health["body"] }
}

/** Polls `check` every 50 ms until it holds; returns the milliseconds it took, or throws after `timeoutMs`. */
export const waitUntil = async (check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<number> => {
  const started = performance.now()
  while (performance.now() - started < timeoutMs) {
    if (await check().catch(() => false)) return performance.now() - started
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

export const stopReplica = async (replica: ServiceProcess, signal: NodeJS.Signals = "SIGKILL") => {
  if (replica.child.exitCode !== null || replica.child.signalCode !== null) return replica.exited
  replica.child.kill(signal)
  return replica.exited
}

/** One statement on `databaseUrl`, on a connection of its own. */
export const query = <A extends object>(databaseUrl: string, text: string) =>
  Effect.runPromise(Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    return yield* sql.unsafe<A>(text)
  }).pipe(Effect.scoped, Effect.provide(PgClient.layer({ url: Redacted.make(databaseUrl), maxConnections: 1 }))))
