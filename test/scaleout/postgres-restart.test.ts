/**
 * PostgreSQL restarts under a running replica (the real service as a child process) on its own cluster
 * (port 25454 or COGO_RESTART_PGPORT), which the test stops and starts: /health says `degraded` while the
 * database is away, answers 200 within 5 s of it being back, the leader lock is taken again (a job whose
 * lease expired during the outage is rescued, not stuck) and the LISTEN connection is back (a realtime
 * subscriber receives a new event live). Skipped where PostgreSQL 15 is not installed.
 */
import { afterAll, describe, expect, it } from "vitest"
import { execFileSync } from "node:child_process"
import { existsSync, rmSync } from "node:fs"
import { serviceRoleKey } from "../edge/server.ts"
import { readSse } from "../support/sseClient.ts"
import type { ServiceProcess } from "../support/ServiceProcess.ts"
import { health, query, startReplica, stopReplica, waitUntil } from "./support.ts"

const bin = "/usr/lib/postgresql/15/bin"
const available = existsSync(`${bin}/pg_ctl`) && process.getuid?.() === 0
const port = process.env["COGO_RESTART_PGPORT"] ?? "25454"
const dataDir = `/tmp/pg-scaleout-restart-${port}`
const databaseUrl = `postgres://postgres@127.0.0.1:${port}/postgres`
const pgCtl = (...args: ReadonlyArray<string>) =>
  execFileSync("runuser", ["-u", "postgres", "--", `${bin}/pg_ctl`, "-D", dataDir, ...args], { stdio: "ignore" })
const startCluster = () => execFileSync("bash", [".ci/start-postgres.sh", dataDir], { env: { ...process.env, PGPORT: port }, stdio: "ignore" })

describe.skipIf(!available)("PostgreSQL restart under a running replica", () => {
  let replica: ServiceProcess | undefined

  afterAll(async () => {
    if (replica !== undefined) await stopReplica(replica)
    try {
      pgCtl("-m", "immediate", "stop")
    } catch {
      // already stopped
    }
    rmSync(dataDir, { recursive: true, force: true })
  })

  it("degraded while away, healthy within 5 s of the restart, leader and LISTEN back, nothing stuck", async () => {
    rmSync(dataDir, { recursive: true, force: true })
    startCluster()
    replica = await startReplica(databaseUrl, "restarted", { JOBS_RESCUE_INTERVAL: "250 millis" })
    const r = replica
    await waitUntil(async () => (await health(r)).body.replica?.isLeader === true, 10_000, "leadership")

    pgCtl("-m", "immediate", "stop")
    await waitUntil(async () => {
      const h = await health(r)
      return h.status === 503 && h.body.type?.endsWith("/degraded") === true
    }, 5_000, "/health degraded")

    startCluster()
    const backAt = performance.now()
    await waitUntil(async () => (await health(r)).status === 200, 10_000, "/health 200 after the restart")
    const healthyMs = performance.now() - backAt
    await waitUntil(async () => (await health(r)).body.replica?.isLeader === true, 10_000, "leadership after the restart")
    const leaderMs = performance.now() - backAt

    // A worker that died during the outage left a running job with an expired lease: the leader rescues it.
    const [job] = await query<{ id: string }>(databaseUrl, `
      INSERT INTO cogo.jobs (kind, state, locked_by, lease_expires_at, attempts)
      VALUES ('restart.orphan', 'running', 'gone-worker', now() - interval '1 minute', 1) RETURNING id`)
    const rescueMs = await waitUntil(async () => {
      const [row] = await query<{ state: string }>(databaseUrl, `SELECT state FROM cogo.jobs WHERE id = '${job!.id}'`)
      return row?.state === "queued"
    }, 5_000, "the orphaned job rescued")

    // The LISTEN connection is back: a new event reaches a live subscriber.
    const projectId = "4e57a470-0000-4000-8000-000000000001"
    let subscribed!: () => void
    const open = new Promise<void>((resolve) => subscribed = resolve)
    const reading = readSse(`${r.baseUrl}/functions/v1/realtime/projects/${projectId}`, {
      headers: { authorization: `Bearer ${serviceRoleKey}` }
    }, (frames) => frames.some((f) => f.event === "project"), 10_000, () => subscribed())
    // The stream answers only once its subscriber is registered at the live tail.
    await open
    const [event] = await query<{ id: string }>(databaseUrl, `
      INSERT INTO cogo.bus_events (topic, kind, project_id) VALUES ('project', 'after-restart', '${projectId}') RETURNING id`)
    await query(databaseUrl, `SELECT pg_notify('cogo', 'bus:${event!.id}')`)
    const read = await reading
    expect(read.frames.map((f) => f.id)).toContain(String(event!.id))

    console.log(`postgres restart: /health 200 after ${Math.round(healthyMs)} ms, leader after ${Math.round(leaderMs)} ms, orphan rescued ${Math.round(rescueMs)} ms later`)
    expect(healthyMs).toBeLessThan(5_000)
    expect(leaderMs).toBeLessThan(5_000)
  }, 120_000)
})
