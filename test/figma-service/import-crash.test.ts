/**
 * Large plugin imports that cannot be lost (real Postgres only; skipped without TEST_DATABASE_URL).
 *
 * Four 4,000-frame exports (8,000 entity commands each) are uploaded at once to a service process whose
 * jobs allow ONE failed attempt (JOBS_MAX_ATTEMPTS=1); that process is SIGKILLed while it is writing, and a
 * second service process takes over. Every import must end `succeeded` exactly once, none dead:
 * - a rescued attempt (lease expired) does not spend the failure budget (before: dead at 1/1);
 * - writes go in bounded chunks, so parallel imports never exhaust max_locks_per_transaction
 *   (before: one transaction took ~8,000 advisory locks per import: "out of shared memory");
 * - the `succeeded` events carry a bounded summary, while cogo.jobs keeps the full result.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Ref, Schedule } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { startService } from "../support/ServiceProcess.ts"
import { hasRealPostgres, testDatabaseEnv } from "../support/TestDatabase.ts"
import { DatabaseEnv, jobsLayerFromEnv } from "../agents/layers.ts"
import type { JobId } from "../../src/domain/jobs/Job.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { jwtSecret, userToken } from "../edge/server.ts"
import { pluginSecret, postJson, signedHeaders } from "./support.ts"

const frames = 4000
const imports = 4
const alice = "a11ce000-0000-4000-8000-0000000f0001"

/** A Figma file with `frames` top-level frames (each a page), one text node in each. */
const bigExport = (seed: number) => ({
  name: `Big ${seed}`,
  document: {
    id: "0:0", name: "Document", type: "DOCUMENT",
    children: [{
      id: "0:1", name: "Page 1", type: "CANVAS",
      children: Array.from({ length: frames }, (_, i) => ({
        id: `${i + 10}:1`, name: `Screen ${i}`, type: "FRAME",
        absoluteBoundingBox: { x: 0, y: i * 900, width: 390, height: 844 },
        children: [{
          id: `${i + 10}:2`, name: "Title", type: "TEXT", characters: `Screen ${i} of export ${seed}`,
          absoluteBoundingBox: { x: 16, y: i * 900 + 16, width: 300, height: 28 },
          style: { fontFamily: "Inter", fontSize: 20, fontWeight: 400 }
        }]
      }))
    }]
  }
})

const TestLayer = Layer.unwrap(Effect.map(testDatabaseEnv(), (env) =>
  Layer.merge(jobsLayerFromEnv(env), Layer.succeed(DatabaseEnv, env))))

describe.skipIf(!hasRealPostgres)("figma.import under load and crashes (real Postgres)", () => {
  layer(TestLayer, { excludeTestServices: true })("large imports", (it) => {
    it.effect("4 x 4,000-frame imports in parallel, the worker SIGKILLed mid-write: each ends succeeded exactly once", () =>
      Effect.scoped(Effect.gen(function*() {
        const env = yield* DatabaseEnv
        const sql = yield* SqlClient
        const queue = yield* JobQueue
        const serviceEnv = (workerId: string) => ({
          DATABASE_URL: env["DATABASE_URL"]!,
          DATABASE_POOL_MAX: "6",
          FIGMA_PLUGIN_SECRET: pluginSecret,
          SUPABASE_JWT_SECRET: jwtSecret,
          COGO_AUTH_MODE: "prod",
          JOBS_WORKER_ID: workerId,
          JOBS_MAX_ATTEMPTS: "1",
          JOBS_LEASE: "3 seconds",
          JOBS_POLL_INTERVAL: "200 millis",
          JOBS_RESCUE_INTERVAL: "500 millis",
          PROJECTION_ENABLED: "false",
          LOG_LEVEL: "Error"
        })
        const start = (workerId: string) =>
          Effect.acquireRelease(Effect.promise(() => startService(serviceEnv(workerId))), (s) => Effect.sync(() => s.child.kill("SIGKILL")))

        // The most advisory locks any one backend holds at once (the outbox append locks of a write).
        const maxLocks = yield* Ref.make(0)
        yield* Effect.forkScoped(Effect.repeat(
          sql<{ n: string }>`SELECT coalesce(max(n), 0) AS n FROM (
            SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' GROUP BY pid) l`.pipe(
            Effect.flatMap((rows) => Ref.update(maxLocks, (max) => Math.max(max, Number(rows[0]!.n)))),
            Effect.ignore
          ),
          Schedule.spaced("20 millis")
        ))

        const started = Date.now()
        const victim = yield* start("victim")
        const credential = yield* Effect.promise(() => userToken(alice))
        const projects = Array.from({ length: imports }, () => crypto.randomUUID())
        const accepted = yield* Effect.forEach(projects, (projectId, seed) => Effect.promise(async () => {
          const body = JSON.stringify({ projectId, fileKey: `BIG${seed}`, document: bigExport(seed) })
          return await postJson(`${victim.baseUrl}/functions/v1/figma-plugin`, body, signedHeaders(body, { credential }))
        }), { concurrency: imports })
        for (const answer of accepted) assert.strictEqual(answer.status, 202, JSON.stringify(answer.body))
        const jobIds = accepted.map((a) => a.body.jobId as JobId)

        // Kill the worker while it is writing one of the imports (some chunks committed, not all).
        const midWrite = yield* Effect.promise(async () => {
          for (let i = 0; i < 600; i++) {
            const rows = await Effect.runPromise(sql<{ id: string; written: string }>`
              SELECT j.id, (SELECT count(*) FROM cogo.project_entities e WHERE e.project_id = j.project_id) AS written
              FROM cogo.jobs j WHERE j.state = 'running' AND j.locked_by = 'victim'`)
            const writing = rows.find((r) => Number(r.written) > 0 && Number(r.written) < 2 * frames)
            if (writing !== undefined) return writing
            await new Promise((r) => setTimeout(r, 25))
          }
          throw new Error(`the victim never got mid-write: ${victim.output().slice(-2000)}`)
        })
        victim.child.kill("SIGKILL")
        yield* Effect.promise(() => victim.exited)

        yield* start("survivor")
        const finished = yield* Effect.forEach(jobIds, (id) => queue.awaitTerminal(id).pipe(Effect.timeout("90 seconds")))
        const seconds = (Date.now() - started) / 1000

        for (const job of finished) assert.strictEqual(job.state, "succeeded", `${job.id}: ${JSON.stringify(job.lastError)}`)
        const [killed] = yield* sql<{ attempts: number; rescues: number; max_attempts: number }>`
          SELECT attempts, rescues, max_attempts FROM cogo.jobs WHERE id = ${midWrite.id}`
        assert.strictEqual(killed!.max_attempts, 1)
        assert.isAtLeast(killed!.rescues, 1, "the killed attempt was rescued")
        assert.isAtLeast(killed!.attempts, 2)

        // Exactly one success per job, and bounded events while the job keeps the full result.
        for (const id of jobIds) {
          const trail = yield* queue.events(id)
          assert.strictEqual(trail.filter((e) => e.kind === "succeeded").length, 1, id)
          assert.strictEqual(trail.filter((e) => e.kind === "dead").length, 0, id)
          assert.isBelow(Math.max(...trail.map((e) => JSON.stringify(e.data).length)), 4096, `job event size of ${id}`)
        }
        // Each job's event, also inside a batch row (migration 0027: one row for a batch's jobs).
        const [bus] = yield* sql<{ max_bytes: number; succeeded: string }>`
          SELECT max(octet_length(coalesce((e.part->'p')::text, b.payload::text))) AS max_bytes,
                 count(*) FILTER (WHERE b.kind = 'succeeded') AS succeeded
          FROM cogo.bus_events b
          LEFT JOIN LATERAL json_array_elements(b.parts) AS e(part) ON true
          WHERE b.topic = 'job' AND coalesce((e.part->>'j')::uuid, b.job_id) = ANY(${`{${jobIds.join(",")}}`}::uuid[])`
        assert.strictEqual(Number(bus!.succeeded), jobIds.length, "one streamed success per job")
        assert.isBelow(Number(bus!.max_bytes), 4096)
        const [stored] = yield* sql<{ min_bytes: number }>`
          SELECT min(octet_length(result::text)) AS min_bytes FROM cogo.jobs WHERE id = ANY(${`{${jobIds.join(",")}}`}::uuid[])`
        assert.isAbove(Number(stored!.min_bytes), 100_000, "the job keeps the full result")

        // Bounded writes: no backend ever held more than a chunk's locks (256 by default) plus a few others.
        const locks = yield* Ref.get(maxLocks)
        assert.isAbove(locks, 0, "the sampler saw the writes")
        assert.isAtMost(locks, 256 + 8, "advisory locks held by one transaction")

        // Every import wrote all its pages (and links), once each.
        const pages = yield* sql<{ project_id: string; pages: string; links: string }>`
          SELECT project_id, count(*) FILTER (WHERE entity_type = 'page') AS pages,
                 count(*) FILTER (WHERE entity_type = 'project_page') AS links
          FROM cogo.project_entities WHERE project_id = ANY(${`{${projects.join(",")}}`}::uuid[]) AND NOT deleted
          GROUP BY project_id`
        assert.strictEqual(pages.length, imports)
        for (const row of pages) {
          assert.strictEqual(Number(row.pages), frames, row.project_id)
          assert.strictEqual(Number(row.links), frames, row.project_id)
        }
        console.log(`import-crash: ${imports} x ${frames} frames, victim killed mid-write of ${midWrite.id} ` +
          `(${midWrite.written} entities written), all succeeded in ${seconds.toFixed(1)} s; max advisory locks per backend ${locks}`)
      })), 120_000)
  })
})
