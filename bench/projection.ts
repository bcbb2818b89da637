/**
 * `npm run bench -- projection [--updates N] [--seconds S] [--rate R] [--concurrency C] [--baseline N] [--backend postgres|embedded|both]`
 *
 * The projection worker, on real PostgreSQL (BENCH_DATABASE_URL, default the local test server; a fresh
 * database is created and dropped) and on the embedded PGlite backend:
 * - max throughput: N page upserts (each a distinct aggregate, so collapsing repeated updates does not
 *   help) over 50 projects are appended to the outbox first, then C worker fibers drain them; updates/s =
 *   N / drain time. Baseline in the same process: the same applier with one update per transaction.
 * - latency: with the background worker running (woken by LISTEN/NOTIFY), updates are written through
 *   ProjectCommands at a fixed offered rate R for S seconds (open loop), once as single-update transactions
 *   (R transactions/s) and once as 10-update transactions (R/10 transactions/s); commit-to-visible = the `projection.applied` bus notification that covers the update
 *   (what an IDE's SSE stream sees) minus the moment the writing transaction returned. A second row gives
 *   the worker's share on the database clock (outbox `created_at` -> `applied_at`), which excludes this
 *   process's own event-loop delays (writers, worker and watcher share one Node thread and 2 cores with
 *   PostgreSQL), and the number of batches that served the scenario.
 */
import { adminQuery, withDatabase } from "../test/support/TestDatabase.ts"
import { PgClient } from "@effect/sql-pg"
import { ConfigProvider, Duration, Effect, Fiber, Layer, Stream } from "effect"
import { upsert } from "../src/domain/cqrs/ProjectUpdate.ts"
import { type ApplierConfig, madeProgress, ProjectionApplier } from "../src/projection/Applier.ts"
import { ProjectionWorker, type WorkerConfig } from "../src/projection/ProjectionWorker.ts"
import { idArray } from "../src/services/platform/sqlArrays.ts"
import { AppConfig } from "../src/services/platform/AppConfig.ts"
import { Database, DbRole } from "../src/services/platform/Database.ts"
import { EventBus } from "../src/services/platform/EventBus.ts"
import { Migrations } from "../src/services/platform/Migrations.ts"
import { Notifications } from "../src/services/platform/Notifications.ts"
import { Outbox } from "../src/services/cqrs/Outbox.ts"
import { ProjectCommands } from "../src/services/cqrs/ProjectCommands.ts"
import { fmt, printTable, summarize } from "./_table.ts"
import { DatabaseClientLive } from "../src/layers/DatabaseLive.ts"

interface Options {
  readonly updates: number | undefined
  readonly seconds: number
  readonly rate: number
  readonly concurrency: number
  readonly baseline: number
  readonly backends: ReadonlyArray<"postgres" | "embedded">
}

const parseOptions = (args: ReadonlyArray<string>): Options => {
  const value = (name: string) => {
    const index = args.indexOf(`--${name}`)
    return index < 0 ? undefined : args[index + 1]
  }
  const number = (name: string, fallback: number) => {
    const raw = value(name)
    const parsed = raw === undefined ? fallback : Number(raw)
    if (!Number.isFinite(parsed) || parsed <= 0) throw new Error(`--${name} must be a positive number`)
    return parsed
  }
  const backend = value("backend") ?? "both"
  if (!["postgres", "embedded", "both"].includes(backend)) throw new Error("--backend must be postgres, embedded or both")
  return {
    updates: value("updates") === undefined ? undefined : number("updates", 0),
    seconds: number("seconds", 5),
    rate: number("rate", 1000),
    concurrency: number("concurrency", 2),
    baseline: number("baseline", 2000),
    backends: backend === "both" ? ["postgres", "embedded"] : [backend as "postgres" | "embedded"]
  }
}

const projects = 50
const projectId = (p: number) => `0000be00-0000-4000-8000-${p.toString(16).padStart(12, "0")}`
const pageId = (n: number) => `0000be01-0000-4000-8000-${n.toString(16).padStart(12, "0")}`
const owner = "0000be02-0000-4000-8000-000000000001"

const batchedConfig: ApplierConfig = { batchSize: 2000, projectsPerBatch: 16, maxAttempts: 5, retryBaseMillis: 200, retryCapMillis: 30_000 }
const oneByOneConfig: ApplierConfig = { ...batchedConfig, batchSize: 1, projectsPerBatch: 1 }

/** Database, migrations and the platform services (built once per backend). */
const platform = (env: Record<string, string>) =>
  EventBus.layer.pipe(
    Layer.provideMerge(Notifications.layer),
    Layer.provideMerge(Migrations.layer({ run: true })),
    Layer.provideMerge(Database.layer),
    Layer.provideMerge(DatabaseClientLive),
    Layer.provideMerge(AppConfig.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ LOG_LEVEL: "Warn", ...env })))))
  )

const reset = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  yield* sql`TRUNCATE cogo.projection_conflicts, cogo.project_updates, cogo.projection_state, cogo.project_entities, cogo.bus_events`
  yield* sql`DELETE FROM public.projects`
})

/** Projects (projected) and then `count` pending page upserts, each a new page. */
const preload = (count: number) =>
  Effect.gen(function*() {
    const database = yield* Database
    const outbox = yield* Outbox
    const applier = yield* ProjectionApplier
    yield* database.withRole(DbRole.agent, outbox.appendAll(Array.from({ length: projects }, (_, p) => ({
      update: upsert("project", { id: projectId(p), name: `bench ${p}`, description: null, ownerId: owner, settings: {} })
    }))))
    while (madeProgress(yield* applier.processBatch)) { /* project rows first */ }
    for (let start = 0; start < count; start += 5000) {
      const entries = Array.from({ length: Math.min(5000, count - start) }, (_, i) => {
        const n = start + i
        return {
          update: upsert("page", { id: pageId(n), projectId: projectId(n % projects), name: `page ${n}`, route: `/p/${n}`, definition: { n, nodes: [{ type: "text", value: `hello ${n}` }] } })
        }
      })
      yield* database.withRole(DbRole.agent, outbox.appendAll(entries))
    }
  })

const drainWith = (fibers: number) =>
  Effect.gen(function*() {
    const applier = yield* ProjectionApplier
    const start = performance.now()
    yield* Effect.forEach(Array.from({ length: fibers }), () =>
      Effect.gen(function*() {
        while (madeProgress(yield* applier.processBatch)) { /* drain */ }
      }), { concurrency: fibers, discard: true })
    return (performance.now() - start) / 1000
  })

const throughput = (count: number, config: ApplierConfig, fibers: number) =>
  Effect.gen(function*() {
    yield* reset
    yield* preload(count)
    const seconds = yield* drainWith(fibers)
    const sql = yield* PgClient.PgClient
    const [row] = yield* sql<{ n: string }>`SELECT count(*) AS n FROM public.pages`
    if (Number(row!.n) !== count) throw new Error(`expected ${count} projected pages, found ${row!.n}`)
    return { seconds, perSecond: count / seconds }
  }).pipe(Effect.provide(ProjectionApplier.layerWith(config)), Effect.provide(Outbox.layer))

const latency = (options: Options, perTransaction: number) =>
  Effect.gen(function*() {
    yield* reset
    const commands = yield* ProjectCommands
    const notifications = yield* Notifications
    const sql = yield* PgClient.PgClient
    yield* commands.write(Array.from({ length: projects }, (_, p) => ({
      _tag: "upsert" as const, kind: "project" as const, state: { id: projectId(p), name: `bench ${p}`, description: null, ownerId: owner, settings: {} }
    })))
    yield* Effect.sleep(Duration.millis(500))

    const committedAt = new Map<number, number>()
    const visibleAt = new Map<number, number>()
    const pendingByProject = new Map<string, Array<number>>()
    /** Per project, the last update id a projection.applied notification covered. */
    const coveredUpTo = new Map<string, number>()
    // Notifications are taken in arrays (whatever arrived meanwhile), one lookup each, so the watcher's
    // own round trips do not queue up behind a busy pool and inflate what it measures.
    const watcher = yield* notifications.subscribe("bus").pipe(
      Stream.filter((n) => n.payload !== ""),
      Stream.runForEachArray((arrived) =>
        Effect.gen(function*() {
          const seenAt = performance.now()
          const events = yield* sql<{ project_id: string; payload: { lastUpdateId: number } }>`
            SELECT project_id, payload FROM cogo.bus_events
            WHERE id = ANY(${idArray(arrived.map((n) => Number(n.payload)))}::bigint[]) AND kind = 'projection.applied'`
          for (const event of events) {
            const payload = typeof event.payload === "string" ? JSON.parse(event.payload) as { lastUpdateId: number } : event.payload
            coveredUpTo.set(event.project_id, Math.max(coveredUpTo.get(event.project_id) ?? 0, payload.lastUpdateId))
            const pending = pendingByProject.get(event.project_id) ?? []
            const stillPending = pending.filter((id) => {
              if (id > payload.lastUpdateId) return true
              if (!visibleAt.has(id)) visibleAt.set(id, seenAt)
              return false
            })
            pendingByProject.set(event.project_id, stillPending)
          }
        })),
      Effect.forkChild
    )

    // Open loop: one transaction of `perTransaction` updates every perTransaction * 1000 / rate ms.
    const transactions = Math.round((options.rate * options.seconds) / perTransaction)
    const interval = (1000 * perTransaction) / options.rate
    const start = performance.now()
    let lastCommit = start
    const writers: Array<Fiber.Fiber<void, unknown>> = []
    for (let t = 0; t < transactions; t++) {
      const wait = start + t * interval - performance.now()
      if (wait > 1) yield* Effect.sleep(Duration.millis(wait))
      const p = projectId(t % projects)
      writers.push(yield* Effect.forkChild(Effect.gen(function*() {
        const results = yield* commands.write(Array.from({ length: perTransaction }, (_, k) => {
          const n = t * perTransaction + k
          return { _tag: "upsert" as const, kind: "page" as const, state: { id: pageId(1_000_000 + n), projectId: p, name: `live ${n}`, route: null, definition: { n } } }
        }))
        const committed = performance.now()
        lastCommit = Math.max(lastCommit, committed)
        for (const { updateId } of results) {
          committedAt.set(updateId, committed)
          // Already announced before this fiber resumed: visible no later than now.
          if ((coveredUpTo.get(p) ?? 0) >= updateId) visibleAt.set(updateId, committed)
          else pendingByProject.set(p, [...(pendingByProject.get(p) ?? []), updateId])
        }
      })))
    }
    yield* Fiber.joinAll(writers)
    const deadline = performance.now() + 30_000
    while (visibleAt.size < committedAt.size && performance.now() < deadline) yield* Effect.sleep(Duration.millis(20))
    yield* Fiber.interrupt(watcher)
    // The worker's own lag on the database clock (outbox row created -> status applied), free of this
    // process's event-loop delays, and how many batches served the scenario.
    const [worker] = yield* sql<{ p50: number | null; p99: number | null; max: number | null; batches: string }>`
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM applied_at - created_at) * 1000) AS p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM applied_at - created_at) * 1000) AS p99,
             max(extract(epoch FROM applied_at - created_at) * 1000) AS max,
             (SELECT count(DISTINCT created_at) FROM cogo.bus_events WHERE kind = 'projection.applied') AS batches
      FROM cogo.project_updates WHERE aggregate_type = 'page'`
    const samples = [...committedAt.entries()].map(([id, committed]) => Math.max(0, (visibleAt.get(id) ?? Number.NaN) - committed))
    // The rate writers actually committed at (below the offered rate when the writers cannot keep up).
    const committedRate = committedAt.size / ((lastCommit - start) / 1000)
    return {
      ...summarize(samples.filter(Number.isFinite)),
      committedRate,
      missing: samples.filter((s) => !Number.isFinite(s)).length,
      worker: { p50: Number(worker?.p50 ?? Number.NaN), p99: Number(worker?.p99 ?? Number.NaN), max: Number(worker?.max ?? Number.NaN), batches: Number(worker?.batches ?? 0) }
    }
  }).pipe(
    Effect.provide(Layer.mergeAll(ProjectCommands.layer, ProjectionWorker.layerWith(latencyWorker)).pipe(
      Layer.provideMerge(ProjectionApplier.layerWith(batchedConfig)),
      Layer.provideMerge(Outbox.layer)
    ))
  )

const latencyWorker: WorkerConfig = { enabled: true, concurrency: 2, pollMillis: 1000, lagSampleMillis: 5000 }

const admin = (url: string, statement: string) => Effect.runPromise(adminQuery(url, statement))

const benchBackend = (backend: "postgres" | "embedded", env: Record<string, string>, options: Options) =>
  Effect.gen(function*() {
    const count = options.updates ?? (backend === "postgres" ? 50_000 : 20_000)
    const baselineCount = Math.min(count, options.baseline)
    const baseline = yield* throughput(baselineCount, oneByOneConfig, options.concurrency)
    const batched = yield* throughput(count, batchedConfig, options.concurrency)
    const single = yield* latency(options, 1)
    const grouped = yield* latency(options, 10)
    const latencyRow = (perTransaction: number, live: typeof single) => [
      backend,
      `commit-to-visible, ${fmt(options.rate, 0)}/s offered as ${perTransaction === 1 ? "1-update" : `${perTransaction}-update`} transactions (committed ${fmt(live.committedRate, 0)}/s${live.missing > 0 ? `, ${live.missing} not seen` : ""})`,
      fmt(live.count, 0), "", fmt(live.p50), fmt(live.p99), fmt(live.max), ""
    ]
    const workerRow = (live: typeof single) => [
      backend,
      `  of which worker lag, outbox insert -> applied on the DB clock (${fmt(live.worker.batches, 0)} batches)`,
      fmt(live.count, 0), "", fmt(live.worker.p50), fmt(live.worker.p99), fmt(live.worker.max), ""
    ]
    return [
      [backend, "max throughput, 1 update per transaction (baseline)", fmt(baselineCount, 0), fmt(baseline.perSecond, 0), "", "", "", "1.00"],
      [backend, `max throughput, batched (${options.concurrency} fibers)`, fmt(count, 0), fmt(batched.perSecond, 0), "", "", "", fmt(batched.perSecond / baseline.perSecond)],
      latencyRow(1, single),
      workerRow(single),
      latencyRow(10, grouped),
      workerRow(grouped)
    ]
  }).pipe(Effect.scoped, Effect.provide(platform(env)))

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const options = parseOptions(args)
  const rows: Array<ReadonlyArray<string>> = []
  for (const backend of options.backends) {
    if (backend === "embedded") {
      rows.push(...await Effect.runPromise(benchBackend("embedded", { COGO_DATA_DIR: ":memory:" }, options)))
      continue
    }
    const server = process.env["BENCH_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:55432/postgres"
    const database = `cogo_bench_projection_${process.pid}`
    await admin(server, `CREATE DATABASE ${database}`)
    try {
      rows.push(...await Effect.runPromise(benchBackend("postgres", { DATABASE_URL: withDatabase(server, database), DATABASE_POOL_MAX: "16" }, options)))
    } finally {
      await admin(server, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
    }
  }
  printTable("projection", ["backend", "scenario", "updates", "updates/s", "p50 ms", "p99 ms", "max ms", "ratio"], rows)
}
