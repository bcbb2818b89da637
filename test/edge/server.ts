/**
 * The real service stack (`MainLive` from src/layers/Main.ts) on an ephemeral port, against a fresh test
 * database (PGlite in memory, or a clone of the migrated template with TEST_DATABASE_URL), plus helpers to
 * mint Supabase-style JWTs with `jose`.
 */
import { ConfigProvider, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import * as jose from "jose"
import { SqlClient } from "effect/sql/SqlClient"
import { MainLive } from "../../src/layers/Main.ts"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { Realtime } from "../../src/services/realtime/Realtime.ts"
import { eventually } from "../support/eventually.ts"
import { testDatabaseEnv } from "../support/TestDatabase.ts"

export const jwtSecret = "test-only-jwt-secret-with-at-least-32-characters"
export const serviceRoleKey = "test-only-service-role-key"

export const edgeEnv = (env: Record<string, string> = {}) => ({
  HOST: "127.0.0.1",
  PORT: "0",
  METRICS_PORT: "0",
  LOG_LEVEL: "Warn",
  SUPABASE_JWT_SECRET: jwtSecret,
  SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
  COGO_AUTH_MODE: "prod",
  // Short heartbeats: a server notices a vanished SSE client at its next write, and the server's shutdown
  // waits for open streams.
  COGO_SSE_HEARTBEAT: "1 second",
  FIGMA_PLUGIN_SECRET: "test-only-figma-plugin-secret",
  ...env
})

/** MainLive with configuration from `env` only (never the machine's). */
export const EdgeServerLive = (env: Record<string, string> = {}) =>
  Layer.unwrap(Effect.map(testDatabaseEnv(edgeEnv(env)), (fullEnv) =>
    MainLive.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(fullEnv))))))

/** `http://127.0.0.1:<port>` of the running API server. */
export const baseUrl = Effect.map(Effect.service(HttpServer.HttpServer), (server) => {
  const address = server.address
  if (address._tag === "UnixPathAddress") throw new Error("expected a TCP address")
  return `http://127.0.0.1:${address.port}`
})

export const signToken = (claims: Record<string, unknown>, options: { readonly secret?: string; readonly expiresIn?: string | number; readonly alg?: string } = {}) =>
  new jose.SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? "1h")
    .sign(new TextEncoder().encode(options.secret ?? jwtSecret))

export const userToken = (sub: string, extra: Record<string, unknown> = {}) =>
  signToken({ sub, role: "authenticated", aud: "authenticated", ...extra })

export const anonKey = () => signToken({ role: "anon", iss: "supabase" }, { expiresIn: "10y" })

/** A new project owned by `owner`, written as the projector (the only writer of public.*). */
export const newProject = (owner: string, name: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const db = yield* Database
    const [project] = yield* db.withRole(DbRole.projector, sql<{ id: string }>`
      INSERT INTO public.projects (name, owner_id) VALUES (${name}, ${owner}) RETURNING id`)
    return project!.id
  })

/** A new project of `owner`'s and the URL of its realtime stream on the shared server. */
export const projectStream = (owner: string, name: string) =>
  Effect.gen(function*() {
    const url = yield* baseUrl
    const projectId = yield* newProject(owner, name)
    return { projectId, streamUrl: `${url}/functions/v1/realtime/projects/${projectId}` }
  })

/** Waits until the realtime hub of the shared server holds exactly `n` streams. */
export const subscribersAre = (n: number) =>
  eventually(`${n} subscribers`, Effect.map(Effect.service(Realtime), (realtime) => realtime.subscriberCount() === n))
