/**
 * The load generator of `bench/projection.ts`'s latency scenario: page upserts written through
 * ProjectCommands at a fixed offered rate (open loop), one transaction of `perTransaction` updates every
 * `perTransaction * 1000 / rate` ms, spread over the bench's projects. On PostgreSQL it runs in a worker
 * thread of its own (this file is the thread's entry), so the process under test (projection worker and
 * the watcher) does not queue behind the load generator's event loop; on the embedded backend (one
 * process by construction) it runs inline. Commit times are epoch milliseconds in high resolution
 * (`performance.timeOrigin + performance.now()`), comparable across threads.
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads"
import { ConfigProvider, Duration, Effect, Fiber, Layer } from "effect"
import { DatabaseClientLive } from "../src/layers/DatabaseLive.ts"
import { Outbox } from "../src/services/cqrs/Outbox.ts"
import { ProjectCommands } from "../src/services/cqrs/ProjectCommands.ts"
import { AppConfig } from "../src/services/platform/AppConfig.ts"
import { Database } from "../src/services/platform/Database.ts"

export const benchProjectId = (p: number) => `0000be00-0000-4000-8000-${p.toString(16).padStart(12, "0")}`
export const benchPageId = (n: number) => `0000be01-0000-4000-8000-${n.toString(16).padStart(12, "0")}`

export const epochMillis = () => performance.timeOrigin + performance.now()

export interface WriterPlan {
  readonly rate: number
  readonly seconds: number
  readonly perTransaction: number
  readonly projects: number
}

/** One committed update: its outbox id, its project, when its transaction returned (epoch ms). */
export interface Commit {
  readonly updateId: number
  readonly projectId: string
  readonly at: number
}

export interface WriterResult {
  readonly commits: ReadonlyArray<Commit>
  /** Epoch ms of the first scheduled transaction and of the last commit. */
  readonly start: number
  readonly lastCommit: number
}

/** Writes the plan's transactions on schedule (each in a fiber of its own: open loop). */
export const writeOpenLoop = (plan: WriterPlan) =>
  Effect.gen(function*() {
    const commands = yield* ProjectCommands
    const transactions = Math.round((plan.rate * plan.seconds) / plan.perTransaction)
    const interval = (1000 * plan.perTransaction) / plan.rate
    const commits: Array<Commit> = []
    const start = epochMillis()
    let lastCommit = start
    const writers: Array<Fiber.Fiber<void, unknown>> = []
    for (let t = 0; t < transactions; t++) {
      const wait = start + t * interval - epochMillis()
      if (wait > 1) yield* Effect.sleep(Duration.millis(wait))
      const projectId = benchProjectId(t % plan.projects)
      writers.push(yield* Effect.forkChild(Effect.gen(function*() {
        const results = yield* commands.write(Array.from({ length: plan.perTransaction }, (_, k) => {
          const n = t * plan.perTransaction + k
          return { _tag: "upsert" as const, kind: "page" as const, state: { id: benchPageId(1_000_000 + n), projectId, name: `live ${n}`, route: null, definition: { n } } }
        }))
        const at = epochMillis()
        lastCommit = Math.max(lastCommit, at)
        for (const { updateId } of results) commits.push({ updateId, projectId, at })
      })))
    }
    yield* Fiber.joinAll(writers)
    return { commits, start, lastCommit } satisfies WriterResult
  })

/** Thread entry: `workerData = { projectionWriters: plan, databaseUrl }`; posts the `WriterResult`. */
if (!isMainThread && parentPort !== null && (workerData as { projectionWriters?: WriterPlan } | null)?.projectionWriters !== undefined) {
  const { projectionWriters: plan, databaseUrl } = workerData as { projectionWriters: WriterPlan; databaseUrl: string }
  const port = parentPort
  const layer = ProjectCommands.layer.pipe(
    Layer.provideMerge(Outbox.layer),
    Layer.provideMerge(Database.layer),
    Layer.provideMerge(DatabaseClientLive),
    Layer.provideMerge(AppConfig.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({
      LOG_LEVEL: "Warn", DATABASE_URL: databaseUrl, DATABASE_POOL_MAX: "16"
    })))))
  )
  const result = await Effect.runPromise(writeOpenLoop(plan).pipe(Effect.provide(layer)))
  port.postMessage(result)
}
