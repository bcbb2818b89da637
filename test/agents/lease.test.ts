/**
 * Cross-process behaviour on a real Postgres: a worker process killed mid-job (SIGKILL, so nothing of it
 * runs afterwards) loses its lease, and the job runs again in another worker; idempotency keys dedupe
 * concurrent enqueues from separate transactions.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { Orchestrator } from "../../src/services/jobs/Orchestrator.ts"
import { spawnService } from "../support/ServiceProcess.ts"
import { hasRealPostgres, testDatabaseEnv } from "../support/TestDatabase.ts"
import { DatabaseEnv, jobsLayerFromEnv } from "./layers.ts"

const TestLayer = Layer.unwrap(Effect.map(testDatabaseEnv(), (env) =>
  Layer.merge(jobsLayerFromEnv(env), Layer.succeed(DatabaseEnv, env))))

describe.skipIf(!hasRealPostgres)("job leases across processes (real Postgres)", () => {
  layer(TestLayer, { excludeTestServices: true })("lease expiry", (it) => {
    it.effect("a worker killed mid-job loses its lease; the job runs again elsewhere, once", () =>
      Effect.scoped(Effect.gen(function*() {
        const queue = yield* JobQueue
        const orchestrator = yield* Orchestrator
        const env = yield* DatabaseEnv
        const { id } = yield* queue.submit({ kind: "test.crashy", payload: {} })
        const worker = yield* Effect.acquireRelease(
          Effect.sync(() => spawnService({ DATABASE_URL: env["DATABASE_URL"]!, JOBS_LEASE: "1 second", JOBS_POLL_INTERVAL: "100 millis", LOG_LEVEL: "Warn" }, "test/agents/lease-worker.ts")),
          (w) => Effect.sync(() => w.child.kill("SIGKILL"))
        )
        const started = yield* Effect.promise(async () => {
          for (let i = 0; i < 300; i++) {
            const line = worker.output().split("\n").find((l) => l.startsWith(`STARTED ${id}`))
            if (line !== undefined) return line
            await new Promise((r) => setTimeout(r, 50))
          }
          throw new Error(`the worker never started the job: ${worker.output()}`)
        })
        const childWorkerId = started.split(" ")[2]!
        worker.child.kill("SIGKILL")
        yield* Effect.promise(() => worker.exited)

        yield* orchestrator.register({
          kind: "test.crashy",
          payload: Schema.Struct({}),
          run: (_payload, job) => Effect.succeed({ ranBy: orchestrator.workerId, attempt: job.job.attempt })
        })
        const job = yield* queue.awaitTerminal(id).pipe(Effect.timeout("15 seconds"))
        assert.strictEqual(job.state, "succeeded")
        assert.deepStrictEqual(job.result, { ranBy: orchestrator.workerId, attempt: 2 })
        const events = yield* queue.events(id)
        assert.deepStrictEqual(events.map((e) => e.kind), ["enqueued", "started", "rescued", "started", "succeeded"])
        assert.strictEqual((events[1]!.data as { workerId: string }).workerId, childWorkerId)
        assert.strictEqual((events[3]!.data as { workerId: string }).workerId, orchestrator.workerId)
        assert.notStrictEqual(childWorkerId, orchestrator.workerId)
      })))

    it.effect("concurrent enqueues with the same idempotency key create one job", () =>
      Effect.gen(function*() {
        const queue = yield* JobQueue
        const db = yield* Database
        const enqueueSlowly = db.withRole(DbRole.agent, Effect.tap(
          queue.enqueue({ kind: "test.unclaimed", payload: {}, idempotencyKey: "same-key" }),
          () => Effect.sleep("100 millis")
        ))
        const results = yield* Effect.all([enqueueSlowly, enqueueSlowly, enqueueSlowly, enqueueSlowly], { concurrency: "unbounded" })
        assert.strictEqual(new Set(results.map((r) => r.id)).size, 1)
        assert.strictEqual(results.filter((r) => r.created).length, 1)
      }))
  })
})
