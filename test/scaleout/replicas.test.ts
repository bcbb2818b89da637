/**
 * Two replicas of the real service on one PostgreSQL: one leader (advisory lock), both name it on /health,
 * killing it moves the leadership within seconds, and the chat gateway's per-user rate limit holds across
 * both. Runs only with TEST_DATABASE_URL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { userToken } from "../edge/server.ts"
import { hasRealPostgres } from "../support/TestDatabase.ts"
import type { ServiceProcess } from "../support/ServiceProcess.ts"
import { dropDatabase, freshDatabase, health, query, startReplica, stopReplica, waitUntil } from "./support.ts"

const chatBody = (text: string) =>
  JSON.stringify({ id: "rate", messages: [{ id: "m1", role: "user", parts: [{ type: "text", text }] }] })

describe.skipIf(!hasRealPostgres)("two replicas on one PostgreSQL", () => {
  let databaseUrl = ""
  let a: ServiceProcess
  let b: ServiceProcess
  const env = { COGO_CHAT_RATE_BURST: "3", COGO_CHAT_RATE_PER_MINUTE: "1", JOBS_RESCUE_INTERVAL: "250 millis" }

  beforeAll(async () => {
    databaseUrl = await freshDatabase()
    a = await startReplica(databaseUrl, "replica-a", env)
    b = await startReplica(databaseUrl, "replica-b", { ...env, COGO_MIGRATE_ON_START: "false" })
  }, 120_000)

  afterAll(async () => {
    await Promise.all([a, b].filter((r) => r !== undefined).map((r) => stopReplica(r)))
    await dropDatabase(databaseUrl)
  })

  it("elects exactly one leader, named by both replicas' /health", async () => {
    await waitUntil(async () => (await health(a)).body.replica?.leader !== null, 10_000, "a leader")
    const [ha, hb] = await Promise.all([health(a), health(b)])
    expect(ha.status).toBe(200)
    expect(hb.status).toBe(200)
    expect([ha.body.replica?.isLeader, hb.body.replica?.isLeader].filter(Boolean)).toHaveLength(1)
    const leader = ha.body.replica?.isLeader === true ? "replica-a" : "replica-b"
    expect(ha.body.replica?.leader).toBe(leader)
    expect(hb.body.replica?.leader).toBe(leader)
  })

  it("holds the chat gateway's per-user limit across replicas", async () => {
    const token = await userToken("5ca1e000-0000-4000-8000-000000000001")
    const statuses: Array<number> = []
    for (let i = 0; i < 6; i++) {
      const replica = i % 2 === 0 ? a : b
      const response = await fetch(`${replica.baseUrl}/functions/v1/chat-gateway`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: chatBody(`hello ${i}`)
      })
      statuses.push(response.status)
      await response.body?.cancel()
    }
    // Burst 3 for the user, whichever replica answers: a per-replica limit would have allowed all 6.
    expect(statuses.filter((s) => s === 200)).toHaveLength(3)
    expect(statuses.filter((s) => s === 429)).toHaveLength(3)
    expect(statuses.slice(0, 3)).toEqual([200, 200, 200])
  })

  it("moves the leadership to the other replica within seconds of a kill -9", async () => {
    const leaderIsA = (await health(a)).body.replica?.isLeader === true
    const [leader, follower] = leaderIsA ? [a, b] : [b, a]
    const followerId = leaderIsA ? "replica-b" : "replica-a"
    const killedAt = performance.now()
    await stopReplica(leader, "SIGKILL")
    await waitUntil(async () => (await health(follower)).body.replica?.isLeader === true, 10_000, "failover")
    const failoverMs = performance.now() - killedAt
    console.log(`leader failover after kill -9: ${Math.round(failoverMs)} ms`)
    expect(failoverMs).toBeLessThan(5_000)
    expect((await health(follower)).body.replica?.leader).toBe(followerId)
    // The duties moved with it: a job orphaned by the killed replica is rescued by the new leader.
    const [job] = await query<{ id: string }>(databaseUrl, `
      INSERT INTO cogo.jobs (kind, state, locked_by, lease_expires_at, attempts)
      VALUES ('failover.orphan', 'running', 'killed-worker', now() - interval '1 minute', 1) RETURNING id`)
    await waitUntil(async () => {
      const [row] = await query<{ state: string }>(databaseUrl, `SELECT state FROM cogo.jobs WHERE id = '${job!.id}'`)
      return row?.state === "queued"
    }, 5_000, "the orphaned job rescued by the new leader")
  }, 30_000)
})
