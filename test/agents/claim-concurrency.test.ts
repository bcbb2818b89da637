/**
 * One claim per job under concurrency, on a real PostgreSQL (PGlite has one backend, so its transactions never
 * overlap): many workers claim from the same queue at once, each on its own connection, and every job must be
 * handed to exactly one of them, exactly once.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Option } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { hasRealPostgres } from "../support/TestDatabase.ts"
import { envLayer, fastJobsEnv, platformLayer } from "./layers.ts"

const jobs = 600
const workers = 8

const TestLayer = JobQueue.layer.pipe(
  Layer.provide(envLayer(fastJobsEnv)),
  Layer.provideMerge(platformLayer({ DATABASE_POOL_MAX: String(workers + 2) }))
)

describe.skipIf(!hasRealPostgres)("job claim under concurrency (real Postgres)", () => {
  layer(TestLayer, { excludeTestServices: true })("claim", (it) => {
    it.effect("concurrent claimers never take the same job, and together take every job once", () =>
      Effect.gen(function*() {
        const queue = yield* JobQueue
        const db = yield* Database
        const sql = yield* SqlClient
        yield* db.withRole(DbRole.agent, queue.enqueueMany(Array.from({ length: jobs }, (_, i) => ({ kind: "test.claim-race", payload: { i } }))))

        // Each worker claims small batches until the queue is empty; claims of different workers overlap.
        const claimedBy = yield* Effect.forEach(Array.from({ length: workers }, (_, w) => `race-${w}`), (workerId) =>
          Effect.gen(function*() {
            const mine: Array<string> = []
            while (true) {
              const batch = yield* queue.claim({ workerId, kinds: ["test.claim-race"], limit: 5, leaseMs: 60_000 })
              if (batch.length === 0) return mine
              for (const job of batch) mine.push(job.id)
            }
          }), { concurrency: "unbounded" })

        const all = claimedBy.flat()
        const distinct = new Set(all)
        assert.strictEqual(all.length - distinct.size, 0, "a job was claimed by two workers")
        assert.strictEqual(distinct.size, jobs, "every job is claimed")
        assert.isAbove(claimedBy.filter((ids) => ids.length > 0).length, 1, "claims really ran concurrently")
        const [row] = yield* sql<{ readonly max: number; readonly running: number }>`
          SELECT max(attempts)::int AS max, count(*) FILTER (WHERE state = 'running')::int AS running
          FROM cogo.jobs WHERE kind = 'test.claim-race'`
        assert.strictEqual(row!.max, 1, "no job was claimed twice")
        assert.strictEqual(row!.running, jobs)
      }), 60_000)

    it.effect("a claim skips a job another transaction holds instead of waiting for it", () =>
      Effect.gen(function*() {
        const queue = yield* JobQueue
        const db = yield* Database
        const sql = yield* SqlClient
        const [held, free] = yield* db.withRole(DbRole.agent, queue.enqueueMany([
          { kind: "test.claim-held", payload: {}, priority: 10 },
          { kind: "test.claim-held", payload: {}, priority: 0 }
        ]))
        // Another session locks the first job in line (the way a concurrent claim or rescue does) and keeps it.
        const locked = yield* Deferred.make<void>()
        const release = yield* Deferred.make<void>()
        const holder = yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`SELECT id FROM cogo.jobs WHERE id = ${held!.id} FOR UPDATE`
          yield* Deferred.succeed(locked, undefined)
          yield* Deferred.await(release)
        })).pipe(Effect.forkChild)
        yield* Deferred.await(locked)

        const claimed = yield* queue.claim({ workerId: "skipper", kinds: ["test.claim-held"], limit: 2, leaseMs: 60_000 }).pipe(
          Effect.timeoutOption("5 seconds")
        )
        yield* Deferred.succeed(release, undefined)
        yield* Fiber.join(holder)
        assert.isTrue(Option.isSome(claimed), "the claim waited on another transaction's lock")
        assert.deepStrictEqual(Option.getOrThrow(claimed).map((job) => job.id), [free!.id])
      }), 60_000)
  })
})
