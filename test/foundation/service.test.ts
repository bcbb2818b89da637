import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type ServiceProcess, spawnService, startService } from "../support/ServiceProcess.ts"
import { hasRealPostgres, testDatabaseEnv } from "../support/TestDatabase.ts"

describe("the service as a process (embedded backend, file-backed data dir)", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cogo-service-"))
  let service: ServiceProcess

  beforeAll(async () => {
    service = await startService({ COGO_DATA_DIR: dataDir })
  }, 90_000)
  afterAll(() => {
    service?.child.kill("SIGKILL")
    fs.rmSync(dataDir, { recursive: true, force: true })
  })

  it("serves /health with the backend and the migrations applied", async () => {
    const response = await fetch(`${service.baseUrl}/health`)
    expect(response.status).toBe(200)
    const body = await response.json() as { backend: string; migrations: { count: number }; version: string }
    expect(body.backend).toBe("embedded")
    expect(body.migrations.count).toBe(fs.readdirSync("migrations").filter((f) => f.endsWith(".sql")).length)
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/)
    expect(service.output()).toMatch(/database backend: embedded PGlite/)
  })

  it("publishes OpenAPI and answers unknown routes with problem+json", async () => {
    const openapi = await fetch(`${service.baseUrl}/openapi.json`).then((r) => r.json()) as { openapi: string; paths: Record<string, unknown> }
    expect(openapi.openapi).toMatch(/^3\./)
    expect(Object.keys(openapi.paths)).toContain("/health")
    const missing = await fetch(`${service.baseUrl}/no/such/route`)
    expect(missing.status).toBe(404)
    expect(missing.headers.get("content-type")).toMatch(/application\/problem\+json/)
    expect((await missing.json() as { status: number }).status).toBe(404)
  })

  it("counts requests on the metrics server in Prometheus text format", async () => {
    await fetch(`${service.baseUrl}/health`)
    const text = await fetch(`${service.metricsUrl}/metrics`).then((r) => r.text())
    const line = text.split("\n").find((l) => l.startsWith("http_requests_total{") && l.includes(`route="/health"`) && l.includes(`status="200"`))
    expect(line).toBeDefined()
    expect(Number(line!.split(" ").at(-1))).toBeGreaterThanOrEqual(2)
    expect(text).toMatch(/^# TYPE process_resident_memory_bytes gauge$/m)
    expect(text).toMatch(/^http_request_duration_seconds_bucket\{.*le="\+Inf".*\} \d+$/m)
  })

  it("refuses a second process on the same data directory with one clear line", async () => {
    const second = spawnService({ COGO_DATA_DIR: dataDir, PORT: "0", METRICS_PORT: "0" })
    const code = await second.exited
    expect(code).toBe(1)
    expect(second.output()).toMatch(/^cogo: start-up failed: EmbeddedStartError: data directory .* is in use by process \d+$/m)
  })

  it("shuts down gracefully on SIGTERM and releases the data directory", async () => {
    service.child.kill("SIGTERM")
    const code = await Promise.race([service.exited, new Promise((r) => setTimeout(() => r("timeout"), 15_000))])
    expect(code).toBe(0)
    expect(fs.existsSync(path.join(dataDir, "cogo.lock"))).toBe(false)
    // Reopening the same data directory (warm start) keeps the data and the migrations.
    const again = await startService({ COGO_DATA_DIR: dataDir })
    try {
      const body = await fetch(`${again.baseUrl}/health`).then((r) => r.json()) as { migrations: { count: number } }
      expect(body.migrations.count).toBeGreaterThan(0)
      console.log(`warm start to healthy: ${Math.round(again.startupMs)} ms`)
    } finally {
      again.child.kill("SIGTERM")
      await again.exited
    }
  }, 60_000)
})

describe.skipIf(!hasRealPostgres)("the service as a process (postgres backend)", () => {
  it("starts against DATABASE_URL, migrates it and reports the backend", () =>
    Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const env: Record<string, string> = yield* testDatabaseEnv()
      const service = yield* Effect.acquireRelease(
        Effect.promise(() => startService({ DATABASE_URL: env["DATABASE_URL"]! })),
        (s) => Effect.promise(() => (s.child.kill("SIGTERM"), s.exited))
      )
      const body = yield* Effect.promise(() => fetch(`${service.baseUrl}/health`).then((r) => r.json()) as Promise<{ backend: string; database: string }>)
      expect(body.backend).toBe("postgres")
      expect(body.database).not.toMatch(/@/)
    }))), 60_000)
})
