/**
 * Retention in the real service (MainLive, scheduled every 200 ms with ages of one second): under a constant
 * write load every pruned table stays bounded, and a realtime replay from a pruned Last-Event-ID answers
 * `reset` instead of silently skipping. Real PostgreSQL with TEST_DATABASE_URL, embedded PGlite otherwise.
 */
import { assert, describe, layer } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import { baseUrl, EdgeServerLive, serviceRoleKey } from "../edge/server.ts"
import { readSse } from "../support/sseClient.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"

const projectId = "7e7e0000-0000-4000-8000-000000000001"
const tables = ["bus_events", "jobs", "job_events", "project_updates", "idempotency_keys"] as const

/** One tick of load: 20 bus events, a finished job with 3 events, 2 applied updates of one aggregate, an expired key. */
const tick = (n: number) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    yield* sql`INSERT INTO cogo.bus_events (topic, kind, project_id) SELECT 'project', 'soak', ${projectId}::uuid FROM generate_series(1, 20)`
    yield* sql`
      WITH job AS (
        INSERT INTO cogo.jobs (kind, state, finished_at) VALUES ('soak.noop', 'succeeded', now()) RETURNING id)
      INSERT INTO cogo.job_events (job_id, kind) SELECT id, 'started' FROM job, generate_series(1, 3)`
    yield* sql`
      INSERT INTO cogo.project_updates (aggregate_type, aggregate_id, project_id, seq, update_type, payload, status, applied_at)
      SELECT 'page', '7e7e0000-0000-4000-8000-00000000aaaa'::uuid, ${projectId}::uuid, ${n} * 2 + s, 'page.upserted', '{}'::jsonb, 'applied', now()
      FROM generate_series(0, 1) AS s`
    yield* sql`
      INSERT INTO cogo.idempotency_keys (scope, key, fingerprint, method, path, locked_until, expires_at)
      VALUES ('soak', ${`k${n}`}, 'f', 'POST', '/x', now(), now() - interval '1 second')`
  })

const counts = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const result: Record<string, number> = {}
  for (const table of tables) {
    const [row] = yield* sql<{ n: string }>`SELECT count(*) AS n FROM ${sql(`cogo.${table}`)}`
    result[table] = Number(row!.n)
  }
  return result
})

describe("retention", () => {
  layer(EdgeServerLive({
    COGO_RETENTION_INTERVAL: "200 millis",
    COGO_RETENTION_BATCH: "50",
    COGO_RETAIN_BUS_EVENTS: "1 second",
    COGO_RETAIN_FINISHED_JOBS: "1 second",
    COGO_RETAIN_JOB_EVENTS: "1 second",
    COGO_RETAIN_OUTBOX: "1 second",
    LOG_LEVEL: "Error"
  }), { excludeTestServices: true })("a service with short retention ages", (it) => {
    it.effect("keeps the tables bounded under constant load (soak)", () =>
      Effect.gen(function*() {
        const ticks = 120
        const peaks: Record<string, number> = {}
        for (let n = 0; n < ticks; n++) {
          yield* tick(n)
          yield* Effect.sleep("50 millis")
          if (n >= 40 && n % 10 === 0) {
            for (const [table, count] of Object.entries(yield* counts)) peaks[table] = Math.max(peaks[table] ?? 0, count)
          }
        }
        // Inserted per table over ~6 s: 2,400 bus events, 120 jobs, 360 job events, 240 updates, 120 keys. With
        // 1 s ages and a 200 ms schedule a table holds about (age + interval + a tick's latency) of load.
        console.log(`retention soak: ${ticks} ticks, peak rows ${JSON.stringify(peaks)}`)
        assert.isBelow(peaks["bus_events"]!, 1_200)
        assert.isBelow(peaks["jobs"]!, 60)
        assert.isBelow(peaks["job_events"]!, 180)
        assert.isBelow(peaks["project_updates"]!, 120)
        assert.isBelow(peaks["idempotency_keys"]!, 30)
        // The latest applied update of the aggregate is kept (a rebuild replays it).
        const sql = yield* PgClient.PgClient
        const [latest] = yield* sql<{ seq: string }>`SELECT max(seq) AS seq FROM cogo.project_updates WHERE status = 'applied'`
        assert.strictEqual(Number(latest!.seq), (ticks - 1) * 2 + 1)
      }), 60_000)

    it.effect("answers a replay from a pruned Last-Event-ID with `reset`, and a current one normally", () =>
      Effect.gen(function*() {
        const url = yield* baseUrl
        const sql = yield* PgClient.PgClient
        const [first] = yield* sql<{ id: string }>`
          INSERT INTO cogo.bus_events (topic, kind, project_id, created_at) VALUES ('project', 'old', ${projectId}::uuid, now() - interval '1 hour') RETURNING id`
        const pruned = Effect.map(sql<{ n: string }>`SELECT pruned_through AS n FROM cogo.retention_state WHERE name = 'bus_events'`, ([row]) => Number(row!.n))
        while ((yield* pruned) < Number(first!.id)) yield* Effect.sleep("100 millis")
        const stream = `${url}/functions/v1/realtime/projects/${projectId}`
        const headers = (lastEventId: string | number) => ({ authorization: `Bearer ${serviceRoleKey}`, "last-event-id": String(lastEventId) })

        const stale = yield* Effect.promise(() => readSse(stream, { headers: headers(Number(first!.id) - 1) }, () => false, 10_000))
        assert.strictEqual(stale.status, 200)
        assert.deepStrictEqual(stale.frames.map((f) => f.event), ["reset"])
        assert.isTrue(stale.ended, "the server ends the stream after reset")

        // Published the service's way (row + notification), after the client is connected.
        const bus = yield* EventBus
        const published = Effect.delay(bus.publish({ topic: "project", kind: "fresh", projectId }), "300 millis")
        const fresh = { id: "" }
        yield* Effect.forkChild(Effect.map(published, (id) => (fresh.id = String(id))))
        const resumeFrom = yield* pruned
        const current = yield* Effect.promise(() =>
          readSse(stream, { headers: headers(resumeFrom) }, (frames) => frames.some((f) => f.id === fresh.id), 10_000))
        assert.isFalse(current.frames.some((f) => f.event === "reset"))
        assert.isTrue(current.frames.some((f) => f.id === fresh.id && f.event === "project"))
      }), 30_000)
  })
})
