/**
 * `npm run bench -- orchestrator [--jobs 200000] [--rounds 5] [--concurrency 25] [--prefetch 2]`
 *
 * The orchestrator's per-job path alone: its workers over an in-memory job queue (claims hand out no-op jobs
 * at once, completions are counted), so the figure is the Node CPU one job costs the orchestrator (fiber,
 * permit, timeout timer, span, metrics, completion batching), without the database or its driver.
 * Baseline, in the same process: the least an effect worker pool does per job (a fiber per job under a
 * semaphore of the same size, results collected in an array). Ratio = baseline CPU / orchestrator CPU.
 * Runs as the service's bundle (see `run.ts`).
 */
import { ConfigProvider, Context, Duration, Effect, Fiber, Layer, References, Schedule, Schema, Semaphore, Stream } from "effect"
import type { ClaimedJob, JobId } from "../src/domain/jobs/Job.ts"
import { JobQueue } from "../src/services/jobs/JobQueue.ts"
import { Orchestrator } from "../src/services/jobs/Orchestrator.ts"
import { Notifications } from "../src/services/platform/Notifications.ts"
import { intOption } from "./_args.ts"
import { fmt, printTable } from "./_table.ts"

interface Options {
  readonly jobs: number
  readonly rounds: number
  readonly concurrency: number
  readonly prefetch: number
}

const parseOptions = (args: ReadonlyArray<string>): Options => ({
  jobs: intOption(args, "jobs", 200_000),
  rounds: intOption(args, "rounds", 5),
  concurrency: intOption(args, "concurrency", 25),
  prefetch: intOption(args, "prefetch", 2)
})

/** A queue of `jobs` no-op jobs, stored nowhere: what the orchestrator sees of the database, answered at once. */
const inMemoryQueue = (jobs: number) => {
  let queued = jobs
  let completed = 0
  let next = 0
  const createdAt = new Date()
  // One enqueuing span's trace for every job, as for the jobs of one enqueue batch.
  const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
  const unused = Effect.die(new Error("not used by the orchestrator's drain"))
  const queue = JobQueue.of({
    claim: (options) =>
      Effect.sync(() => {
        const n = Math.min(options.limit, queued)
        queued -= n
        return Array.from({ length: n }, (): ClaimedJob => ({
          id: `00000000-0000-4000-8000-${String(next++).padStart(12, "0")}` as JobId,
          kind: options.kinds[0]!,
          projectId: null,
          payload: {},
          attempt: 1,
          maxAttempts: 5,
          traceparent,
          createdAt,
          startedAt: new Date()
        }))
      }),
    completeMany: (_workerId, items) =>
      Effect.sync(() => {
        completed += items.length
        return items.map((item) => item.job.id)
      }),
    complete: () => Effect.succeed(true),
    heartbeat: (_workerId, ids) => Effect.succeed(ids),
    configureKind: () => Effect.void,
    rescueExpired: Effect.succeed(0),
    enqueue: () => unused,
    enqueueMany: () => unused,
    submit: () => unused,
    progress: () => unused,
    log: () => unused,
    fail: () => unused,
    cancel: () => unused,
    get: () => unused,
    events: () => unused,
    awaitTerminal: () => unused
  })
  return { queue, done: () => completed >= jobs }
}

/** Wake-ups by polling only (nothing notifies here). */
const polling = Notifications.of({
  notify: () => Effect.void,
  subscribe: () => Stream.never,
  wakeups: (_topic, every) => Stream.fromSchedule(Schedule.spaced(Duration.fromInputUnsafe(every))).pipe(Stream.as(undefined))
})

const measure = <E>(jobs: number, drain: Effect.Effect<void, E>) =>
  Effect.gen(function*() {
    const cpu = process.cpuUsage()
    const start = performance.now()
    yield* drain
    const spent = process.cpuUsage(cpu)
    return { perSecond: jobs / ((performance.now() - start) / 1000), cpuMicros: (spent.user + spent.system) / jobs }
  })

const orchestratorDrain = (options: Options) =>
  Effect.scoped(Effect.gen(function*() {
    const { queue, done } = inMemoryQueue(options.jobs)
    const context = yield* Layer.build(Orchestrator.layer.pipe(
      Layer.provide(Layer.mergeAll(Layer.succeed(JobQueue, queue), Layer.succeed(Notifications, polling)))
    ))
    yield* Context.get(context, Orchestrator).register({
      kind: "bench.noop",
      payload: Schema.Unknown,
      concurrency: options.concurrency,
      prefetch: options.prefetch,
      run: () => Effect.void
    })
    while (!done()) yield* Effect.sleep("5 millis")
  }))

const baselineDrain = (options: Options) =>
  Effect.gen(function*() {
    const permits = yield* Semaphore.make(options.concurrency)
    const results: Array<unknown> = []
    const fibers = []
    for (let i = 0; i < options.jobs; i++) {
      fibers.push(yield* Effect.forkChild(Semaphore.withPermit(permits)(Effect.sync(() => results.push(i)))))
    }
    yield* Fiber.joinAll(fibers)
  })

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const options = parseOptions(args)
  const rows = await Effect.runPromise(Effect.gen(function*() {
    const orchestrator: Array<{ perSecond: number; cpuMicros: number }> = []
    const baseline: Array<{ perSecond: number; cpuMicros: number }> = []
    // One unrecorded round of each first (JIT warm-up); then they alternate.
    yield* measure(options.jobs, orchestratorDrain(options))
    yield* measure(options.jobs, baselineDrain(options))
    for (let round = 0; round < options.rounds; round++) {
      orchestrator.push(yield* measure(options.jobs, orchestratorDrain(options)))
      baseline.push(yield* measure(options.jobs, baselineDrain(options)))
    }
    const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    const o = { perSecond: median(orchestrator.map((r) => r.perSecond)), cpu: median(orchestrator.map((r) => r.cpuMicros)) }
    const b = { perSecond: median(baseline.map((r) => r.perSecond)), cpu: median(baseline.map((r) => r.cpuMicros)) }
    return [
      ["orchestrator over an in-memory queue", fmt(o.perSecond, 0), fmt(o.cpu), fmt(b.cpu / o.cpu)],
      ["baseline: a fiber per job under a semaphore", fmt(b.perSecond, 0), fmt(b.cpu), "1"]
    ]
  }).pipe(
    // The orchestrator's settings at their defaults, whatever this shell sets; its start-up lines are not the table.
    Effect.provideService(References.MinimumLogLevel, "Warn"),
    Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({})))
  ))
  printTable(
    `orchestrator: ${fmt(options.jobs, 0)} no-op jobs, concurrency ${options.concurrency} x prefetch ${options.prefetch}, median of ${options.rounds} rounds`,
    ["path", "jobs/s", "CPU µs/job", "ratio (baseline CPU / this)"],
    rows
  )
}
