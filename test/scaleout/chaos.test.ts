/**
 * The short chaos run (scripts/chaos/harness.ts, what `npm run chaos` runs for longer): its own durable
 * PostgreSQL 15 (port 25459 or COGO_CHAOS_PGPORT), 3 replicas of the real service behind the round-robin
 * proxy, plugin imports, chats (dropped mid-stream, resumed by run id), IDE writes and realtime subscribers
 * through it, while a replica is killed with
 * SIGKILL twice, Postgres is crash-stopped and started once, and every replica gets a SIGTERM (rolling
 * restart). Nothing accepted may be lost or done twice, no realtime event or chat frame missed or repeated,
 * no chat left hanging.
 * Skipped without PostgreSQL 15 in /usr/lib/postgresql/15/bin or when not root.
 */
import { describe, expect, it } from "vitest"
import { postgresAvailable } from "../../scripts/chaos/cluster.ts"
import { runChaos } from "../../scripts/chaos/harness.ts"
import { lostOrDoubled, table } from "../../scripts/chaos/report.ts"
import { hasRealPostgres } from "../support/TestDatabase.ts"

// It starts its own PostgreSQL cluster whatever the suite's backend, so it runs once: in the PostgreSQL run.
describe.skipIf(!postgresAvailable() || !hasRealPostgres)("chaos (short): kill -9, Postgres restart, rolling SIGTERM under mixed load", () => {
  it("loses nothing and doubles nothing", async () => {
    const result = await runChaos({
      kills: 2,
      pgRestarts: 1,
      seconds: 20,
      replicas: 3,
      pgPort: Number(process.env["COGO_CHAOS_PGPORT"] ?? "25459"),
      pgDownMs: 1_000,
      log: () => {}
    })
    console.log(table(result))
    for (const line of result.details) console.log(`- ${line}`)

    // The load really ran through the faults.
    expect(result.faults.map((f) => f.kind).sort()).toEqual(["kill -9", "kill -9", "postgres restart", "sigterm"])
    expect(result.imports).toBeGreaterThan(10)
    expect(result.edits).toBeGreaterThan(10)
    expect(result.events).toBeGreaterThan(10)
    expect(result.chat.started).toBeGreaterThan(3)
    expect(result.chat.resumes).toBeGreaterThanOrEqual(result.chat.started)
    expect(result.stats.failed).toBe(0)
    expect(result.details).toEqual([])
    expect(result.losses).toEqual({
      jobsLost: 0, jobsDoubled: 0, outboxLost: 0, outboxDoubled: 0, editsLost: 0, editsDoubled: 0, eventsMissed: 0, eventsDuplicated: 0
    })
    expect({ missed: result.chat.missed, repeated: result.chat.repeated, hung: result.chat.hung }).toEqual({ missed: 0, repeated: 0, hung: 0 })
    expect(result.chat.completed + result.chat.endedWithError).toBe(result.chat.started)
    expect(lostOrDoubled(result)).toBe(0)
    for (const times of result.recovery.values()) for (const ms of times) expect(ms).toBeLessThan(5_000)
  }, 170_000)
})
