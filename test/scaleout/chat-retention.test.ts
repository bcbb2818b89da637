/**
 * Retention of chat frames: a finished run's shared log is pruned `COGO_CHAT_RETENTION` after it ended, and
 * a replica that never held the run then answers 404 instead of an empty stream. Runs only with
 * TEST_DATABASE_URL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { userToken } from "../edge/server.ts"
import { type FakeOpenAIServer, startFakeOpenAI } from "../support/FakeOpenAI.ts"
import { hasRealPostgres } from "../support/TestDatabase.ts"
import type { ServiceProcess } from "../support/ServiceProcess.ts"
import { dropDatabase, freshDatabase, query, startReplica, stopReplica, waitUntil } from "./support.ts"

describe.skipIf(!hasRealPostgres)("chat frame retention", () => {
  let databaseUrl = ""
  let fake: FakeOpenAIServer
  let a: ServiceProcess
  let b: ServiceProcess

  beforeAll(async () => {
    databaseUrl = await freshDatabase()
    fake = await startFakeOpenAI()
    const env = {
      OPENAI_BASE_URL: fake.baseUrl,
      OPENAI_API_KEY: fake.apiKey,
      // Long enough for the early read below on a loaded machine (it must land inside the window).
      COGO_CHAT_RETENTION: "3 seconds",
      COGO_RETENTION_INTERVAL: "200 millis"
    }
    a = await startReplica(databaseUrl, "keep-a", env)
    b = await startReplica(databaseUrl, "keep-b", { ...env, COGO_MIGRATE_ON_START: "false" })
  }, 120_000)

  afterAll(async () => {
    await Promise.all([a, b].filter((r) => r !== undefined).map((r) => stopReplica(r)))
    await fake?.close()
    await dropDatabase(databaseUrl)
  })

  it("prunes a finished run's frames after the retention age", async () => {
    const token = await userToken("c4a70000-0000-4000-8000-000000000002")
    const headers = { authorization: `Bearer ${token}` }
    const response = await fetch(`${a.baseUrl}/functions/v1/chat`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify({ id: "kept", messages: [{ id: "m1", role: "user", parts: [{ type: "text", text: "hello there" }] }] })
    })
    const runId = response.headers.get("x-cogo-stream-id")!
    expect(await response.text()).toContain("data: [DONE]")
    const frames = async () =>
      Number((await query<{ n: string }>(databaseUrl, `SELECT count(*) AS n FROM cogo.chat_frames WHERE run_id = '${runId}'`))[0]!.n)
    await waitUntil(async () => (await frames()) > 0, 5_000, "the run's frames in the shared log")
    // Within the retention window the other replica serves it.
    const early = await fetch(`${b.baseUrl}/functions/v1/chat/${runId}/stream`, { headers })
    expect(early.status).toBe(200)
    expect(await early.text()).toContain("data: [DONE]")
    await waitUntil(async () => (await frames()) === 0, 15_000, "the run's frames pruned")
    const runs = await query<{ n: string }>(databaseUrl, `SELECT count(*) AS n FROM cogo.chat_runs WHERE id = '${runId}'`)
    expect(Number(runs[0]!.n)).toBe(0)
    const late = await fetch(`${b.baseUrl}/functions/v1/chat/${runId}/stream`, { headers })
    expect(late.status).toBe(404)
    await late.body?.cancel()
  }, 30_000)
})
