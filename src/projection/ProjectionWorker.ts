/**
 * The projection worker: a scoped background service of the service process. `PROJECTION_CONCURRENCY`
 * fibers run batches (on the applier's reserved connections): fiber 0 on every `outbox` notification (one
 * shared LISTEN connection per process, through `Notifications.wakeups`), the others when a batch reports a
 * backlog; all of them on the poll tick. Any number of fibers and replicas may run against one database:
 * batches lock disjoint projects (see claim.ts).
 */
import { Config, Context, Duration, Effect, Layer, Metric, PubSub, Schedule, Stream } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { PgClient } from "@effect/sql-pg"
import { Notifications } from "../services/platform/Notifications.ts"
import { Drain } from "../services/platform/Drain.ts"
import { ProjectionApplier } from "./Applier.ts"
import { madeProgress } from "./summary.ts"
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
    // Draining (SIGTERM): no new batches; a batch in flight is one transaction (committed, or rolled back).
    const shutdown = yield* Drain

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
        SELECT (SELECT count(*) FROM cogo.project_updates_open WHERE NOT dead) AS pending,
               (SELECT extract(epoch FROM clock_timestamp() - min(u.created_at))::float8
                FROM cogo.project_updates_open o JOIN cogo.project_updates u ON u.id = o.id WHERE NOT o.dead) AS age,
               (SELECT count(*) FROM cogo.project_updates_open WHERE dead) AS dead`,
      ([row]): OutboxLag => ({
        pending: Number(row?.pending ?? 0),
        oldestPendingAgeSeconds: Number(row?.age ?? 0),
        deadLetters: Number(row?.dead ?? 0)
      })
    )

    // Fiber 0 wakes on every `outbox` notification; the others wake on the poll tick or when a batch was
    // saturated (a backlog), so a trickle of small commits costs one batch each, not one per fiber. A fiber
    // runs batches while they are saturated; a commit made during a batch has already queued its wakeup.
    const backlog = yield* PubSub.sliding<void>(1)
    const lingerMillis = yield* Config.Int("PROJECTION_LINGER_MS").pipe(Config.withDefault(5))
    // Pacing: a fiber starts at most one wakeup's batch per linger period. Idle, a commit is projected at
    // once; under a stream of small commits, each batch takes everything committed in the last few ms
    // (a batch costs the same ~5 round trips for 1 update as for 100).
    const untilCaughtUp = (lastStart: { at: number }) => Effect.gen(function*() {
      if (yield* shutdown.isDraining) return
      const wait = lastStart.at + lingerMillis - performance.now()
      if (wait > 0) yield* Effect.sleep(Duration.millis(wait))
      lastStart.at = performance.now()
      while (true) {
        const summary = yield* applier.processBatch
        if (!summary.saturated || !madeProgress(summary)) return
        yield* PubSub.publish(backlog, undefined)
      }
    })
    const wakeupsOf = (index: number) =>
      Stream.merge(
        index === 0
          ? notifications.wakeups("outbox", Duration.millis(config.pollMillis))
          : Stream.fromSchedule(Schedule.spaced(Duration.millis(config.pollMillis))).pipe(Stream.map(() => undefined)),
        Stream.fromPubSub(backlog)
      )

    // A failing batch (database away, bug) is logged and retried at the next wakeup: never a crash loop.
    const worker = (index: number) => {
      const lastStart = { at: 0 }
      return wakeupsOf(index).pipe(
        Stream.buffer({ capacity: 1, strategy: "sliding" }),
        Stream.runForEach(() =>
          untilCaughtUp(lastStart).pipe(Effect.catchCause((cause) => Effect.logWarning("projection batch failed; retrying at the next wakeup", cause)))
        ),
        Effect.annotateLogs({ projectionWorker: index })
      )
    }

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
