/**
 * The projection worker: a scoped background service of the service process. `PROJECTION_CONCURRENCY`
 * fibers each drain the outbox batch after batch, then sleep until the next `outbox` notification or poll
 * tick (one shared LISTEN connection per process, through `Notifications.wakeups`). Any number of fibers
 * and replicas may run against one database: batches lock disjoint projects (see Applier).
 */
import { Config, Context, Duration, Effect, Layer, Metric, Schedule, Stream } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import { Notifications } from "../services/Notifications.ts"
import { madeProgress, ProjectionApplier } from "./Applier.ts"
import { deadLettersParked, outboxOldestPendingAge, outboxPending } from "./ProjectionMetrics.ts"

export const workerConfig = Config.all({
  enabled: Config.Boolean("PROJECTION_ENABLED").pipe(Config.withDefault(true)),
  concurrency: Config.Int("PROJECTION_CONCURRENCY").pipe(Config.withDefault(2)),
  pollMillis: Config.Int("PROJECTION_POLL_MS").pipe(Config.withDefault(1000)),
  lagSampleMillis: Config.Int("PROJECTION_LAG_SAMPLE_MS").pipe(Config.withDefault(5000))
})
export type WorkerConfig = typeof workerConfig extends Config.Config<infer A> ? A : never

export interface OutboxLag {
  readonly pending: number
  readonly oldestPendingAgeSeconds: number
  readonly deadLetters: number
}

export class ProjectionWorker extends Context.Service<ProjectionWorker, {
  /** Processes batches until one makes no progress; returns the number of updates decided. */
  readonly drain: Effect.Effect<number, SqlError>
  /** Samples the outbox lag (also exported as gauges every `PROJECTION_LAG_SAMPLE_MS`). */
  readonly lag: Effect.Effect<OutboxLag, SqlError>
}>()("cogo/ProjectionWorker") {
  static readonly layer = Layer.effect(
    ProjectionWorker,
    Effect.gen(function*() {
      return yield* makeWorker(yield* workerConfig)
    })
  )

  static readonly layerWith = (config: WorkerConfig) => Layer.effect(ProjectionWorker, makeWorker(config))
}

const makeWorker = (config: WorkerConfig) =>
  Effect.gen(function*() {
    const applier = yield* ProjectionApplier
    const notifications = yield* Notifications
    const sql = yield* PgClient.PgClient

    const drain = Effect.gen(function*() {
      let decided = 0
      while (true) {
        const summary = yield* applier.processBatch
        if (!madeProgress(summary)) return decided
        decided += summary.claimed - summary.held
      }
    })

    const lag = Effect.map(
      sql<{ pending: string; age: number | null; dead: string }>`
        SELECT (SELECT count(*) FROM cogo.project_updates WHERE status = 'pending') AS pending,
               (SELECT extract(epoch FROM clock_timestamp() - min(created_at))::float8 FROM cogo.project_updates WHERE status = 'pending') AS age,
               (SELECT count(*) FROM cogo.project_updates WHERE status = 'dead') AS dead`,
      ([row]): OutboxLag => ({
        pending: Number(row?.pending ?? 0),
        oldestPendingAgeSeconds: Number(row?.age ?? 0),
        deadLetters: Number(row?.dead ?? 0)
      })
    )

    // A failing batch (database away, bug) is logged and retried at the next wakeup: never a crash loop.
    const worker = (index: number) =>
      notifications.wakeups("outbox", Duration.millis(config.pollMillis)).pipe(
        Stream.buffer({ capacity: 1, strategy: "sliding" }),
        Stream.runForEach(() =>
          drain.pipe(Effect.catchCause((cause) => Effect.logWarning("projection batch failed; retrying at the next wakeup", cause)))
        ),
        Effect.annotateLogs({ projectionWorker: index })
      )

    const sampleLag = lag.pipe(
      Effect.flatMap((sample) =>
        Effect.all([
          Metric.update(outboxPending, sample.pending),
          Metric.update(outboxOldestPendingAge, sample.oldestPendingAgeSeconds),
          Metric.update(deadLettersParked, sample.deadLetters)
        ], { discard: true })),
      Effect.catchCause((cause) => Effect.logDebug("outbox lag sample failed", cause)),
      Effect.repeat(Schedule.spaced(Duration.millis(config.lagSampleMillis)))
    )

    if (config.enabled) {
      for (let index = 0; index < config.concurrency; index++) yield* Effect.forkScoped(worker(index))
      yield* Effect.forkScoped(sampleLag)
      yield* Effect.logInfo(`projection worker started (${config.concurrency} fibers)`)
    }
    return ProjectionWorker.of({ drain, lag })
  })
