/**
 * A database outage answers 503 + Retry-After on every endpoint that needs the database, never 500, and the
 * service recovers when the database is back. Runs against its own PostgreSQL 15 cluster (port 25448 or
 * COGO_OUTAGE_PGPORT), which the test stops mid-test; skipped where PostgreSQL 15 is not installed.
 */
import { afterAll, assert, describe, layer } from "@effect/vitest"
import { vi } from "vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { existsSync, rmSync } from "node:fs"
import { baseUrl, EdgeServerLive, userToken } from "../edge/server.ts"

const bin = "/usr/lib/postgresql/15/bin"
const available = existsSync(`${bin}/pg_ctl`) && process.getuid?.() === 0
const port = process.env["COGO_OUTAGE_PGPORT"] ?? "25448"
const dataDir = `/tmp/pg-inputs-outage-${port}`
const pgCtl = (...args: ReadonlyArray<string>) =>
  execFileSync("runuser", ["-u", "postgres", "--", `${bin}/pg_ctl`, "-D", dataDir, ...args], { stdio: "ignore" })
const startCluster = () => execFileSync("bash", [".ci/start-postgres.sh", dataDir], { env: { ...process.env, PGPORT: port }, stdio: "ignore" })

if (available) {
  rmSync(dataDir, { recursive: true, force: true })
  startCluster()
}

const alice = "a11ce000-0000-4000-8000-000000000001"
const someUuid = "0f0f0f0f-0000-4000-8000-000000000001"

/** Endpoints whose every answer needs the database, with a request that is otherwise valid. */
const needsDatabase: ReadonlyArray<{ readonly method: "GET" | "POST"; readonly path: string; readonly body?: string }> = [
  { method: "GET", path: "/rest/v1/pages?select=id" },
  { method: "GET", path: "/rest/v1/projects" },
  { method: "POST", path: "/functions/v1/embed", body: `{"documents":[{"sourceType":"doc","sourceId":"a","text":"hello"}]}` },
  { method: "POST", path: "/functions/v1/chat", body: `{"id":"c1","projectId":"${someUuid}","messages":[{"id":"m","role":"user","parts":[{"type":"text","text":"hi"}]}]}` },
  { method: "GET", path: `/functions/v1/realtime/jobs/${someUuid}` },
  { method: "GET", path: `/functions/v1/realtime/projects/${someUuid}` }
]

describe.skipIf(!available)("outage: PostgreSQL stopped mid-test", () => {
  afterAll(() => {
    pgCtl("-m", "immediate", "stop")
    rmSync(dataDir, { recursive: true, force: true })
  })

  layer(EdgeServerLive({ DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres`, DATABASE_POOL_MAX: "4", LOG_LEVEL: "Error" }), { excludeTestServices: true })(
    "service on its own cluster",
    (it) => {
      it.effect("503 + Retry-After (PostgREST shape on /rest/v1) while down, 2xx again once back", () =>
        Effect.gen(function*() {
          const url = yield* baseUrl
          const token = yield* Effect.promise(() => userToken(alice))
          const send = (endpoint: (typeof needsDatabase)[number]) =>
            fetch(`${url}${endpoint.path}`, {
              method: endpoint.method,
              headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
              ...(endpoint.body === undefined ? {} : { body: endpoint.body }),
              signal: AbortSignal.timeout(20_000)
            })

          const before = yield* Effect.promise(() => send(needsDatabase[0]!))
          assert.strictEqual(before.status, 200)

          pgCtl("-m", "immediate", "stop")
          const logged = vi.spyOn(console, "log")
          for (const endpoint of needsDatabase) {
            const response = yield* Effect.promise(() => send(endpoint))
            const body = yield* Effect.promise(() => response.json() as Promise<Record<string, unknown>>)
            assert.strictEqual(response.status, 503, `${endpoint.method} ${endpoint.path}: ${JSON.stringify(body)}`)
            assert.strictEqual(response.headers.get("retry-after"), "5", endpoint.path)
            assert.strictEqual(response.headers.get("content-type"), "application/problem+json")
            if (endpoint.path.startsWith("/rest/v1/")) {
              assert.strictEqual(body["code"], "PGRST001")
              assert.isTrue("message" in body && "details" in body && "hint" in body)
            }
          }

          // One error line per 5xx, written in the request's span (so it carries the trace id).
          const errorLines = logged.mock.calls
            .map(([line]) => typeof line === "string" && line.startsWith("{") ? JSON.parse(line) as { message: string; level: string; traceId?: string } : undefined)
            .filter((line) => line !== undefined && line.level === "ERROR" && / answered 503$/.test(line.message))
          logged.mockRestore()
          assert.strictEqual(errorLines.length, needsDatabase.length, JSON.stringify(errorLines.map((l) => l?.message)))
          assert.isTrue(errorLines.every((line) => /^[0-9a-f]{32}$/.test(line?.traceId ?? "")))

          startCluster()
          const after = yield* Effect.promise(() => send(needsDatabase[0]!))
          assert.strictEqual(after.status, 200)
        }), 120_000)
    }
  )
})
