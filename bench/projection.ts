/**
 * `npm run bench -- projection [--updates N] [--seconds S] [--rate R] [--concurrency C] [--baseline N] [--backend postgres|embedded|both] [--scenario throughput|latency|all]`
 *
 * The projection worker, on real PostgreSQL (BENCH_DATABASE_URL, default the local test server; a fresh
 * database is created and dropped) and on the embedded PGlite backend:
 * - max throughput: N page upserts (each a distinct aggregate, so collapsing repeated updates does not
 *   help) over 50 projects are appended to the outbox first, then C worker fibers drain them; updates/s =
 *   N / drain time. Baseline in the same process: the same applier with one update per transaction.
 * - latency: with the background worker running (woken by LISTEN/NOTIFY), updates are written through
 *   ProjectCommands at a fixed offered rate R for S seconds (open loop, bench/_projection-writers.ts: in a
 *   worker thread of its own on PostgreSQL, so the process under test does not queue behind the load
 *   generator's event loop; inline on the embedded backend), once as single-update transactions (R
 *   transactions/s) and once as 10-update transactions (R/10 transactions/s). The row says the rate the
 *   writers committed at and whether it reached the offered rate (>= 98%): below it, the writers, not the
 *   projection, were the limit. Commit-to-visible = arrival of the `projection.applied` bus notification
 *   that covers the update (what an IDE's SSE stream sees) minus the moment the writing transaction
 *   returned (epoch clock, comparable across threads). A second row gives the worker's share on the
 *   database clock (outbox `created_at` -> `applied_at`), which excludes event-loop delays, and the number
 *   of batches that served the scenario.
 * - `--scenario throughput|latency` runs one half only (profiling).
 */
import { Worker } from "node:worker_threads"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Fiber, Layer, Stream } from "effect"
import { upsert } from "../src/domain/cqrs/ProjectUpdate.ts"
import { type ApplierConfig, madeProgress, ProjectionApplier } from "../src/projection/Applier.ts"
import { ProjectionWorker, type WorkerConfig } from "../src/projection/ProjectionWorker.ts"
import { idArray } from "../src/services/platform/sqlArrays.ts"
import { Database, DbRole } from "../src/services/platform/Database.ts"
import { Notifications } from "../src/services/platform/Notifications.ts"
import { Outbox } from "../src/services/cqrs/Outbox.ts"
import { ProjectCommands } from "../src/services/cqrs/ProjectCommands.ts"
import { cpuSpent, sampleCpu } from "./_cpu.ts"
import { fmt, printTable, summarize } from "./_table.ts"
import { perBackend, platform } from "./_backends.ts"
import { benchPageId, benchProjectId, type Commit, epochMillis, type WriterPlan, type WriterResult, writeOpenLoop } from "./_projection-writers.ts"

interface Options {
  readonly updates: number | undefined
  readonly seconds: number
  readonly rate: number
  readonly concurrency: number
  readonly baseline: number
  readonly backends: ReadonlyArray<"postgres" | "embedded">
  readonly scenarios: ReadonlyArray<"throughput" | "latency">
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
  const scenario = value("scenario") ?? "all"
  if (!["throughput", "latency", "all"].includes(scenario)) throw new Error("--scenario must be throughput, latency or all")
  return {
    updates: value("updates") === undefined ? undefined : number("updates", 0),
    seconds: number("seconds", 5),
    rate: number("rate", 1000),
    concurrency: number("concurrency", 2),
    baseline: number("baseline", 2000),
    backends: backend === "both" ? ["postgres", "embedded"] : [backend as "postgres" | "embedded"],
    scenarios: scenario === "all" ? ["throughput", "latency"] : [scenario as "throughput" | "latency"]
  }
}

const projects = 50
const projectId = benchProjectId
const pageId = benchPageId
const owner = "0000be02-0000-4000-8000-000000000001"

const batchedConfig: ApplierConfig = { batchSize: 2000, projectsPerBatch: 16, maxAttempts: 5, retryBaseMillis: 200, retryCapMillis: 30_000 }
const oneByOneConfig: ApplierConfig = { ...batchedConfig, batchSize: 1, projectsPerBatch: 1 }


const reset = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  yield* sql`TRUNCATE cogo.conflict_resolutions, cogo.projection_conflicts, cogo.project_updates, cogo.projection_state, cogo.project_entities, cogo.bus_events`
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

/** CPU of this process and of the bench database's backends (see `_cpu.ts`). */
const cpuMillis = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const backends = yield* sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`
  return sampleCpu(backends.map(({ pid }) => pid))
})

const throughput = (count: number, config: ApplierConfig, fibers: number) =>
  Effect.gen(function*() {
    yield* reset
    yield* preload(count)
    const before = yield* cpuMillis
    const seconds = yield* drainWith(fibers)
    const cpu = cpuSpent(before, yield* cpuMillis)
    const sql = yield* PgClient.PgClient
    const [row] = yield* sql<{ n: string }>`SELECT count(*) AS n FROM public.pages`
    if (Number(row!.n) !== count) throw new Error(`expected ${count} projected pages, found ${row!.n}`)
    return { seconds, perSecond: count / seconds, cpuPerUpdate: { node: cpu.node / count, server: cpu.server / count } }
  }).pipe(Effect.provide(ProjectionApplier.layerWith(config)), Effect.provide(Outbox.layer))

/** A `projection.applied` notification as the watcher saw it: which project, up to which update, when (epoch ms). */
interface Announcement {
  readonly projectId: string
  readonly lastUpdateId: number
  readonly seenAt: number
}

/**
 * When each commit became visible: the first announcement of its project covering its id, seen after the
 * commit (an announcement that arrived before the writer's commit returned counts as visible at once).
 */
const visibility = (commits: ReadonlyArray<Commit>, announcements: ReadonlyArray<Announcement>) => {
  const byProject = new Map<string, Array<Announcement>>()
  for (const a of announcements) {
    const list = byProject.get(a.projectId) ?? []
    list.push(a)
    byProject.set(a.projectId, list)
  }
  return commits.map((commit) => {
    const first = (byProject.get(commit.projectId) ?? []).find((a) => a.lastUpdateId >= commit.updateId)
    return first === undefined ? Number.NaN : Math.max(0, first.seenAt - commit.at)
  })
}

/** Runs the open-loop writers in a worker thread of their own (PostgreSQL) or inline (embedded). */
const runWriters = (plan: WriterPlan, databaseUrl: string | undefined) =>
  databaseUrl === undefined
    ? writeOpenLoop(plan)
    : Effect.promise(() =>
      new Promise<WriterResult>((resolve, reject) => {
        const thread = new Worker(new URL("./_projection-writers.ts", import.meta.url), { workerData: { projectionWriters: plan, databaseUrl } })
        thread.once("message", (result: WriterResult) => resolve(result))
        thread.once("error", reject)
        thread.once("exit", (code) => code === 0 ? undefined : reject(new Error(`writer thread exited with ${code}`)))
      })
    )

const latency = (options: Options, perTransaction: number, databaseUrl: string | undefined) =>
  Effect.gen(function*() {
    yield* reset
    const commands = yield* ProjectCommands
    const notifications = yield* Notifications
    const sql = yield* PgClient.PgClient
    yield* commands.write(Array.from({ length: projects }, (_, p) => ({
      _tag: "upsert" as const, kind: "project" as const, state: { id: projectId(p), name: `bench ${p}`, description: null, ownerId: owner, settings: {} }
    })))
    yield* Effect.sleep(Duration.millis(500))

    // Notifications are taken in arrays (whatever arrived meanwhile), one lookup each, so the watcher's
    // own round trips do not queue up behind a busy pool and inflate what it measures. Matching with the
    // commits happens after the run.
    const announcements: Array<Announcement> = []
    const watcher = yield* notifications.subscribe("bus").pipe(
      Stream.filter((n) => n.payload !== ""),
      Stream.runForEachArray((arrived) =>
        Effect.gen(function*() {
          const seenAt = epochMillis()
          const events = yield* sql<{ project_id: string; payload: { lastUpdateId: number } | string }>`
            SELECT project_id, payload FROM cogo.bus_events
            WHERE id = ANY(${idArray(arrived.map((n) => Number(n.payload)))}::bigint[]) AND kind = 'projection.applied'`
          for (const event of events) {
            const payload = typeof event.payload === "string" ? JSON.parse(event.payload) as { lastUpdateId: number } : event.payload
            announcements.push({ projectId: event.project_id, lastUpdateId: payload.lastUpdateId, seenAt })
          }
        })),
      Effect.forkChild
    )

    // How long this process's event loop (projection worker, watcher) was held up while the writers ran.
    const loopDelay = monitorEventLoopDelay({ resolution: 5 })
    loopDelay.enable()
    const written = yield* runWriters({ rate: options.rate, seconds: options.seconds, perTransaction, projects }, databaseUrl)
    loopDelay.disable()
    const deadline = performance.now() + 30_000
    while (visibility(written.commits, announcements).some(Number.isNaN) && performance.now() < deadline) yield* Effect.sleep(Duration.millis(50))
    yield* Fiber.interrupt(watcher)
    // The worker's own lag on the database clock (outbox row created -> status applied), free of this
    // process's event-loop delays, and how many batches served the scenario.
    const [worker] = yield* sql<{ p50: number | null; p99: number | null; max: number | null; batches: string }>`
      SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM applied_at - created_at) * 1000) AS p50,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM applied_at - created_at) * 1000) AS p99,
             max(extract(epoch FROM applied_at - created_at) * 1000) AS max,
             (SELECT count(DISTINCT created_at) FROM cogo.bus_events WHERE kind = 'projection.applied') AS batches
      FROM cogo.project_updates WHERE aggregate_type = 'page'`
    const samples = visibility(written.commits, announcements)
    // The rate writers actually committed at (below the offered rate when the writers cannot keep up).
    const committedRate = written.commits.length / ((written.lastCommit - written.start) / 1000)
    return {
      ...summarize(samples.filter(Number.isFinite)),
      committedRate,
      missing: samples.filter((s) => !Number.isFinite(s)).length,
      worker: { p50: Number(worker?.p50 ?? Number.NaN), p99: Number(worker?.p99 ?? Number.NaN), max: Number(worker?.max ?? Number.NaN), batches: Number(worker?.batches ?? 0) },
      // The histogram is in ns and includes the 5 ms sampling resolution.
      loopDelay: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 }
    }
  }).pipe(
    Effect.provide(Layer.mergeAll(ProjectCommands.layer, ProjectionWorker.layerWith(latencyWorker)).pipe(
      Layer.provideMerge(ProjectionApplier.layerWith(batchedConfig)),
      Layer.provideMerge(Outbox.layer)
    ))
  )

const latencyWorker: WorkerConfig = { enabled: true, concurrency: 2, pollMillis: 1000, lagSampleMillis: 5000 }

/** CPU per update in µs: this process + the database server (embedded: all in this process). */
const cpuCell = (cpu: { readonly node: number; readonly server: number }) =>
  `${fmt(cpu.node * 1000, 0)} + ${fmt(cpu.server * 1000, 0)} = ${fmt((cpu.node + cpu.server) * 1000, 0)}`

const benchBackend = (backend: "postgres" | "embedded", env: Record<string, string>, options: Options) =>
  Effect.gen(function*() {
    const count = options.updates ?? (backend === "postgres" ? 50_000 : 20_000)
    const baselineCount = Math.min(count, options.baseline)
    const rows: Array<ReadonlyArray<string>> = []
    if (options.scenarios.includes("throughput")) {
      const baseline = yield* throughput(baselineCount, oneByOneConfig, options.concurrency)
      const batched = yield* throughput(count, batchedConfig, options.concurrency)
      rows.push(
        [backend, "max throughput, 1 update per transaction (baseline)", fmt(baselineCount, 0), fmt(baseline.perSecond, 0), "", "", "", "1.00", cpuCell(baseline.cpuPerUpdate)],
        [backend, `max throughput, batched (${options.concurrency} fibers)`, fmt(count, 0), fmt(batched.perSecond, 0), "", "", "", fmt(batched.perSecond / baseline.perSecond), cpuCell(batched.cpuPerUpdate)]
      )
    }
    if (options.scenarios.includes("latency")) {
      for (const perTransaction of [1, 10]) {
        const live = yield* latency(options, perTransaction, env["DATABASE_URL"])
        rows.push(
          [
            backend,
            `commit-to-visible, ${fmt(options.rate, 0)}/s offered as ${perTransaction === 1 ? "1-update" : `${perTransaction}-update`} transactions (committed ${fmt(live.committedRate, 0)}/s: ${
              live.committedRate >= 0.98 * options.rate ? "rate reached" : "rate NOT reached"
            }${live.missing > 0 ? `, ${live.missing} not seen` : ""})`,
            fmt(live.count, 0), "", fmt(live.p50), fmt(live.p99), fmt(live.max), ""
          ],
          [
            backend,
            `  of which worker lag, outbox insert -> applied on the DB clock (${fmt(live.worker.batches, 0)} batches)`,
            fmt(live.count, 0), "", fmt(live.worker.p50), fmt(live.worker.p99), fmt(live.worker.max), ""
          ],
          [
            backend,
            "  event-loop delay of the process under test (worker + watcher; 5 ms sampling included)",
            "", "", fmt(live.loopDelay.p50), fmt(live.loopDelay.p99), fmt(live.loopDelay.max), ""
          ]
        )
      }
    }
    return rows
  }).pipe(Effect.scoped, Effect.provide(platform(env)))

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const options = parseOptions(args)
  const rows = await perBackend("projection", options.backends, (backend, env) => benchBackend(backend, env, options))
  printTable("projection", ["backend", "scenario", "updates", "updates/s", "p50 ms", "p99 ms", "max ms", "ratio", "CPU µs/update node + db"], rows)
}
