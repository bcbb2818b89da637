/**
 * Graceful drain of the real service on SIGTERM: /health turns 503 `draining` while the process still
 * serves, an open realtime SSE stream receives `retry:` and ends, the process exits 0, and (with a real
 * PostgreSQL) a job enqueued while draining is left queued for another replica instead of being claimed.
 * Runs on the test PostgreSQL with TEST_DATABASE_URL, on the embedded backend otherwise.
 */
import { afterAll, describe, expect, it } from "vitest"
import { serviceRoleKey } from "../edge/server.ts"
import { hasRealPostgres } from "../support/TestDatabase.ts"
import { dropDatabase, freshDatabase, health, query, startReplica, stopReplica, waitUntil } from "./support.ts"

describe("drain on SIGTERM", () => {
  let databaseUrl: string | undefined

  afterAll(async () => {
    if (databaseUrl !== undefined) await dropDatabase(databaseUrl)
  })

  it("answers 503 draining, tells SSE clients to reconnect, then exits 0", async () => {
    databaseUrl = hasRealPostgres ? await freshDatabase() : undefined
    const replica = await startReplica(databaseUrl, "drainer", { COGO_DRAIN_NOTICE: "3 seconds", COGO_SSE_HEARTBEAT: "60 seconds" })
    try {
      const projectId = "d4a10000-0000-4000-8000-000000000001"
      const sse = await fetch(`${replica.baseUrl}/functions/v1/realtime/projects/${projectId}`, {
        headers: { authorization: `Bearer ${serviceRoleKey}` }
      })
      expect(sse.status).toBe(200)
      const body = sse.text()
      const healthy = await health(replica)
      expect(healthy.status).toBe(200)

      // A job of a kind this replica runs, with a payload that cannot decode: claimed, it dies at once.
      const enqueue = async () => {
        const [job] = await query<{ id: string }>(databaseUrl!, `
          INSERT INTO cogo.jobs (kind, payload) VALUES ('index.documents', '{"bogus":true}') RETURNING id`)
        await query(databaseUrl!, `SELECT pg_notify('cogo', 'jobs:enqueued')`)
        return job!.id
      }
      const stateOf = async (id: string) => (await query<{ state: string }>(databaseUrl!, `SELECT state FROM cogo.jobs WHERE id = '${id}'`))[0]?.state
      if (databaseUrl !== undefined) {
        const before = await enqueue()
        await waitUntil(async () => (await stateOf(before)) === "dead", 5_000, "a job claimed before the drain")
      }

      const signalledAt = performance.now()
      replica.child.kill("SIGTERM")
      await waitUntil(async () => (await health(replica)).body.type?.endsWith("/draining") === true, 3_000, "/health draining")
      const draining = await health(replica)
      expect(draining.status).toBe(503)
      const enqueuedWhileDraining = databaseUrl === undefined ? undefined : await enqueue()

      const text = await body
      const streamEndedMs = performance.now() - signalledAt
      expect(text).toContain(": connected")
      expect(text).toMatch(/retry: 1000\n: server draining; reconnect with Last-Event-ID\n\n$/)
      expect(await replica.exited).toBe(0)
      const exitMs = performance.now() - signalledAt
      console.log(`drain: SSE told to reconnect after ${Math.round(streamEndedMs)} ms, exit 0 after ${Math.round(exitMs)} ms`)
      expect(replica.output()).toContain("drain: in-flight work finished")
      if (enqueuedWhileDraining !== undefined) expect(await stateOf(enqueuedWhileDraining)).toBe("queued")
    } finally {
      await stopReplica(replica)
    }
  }, 90_000)
})
