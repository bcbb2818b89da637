/**
 * Replicas and crashes on a real PostgreSQL: worker processes (src/bin/projection-worker.ts) started as
 * children, several at once, and SIGKILLed mid-batch. Runs only with TEST_DATABASE_URL.
 */
import { assert, describe, layer } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Fiber, Option, Redacted, Schedule } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { AppConfig } from "../../src/services/platform/AppConfig.ts"
import { hasRealPostgres } from "../support/TestDatabase.ts"
import { openRowsOutOfStep, outboxStatusCounts, projectionLayer, publicSnapshot, seeded, sequentialModel, workload, writeInChunks } from "./support.ts"

const root = new URL("../../", import.meta.url).pathname

interface WorkerProcess {
  readonly child: ChildProcess
  readonly started: Promise<void>
  readonly exited: Promise<number | null>
}

const spawnTsx = (script: string, args: ReadonlyArray<string>, env: Record<string, string>) =>
  spawn(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: root,
    env: { PATH: process.env["PATH"] ?? "", LOG_LEVEL: "Warn", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })

const startWorker = (databaseUrl: string, extra: Record<string, string> = {}): WorkerProcess => {
  const child = spawnTsx("src/bin/projection-worker.ts", [], {
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_MAX: "4",
    COGO_MIGRATE_ON_START: "false",
    LOG_LEVEL: "Info",
    PROJECTION_CONCURRENCY: "2",
    PROJECTION_POLL_MS: "100",
    ...extra
  })
  let output = ""
  const started = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("projection worker started")) resolve()
    })
    child.stderr!.on("data", (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.once("exit", (code) => reject(new Error(`worker exited (${code}) before starting: ${output.slice(-2000)}`)))
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, started, exited }
}

const stop = (worker: WorkerProcess, signal: NodeJS.Signals) =>
  Effect.promise(() => {
    worker.child.kill(signal)
    return worker.exited
  })

const databaseUrl = Effect.map(AppConfig, (config) => Redacted.value(Option.getOrThrow(config.databaseUrl)))

const waitForEmptyOutbox = (expectedTotal: number, timeout: Duration.Input) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    const deadline = Date.now() + Duration.toMillis(Duration.fromInputUnsafe(timeout))
    while (Date.now() < deadline) {
      const [row] = yield* sql<{ total: string; pending: string }>`
        SELECT count(*) AS total, count(*) FILTER (WHERE status = 'pending') AS pending FROM cogo.project_updates`
      if (Number(row!.total) >= expectedTotal && Number(row!.pending) === 0) return
      yield* Effect.sleep(Duration.millis(100))
    }
    assert.fail("outbox not drained in time")
  })

/** Exactly once: applied updates = updates announced by committed batches, and no aggregate lost its last update. */
const assertExactlyOnce = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const counts = yield* outboxStatusCounts
  const [announced] = yield* sql<{ n: string }>`
    SELECT coalesce(sum((payload->>'applied')::int), 0) AS n FROM cogo.bus_events WHERE kind = 'projection.applied'`
  assert.strictEqual(Number(announced!.n), counts["applied"] ?? 0)
  const [behind] = yield* sql<{ n: string }>`
    SELECT count(*) AS n FROM (
      SELECT aggregate_type, aggregate_id, max(seq) AS last FROM cogo.project_updates GROUP BY 1, 2
    ) u LEFT JOIN cogo.projection_state s USING (aggregate_type, aggregate_id)
    WHERE s.applied_seq IS DISTINCT FROM u.last`
  assert.strictEqual(Number(behind!.n), 0)
  assert.strictEqual(yield* openRowsOutOfStep, 0)
  return counts
})

describe.skipIf(!hasRealPostgres)("projection across processes (real PostgreSQL)", () => {
  layer(projectionLayer(), { excludeTestServices: true })("replicas", (it) => {
    it.effect("10,000 updates over 50 projects, 4 workers in 2 processes: equal to sequential, none lost or doubled; rebuild equals live", () =>
      Effect.gen(function*() {
        const url = yield* databaseUrl
        const workers = [
          startWorker(url, { PROJECTION_BATCH_SIZE: "500", PROJECTION_PROJECTS_PER_BATCH: "4" }),
          startWorker(url, { PROJECTION_BATCH_SIZE: "500", PROJECTION_PROJECTS_PER_BATCH: "4" })
        ]
        yield* Effect.promise(() => Promise.all(workers.map((w) => w.started)))
        const { commands, projectIds } = workload({ projects: 50, count: 10_000, seed: 42, idPrefix: 3 })
        yield* writeInChunks(commands, 100)
        yield* waitForEmptyOutbox(10_000, "60 seconds")
        yield* Effect.forEach(workers, (w) => stop(w, "SIGTERM"), { discard: true })

        const counts = yield* assertExactlyOnce
        assert.deepStrictEqual(counts, { applied: 10_000 })
        const live = yield* publicSnapshot
        assert.deepStrictEqual(live, yield* sequentialModel)
        assert.strictEqual(Object.keys(live["project"]!).length, 50)

        // The rebuild script, as an operator runs it, for one project and then for all.
        const rebuild = (args: ReadonlyArray<string>) =>
          Effect.promise(() =>
            new Promise<number | null>((resolve) => {
              const child = spawnTsx("src/bin/projection-rebuild.ts", args, { DATABASE_URL: url, COGO_MIGRATE_ON_START: "false" })
              let errors = ""
              child.stderr!.on("data", (chunk: Buffer) => errors += chunk.toString())
              child.stdout!.resume()
              child.once("exit", (code) => {
                if (code !== 0) process.stderr.write(`projection:rebuild ${args.join(" ")} exited ${code}: ${errors}\n`)
                resolve(code)
              })
            })
          )
        const sql = yield* PgClient.PgClient
        yield* sql`UPDATE public.pages SET name = 'drifted' WHERE project_id = ${projectIds[0]!}`
        assert.strictEqual(yield* rebuild(["--project", projectIds[0]!]), 0)
        assert.deepStrictEqual(yield* publicSnapshot, live)
        assert.strictEqual(yield* rebuild([]), 0)
        assert.deepStrictEqual(yield* publicSnapshot, live)
        assert.strictEqual(yield* rebuild(["--project", "not-a-uuid"]), 2)
      }), { timeout: 120_000 })
  })

  layer(projectionLayer(), { excludeTestServices: true })("crashes", (it) => {
    it.effect("a worker process SIGKILLed mid-batch 10 times under load loses and doubles nothing", () =>
      Effect.gen(function*() {
        const url = yield* databaseUrl
        const sql = yield* PgClient.PgClient
        const { commands } = workload({ projects: 20, count: 4_000, seed: 9, idPrefix: 4 })
        // Load: commands keep arriving while workers start and die.
        const writer = yield* Effect.forkChild(Effect.gen(function*() {
          for (let i = 0; i < commands.length; i += 200) {
            yield* writeInChunks(commands.slice(i, i + 200), 50)
            yield* Effect.sleep(Duration.millis(60))
          }
        }))
        const rollbacks = sql<{ n: string }>`SELECT xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()`
        const rollbacksBefore = Number((yield* rollbacks)[0]!.n)
        // Two kill loops side by side (process start-up dominates): 10 SIGKILLs in all.
        const killLoop = (seed: number) =>
          Effect.gen(function*() {
            const random = seeded(seed)
            for (let kill = 0; kill < 5; kill++) {
              const worker = startWorker(url, { PROJECTION_BATCH_SIZE: "2000", PROJECTION_PROJECTS_PER_BATCH: "10" })
              yield* Effect.promise(() => worker.started)
              yield* Effect.sleep(Duration.millis(100 + Math.floor(random() * 400)))
              yield* stop(worker, "SIGKILL")
            }
          })
        yield* Effect.forEach([3, 4], killLoop, { concurrency: 2, discard: true })
        yield* Fiber.join(writer)
        const survivor = startWorker(url)
        yield* Effect.promise(() => survivor.started)
        yield* waitForEmptyOutbox(commands.length, "60 seconds")
        yield* stop(survivor, "SIGTERM")

        const counts = yield* assertExactlyOnce
        assert.deepStrictEqual(counts, { applied: commands.length })
        assert.deepStrictEqual(yield* publicSnapshot, yield* sequentialModel)
        // Killed transactions were rolled back by the server: the kills did land mid-transaction. The server
        // publishes its counters with a delay, so the count is polled (bounded) instead of read once.
        const rolledBack = yield* rollbacks.pipe(
          Effect.map((rows) => Number(rows[0]!.n) - rollbacksBefore),
          Effect.filterOrFail((n) => n > 0, () => "no rollback counted yet"),
          Effect.retry({ times: 100, schedule: Schedule.spaced("100 millis") }),
          Effect.orElseSucceed(() => 0)
        )
        assert.isAbove(rolledBack, 0)
      }), { timeout: 120_000 })
  })
})
