/**
 * `npm run bench -- jobs [--jobs 10000] [--workers 2] [--concurrency 25] [--batch 500] [--latency 300] [--rounds 3]`
 *
 * The cogo job queue against graphile-worker on the same PostgreSQL (BENCH_DATABASE_URL, default the local
 * test server), in one run, same machine, same shape of work:
 * - throughput: enqueue `--jobs` no-op jobs in batches of `--batch`, then drain them with `--workers`
 *   workers of `--concurrency` each (cogo: orchestrator instances sharing one pool; graphile-worker: runners);
 * - latency: with idle workers, enqueue `--latency` jobs one at a time (own transaction each) and measure
 *   enqueue-to-start (the handler's start minus the moment before the enqueue call), p50/p99.
 * cogo runs three times: streamed kinds, quiet kinds (`stream: false`), and quiet kinds that do not keep succeeded
 * jobs (`keepSucceeded: false`: the completion deletes the job, which is what graphile-worker does with every job).
 * graphile-worker runs twice: with its defaults, and with its batching (localQueue + batched completion),
 * the fairer comparison since cogo claims and completes in batches (and, for the no-op kind, prefetches
 * up to twice its concurrency, as graphile-worker's localQueue does). Ratios are cogo / graphile-worker
 * (throughput: higher is better for cogo; latency and CPU ratios are graphile-worker / cogo, so > 1 also favours cogo).
 * Each queue's table is analyzed between its enqueue and its drain (untimed), as autovacuum keeps a busy
 * queue's statistics: with those of the empty table that each run starts from, graphile-worker's job fetch
 * reads and sorts every queued job on each call until autoanalyze happens to run, which made its figures
 * bimodal (~60 or ~40 µs of CPU per drained job, BENCHMARKS.md section 1). cogo's claim plan is the same either way.
 * CPU per drained job (this process + the database's backends, from /proc, see `_cpu.ts`) and WAL bytes per
 * job are the figures that load on a shared machine moves least.
 * The systems alternate for `--rounds` rounds (a shared machine's load drifts); each figure is the median.
 */
import { adminQuery, withDatabase } from "../test/support/TestDatabase.ts"
import { PgClient } from "@effect/sql-pg"
import { ConfigProvider, Context, Effect, Layer, Schema, type Scope } from "effect"
import { Logger, makeWorkerUtils, run as runGraphile, type Runner, type TaskList } from "graphile-worker"
import * as os from "node:os"
import { intOption } from "./_args.ts"
import { cpuSpent, sampleCpu } from "./_cpu.ts"
import { AppConfig } from "../src/services/platform/AppConfig.ts"
import { Database, DbRole } from "../src/services/platform/Database.ts"
import { EventBus } from "../src/services/platform/EventBus.ts"
import { JobQueue } from "../src/services/jobs/JobQueue.ts"
import { Migrations } from "../src/services/platform/Migrations.ts"
import { Notifications } from "../src/services/platform/Notifications.ts"
import { Orchestrator } from "../src/services/jobs/Orchestrator.ts"
import { DatabaseClientLive } from "../src/layers/DatabaseLive.ts"

interface Options {
  readonly jobs: number
  readonly workers: number
  readonly concurrency: number
  readonly batch: number
  readonly latency: number
  readonly rounds: number
  /** `--only cogo`: skip graphile-worker (for profiling the cogo side alone). */
  readonly only: string | undefined
}

interface Result {
  readonly name: string
  readonly enqueuePerSecond: number
  readonly drainPerSecond: number
  /** CPU per drained job, µs: this process (the queue's client side) and the database's backends. */
  readonly drainCpu: { readonly node: number; readonly db: number }
  /** WAL written per job (bytes; the whole database cluster, so autovacuum adds a little noise). */
  readonly wal: { readonly enqueue: number; readonly drain: number }
  readonly p50: number
  readonly p99: number
}

const parseOptions = (args: ReadonlyArray<string>): Options => {
  const only = args.indexOf("--only")
  return {
    jobs: intOption(args, "jobs", 10_000),
    workers: intOption(args, "workers", 2),
    concurrency: intOption(args, "concurrency", 25),
    batch: intOption(args, "batch", 500),
    latency: intOption(args, "latency", 300),
    rounds: intOption(args, "rounds", 3),
    only: only < 0 ? undefined : args[only + 1]
  }
}

const percentile = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
}

const perJob = (spent: { readonly node: number; readonly server: number }, jobs: number) => ({ node: (spent.node * 1000) / jobs, db: (spent.server * 1000) / jobs })

const walQuery = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::float8 AS n"

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const admin = (url: string, statement: string) => Effect.runPromise(adminQuery(url, statement))

// ---- cogo ----

const cogoPlatform = (url: string, options: Options) => {
  const env = {
    DATABASE_URL: url,
    DATABASE_POOL_MAX: String(10 * options.workers),
    JOBS_CLAIM_BATCH: String(Math.min(options.concurrency * 2, 100)),
    JOBS_POLL_INTERVAL: "2 seconds",
    LOG_LEVEL: "Warn"
  }
  return JobQueue.layer.pipe(
    Layer.provideMerge(EventBus.layer),
    Layer.provideMerge(Notifications.layer),
    Layer.provideMerge(Migrations.layer({ run: true })),
    Layer.provideMerge(Database.layer),
    Layer.provideMerge(DatabaseClientLive),
    Layer.provideMerge(AppConfig.layer),
    Layer.provideMerge(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env)))
  )
}

/** Starts `count` independent orchestrators (own worker id, claim loop, completion writer) in `scope`. */
const startOrchestrators = (count: number, register: (orchestrator: Orchestrator["Service"]) => Effect.Effect<void, never, Scope.Scope>) =>
  Effect.forEach(Array.from({ length: count }), () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(Orchestrator.layer)
      yield* register(Context.get(context, Orchestrator))
    }))

/** A configuration of the bench's cogo kinds (see docs/agents.md, "Kinds"). */
interface CogoKind {
  readonly name: string
  /** `false`: quiet kinds (lifecycle off the bus). */
  readonly stream: boolean
  /** `false`: a succeeded job is deleted by its completion, as graphile-worker does. */
  readonly keepSucceeded: boolean
}

const cogoKinds: ReadonlyArray<CogoKind> = [
  { name: "cogo (job stream on)", stream: true, keepSucceeded: true },
  { name: "cogo (stream: false)", stream: false, keepSucceeded: true },
  { name: "cogo (stream: false, keepSucceeded: false)", stream: false, keepSucceeded: false }
]

const benchCogo = (options: Options, { keepSucceeded, name, stream }: CogoKind) =>
  Effect.gen(function*() {
    const queue = yield* JobQueue
    const db = yield* Database
    const sql = yield* PgClient.PgClient
    // The end of a drain: every handler ran (counted in process), then no job is left queued or running (polled
    // only from then on, through the partial indexes: a count polled during the drain took 4 ms of the database
    // every 10 ms). graphile-worker's drain ends the same way.
    let ran = 0
    const remaining = (kind: string) =>
      Effect.map(
        sql<{ n: string }>`
          SELECT (SELECT count(*) FROM cogo.jobs WHERE state = 'queued' AND kind = ${kind})
               + (SELECT count(*) FROM cogo.jobs WHERE state = 'running' AND kind = ${kind}) AS n`,
        (rows) => Number(rows[0]!.n)
      )

    // Throughput. The kind's settings are known before enqueueing, as in a process that registers its kinds at start.
    yield* queue.configureKind("bench.noop", { stream, keepSucceeded })
    const wal = Effect.map(sql.unsafe<{ n: number }>(walQuery), (rows) => rows[0]!.n)
    const walStart = yield* wal
    const enqueueStart = performance.now()
    for (let done = 0; done < options.jobs; done += options.batch) {
      const size = Math.min(options.batch, options.jobs - done)
      yield* db.withRole(DbRole.agent, queue.enqueueMany(Array.from({ length: size }, () => ({ kind: "bench.noop", payload: {} }))))
    }
    const enqueueSeconds = (performance.now() - enqueueStart) / 1000
    const walEnqueued = yield* wal
    yield* sql`ANALYZE cogo.jobs`
    const cpu = Effect.map(sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`, (rows) => sampleCpu(rows.map((row) => row.pid)))
    const cpuBefore = yield* cpu
    const drainStart = performance.now()
    const [drainSeconds, cpuAfter] = yield* Effect.scoped(Effect.gen(function*() {
      yield* startOrchestrators(options.workers, (o) =>
        o.register({
          kind: "bench.noop",
          payload: Schema.Unknown,
          concurrency: options.concurrency,
          prefetch: 2,
          stream,
          keepSucceeded,
          run: () => Effect.sync(() => ran++)
        }))
      while (ran < options.jobs) yield* Effect.sleep("10 millis")
      while ((yield* remaining("bench.noop")) > 0) yield* Effect.sleep("10 millis")
      return [(performance.now() - drainStart) / 1000, yield* cpu] as const
    }))
    const walDrained = yield* wal

    // Latency.
    const latencies: Array<number> = []
    yield* Effect.scoped(Effect.gen(function*() {
      yield* startOrchestrators(options.workers, (o) =>
        o.register({
          kind: "bench.latency",
          payload: Schema.Struct({ t: Schema.Number }),
          concurrency: options.concurrency,
          stream,
          keepSucceeded,
          run: (payload) => Effect.sync(() => latencies.push(performance.now() - payload.t))
        }))
      yield* Effect.sleep("500 millis") // workers listening and idle
      for (let i = 0; i < options.latency; i++) {
        yield* queue.submit({ kind: "bench.latency", payload: { t: performance.now() } })
        yield* Effect.sleep("5 millis")
      }
      while (latencies.length < options.latency) yield* Effect.sleep("10 millis")
    }))
    return {
      name,
      enqueuePerSecond: options.jobs / enqueueSeconds,
      drainPerSecond: options.jobs / drainSeconds,
      drainCpu: perJob(cpuSpent(cpuBefore, cpuAfter), options.jobs),
      wal: { enqueue: (walEnqueued - walStart) / options.jobs, drain: (walDrained - walEnqueued) / options.jobs },
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99)
    } satisfies Result
  })

// ---- graphile-worker ----

const silent = new Logger(() => () => {})

const benchGraphile = async (url: string, options: Options, batched: boolean): Promise<Result> => {
  const utils = await makeWorkerUtils({ connectionString: url, logger: silent })
  await utils.migrate()
  const preset = batched ? { worker: { localQueue: { size: Math.min(options.concurrency * 2, 100) }, completeJobBatchDelay: 0 } } : {}
  const start = (taskList: TaskList) =>
    Promise.all(Array.from({ length: options.workers }, () =>
      runGraphile({ connectionString: url, concurrency: options.concurrency, noHandleSignals: true, pollInterval: 2000, logger: silent, taskList, preset })))
  const stop = (runners: ReadonlyArray<Runner>) => Promise.all(runners.map((r) => r.stop()))
  const remaining = () =>
    utils.withPgClient(async (client) => Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM graphile_worker.jobs")).rows[0]!.n))
  const wal = () => utils.withPgClient(async (client) => (await client.query<{ n: number }>(walQuery)).rows[0]!.n)
  try {
    const walStart = await wal()
    const enqueueStart = performance.now()
    for (let done = 0; done < options.jobs; done += options.batch) {
      const size = Math.min(options.batch, options.jobs - done)
      await utils.addJobs(Array.from({ length: size }, () => ({ identifier: "noop", payload: {} })))
    }
    const enqueueSeconds = (performance.now() - enqueueStart) / 1000
    const walEnqueued = await wal()
    await utils.withPgClient((client) => client.query("ANALYZE graphile_worker._private_jobs"))
    const cpu = () =>
      utils.withPgClient(async (client) =>
        sampleCpu((await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).rows.map((row) => row.pid)))
    const cpuBefore = await cpu()
    const drainStart = performance.now()
    let ran = 0
    const drainers = await start({
      noop: async () => {
        ran++
      }
    })
    while (ran < options.jobs) await sleep(10)
    while ((await remaining()) > 0) await sleep(10)
    const drainSeconds = (performance.now() - drainStart) / 1000
    const drainCpu = perJob(cpuSpent(cpuBefore, await cpu()), options.jobs)
    const walDrained = await wal()
    await stop(drainers)

    const latencies: Array<number> = []
    const listeners = await start({
      latency: async (payload) => {
        latencies.push(performance.now() - (payload as { t: number }).t)
      }
    })
    await sleep(500)
    for (let i = 0; i < options.latency; i++) {
      await utils.addJob("latency", { t: performance.now() })
      await sleep(5)
    }
    while (latencies.length < options.latency) await sleep(10)
    await stop(listeners)
    return {
      name: batched ? "graphile-worker (localQueue + batched completion)" : "graphile-worker (defaults)",
      enqueuePerSecond: options.jobs / enqueueSeconds,
      drainPerSecond: options.jobs / drainSeconds,
      drainCpu,
      wal: { enqueue: (walEnqueued - walStart) / options.jobs, drain: (walDrained - walEnqueued) / options.jobs },
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99)
    }
  } finally {
    await utils.release()
  }
}

const cpuOf = (r: Result) => r.drainCpu.node + r.drainCpu.db

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits })

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const options = parseOptions(args)
  const server = process.env["BENCH_DATABASE_URL"] ?? "postgres://postgres@127.0.0.1:55432/postgres"
  const database = `cogo_bench_jobs_${process.pid}`
  const url = withDatabase(server, database)
  await admin(server, `CREATE DATABASE ${database}`)
  try {
    const runs: Array<ReadonlyArray<Result>> = []
    // Every run starts from a vacuumed, checkpointed database: otherwise the first run after another pays for
    // autovacuum of what that one left behind (finished cogo jobs, deleted graphile-worker rows).
    const settle = async () => {
      await admin(url, "VACUUM (ANALYZE)")
      await admin(url, "CHECKPOINT")
    }
    const cogoRun = async (kind: CogoKind, run = options) => {
      await settle()
      return Effect.runPromise(benchCogo(run, kind).pipe(Effect.scoped, Effect.provide(cogoPlatform(url, run))))
    }
    const graphileRun = async (run: Options, batched: boolean) => {
      await settle()
      return benchGraphile(url, run, batched)
    }
    // An unrecorded round first (a short latency part): otherwise the first measured run pays for JIT warm-up.
    const warmUp = { ...options, latency: Math.min(options.latency, 50) }
    await cogoRun(cogoKinds[0]!, warmUp)
    if (options.only !== "cogo") await graphileRun(warmUp, true)
    for (let round = 0; round < options.rounds; round++) {
      // The first run of a round tends to pay for the garbage and JIT of what ran before: the cogo runs rotate every round.
      const cogo: Array<Result> = []
      for (let i = 0; i < cogoKinds.length; i++) {
        const k = (i + round) % cogoKinds.length
        cogo[k] = await cogoRun(cogoKinds[k]!)
      }
      if (options.only === "cogo") {
        for (const r of cogo) {
          process.stdout.write(
          `${r.name}: enqueue ${fmt(r.enqueuePerSecond)}/s, drain ${fmt(r.drainPerSecond)}/s (CPU per job: node ${fmt(r.drainCpu.node, 1)} µs + db ${
            fmt(r.drainCpu.db, 1)
          } µs; WAL per job: enqueue ${fmt(r.wal.enqueue)} B + drain ${fmt(r.wal.drain)} B), start p50 ${fmt(r.p50, 1)} ms, p99 ${fmt(r.p99, 1)} ms\n`
        )
        }
        continue
      }
      const defaultsRun = await graphileRun(options, false)
      const batchedRun = await graphileRun(options, true)
      runs.push([...cogo, defaultsRun, batchedRun])
      process.stderr.write(`round ${round + 1}/${options.rounds}: drain ${runs[round]!.map((r) => fmt(r.drainPerSecond)).join(" / ")} jobs/s\n`)
    }
    if (options.only === "cogo") return
    const median = (column: number): Result => {
      const results = runs.map((r) => r[column]!)
      const mid = (f: (r: Result) => number) => percentile(results.map(f), 50)
      return {
        name: results[0]!.name,
        enqueuePerSecond: mid((r) => r.enqueuePerSecond),
        drainPerSecond: mid((r) => r.drainPerSecond),
        drainCpu: { node: mid((r) => r.drainCpu.node), db: mid((r) => r.drainCpu.db) },
        wal: { enqueue: mid((r) => r.wal.enqueue), drain: mid((r) => r.wal.drain) },
        p50: mid((r) => r.p50),
        p99: mid((r) => r.p99)
      }
    }
    const rows = runs[0]!.map((_, column) => median(column))
    const cogo = rows.slice(0, cogoKinds.length)
    const [graphileDefaults, graphileBatched] = rows.slice(cogoKinds.length) as [Result, Result]
    const host = new URL(server)
    const ratio = (cogo: Result, g: Result) =>
      `${cogo.name} / ${g.name}: drain ${fmt(cogo.drainPerSecond / g.drainPerSecond, 2)}x, enqueue ${fmt(cogo.enqueuePerSecond / g.enqueuePerSecond, 2)}x, ` +
      `latency p50 ${fmt(g.p50 / cogo.p50, 2)}x, p99 ${fmt(g.p99 / cogo.p99, 2)}x, drain CPU per job ${fmt(cpuOf(g) / cpuOf(cogo), 2)}x (goal >= 1.0)`
    process.stdout.write(
      `\njobs benchmark: ${fmt(options.jobs)} no-op jobs, enqueue batches of ${options.batch}, ` +
        `${options.workers} workers x concurrency ${options.concurrency}; latency over ${options.latency} jobs; ` +
        `median of ${options.rounds} alternating rounds; ` +
        `PostgreSQL at ${host.hostname}:${host.port || "5432"}; ${os.cpus().length} cores, Node ${process.version}; ` +
        `load average ${os.loadavg().map((n) => n.toFixed(2)).join(" ")}\n\n` +
        "| queue | enqueue jobs/s | drain jobs/s | drain CPU µs/job (node + db) | WAL B/job (enqueue + drain) | enqueue-to-start p50 ms | p99 ms |\n" +
        "|---|---:|---:|---:|---:|---:|---:|\n" +
        rows.map((r) =>
          `| ${r.name} | ${fmt(r.enqueuePerSecond)} | ${fmt(r.drainPerSecond)} | ${fmt(cpuOf(r), 1)} (${fmt(r.drainCpu.node, 1)} + ${fmt(r.drainCpu.db, 1)}) | ${
            fmt(r.wal.enqueue + r.wal.drain)
          } (${fmt(r.wal.enqueue)} + ${fmt(r.wal.drain)}) | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} |`
        ).join("\n") +
        "\n\n" +
        cogo.flatMap((c) => [graphileDefaults, graphileBatched].map((g) => ratio(c, g))).join("\n") + "\n"
    )
  } finally {
    await admin(server, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)
  }
}
