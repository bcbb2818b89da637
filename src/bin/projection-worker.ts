/**
 * A process that only runs the projection worker (`npx tsx src/bin/projection-worker.ts`): for scaling the
 * projection apart from the API, and for the multi-process tests. Same configuration as the service
 * (DATABASE_URL, PROJECTION_*); stops cleanly on SIGTERM/SIGINT.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer, Runtime } from "effect"
import { PlatformLive } from "../layers/Main.ts"
import { ProjectionApplier } from "../projection/Applier.ts"
import { ProjectionWorker } from "../projection/ProjectionWorker.ts"
import { AppConfig } from "../services/platform/AppConfig.ts"
import { LoggingLive } from "../layers/LoggingLive.ts"
import { describeStartupFailure } from "../services/platform/StartupFailure.ts"

const WorkerProcessLive = ProjectionWorker.layer.pipe(
  Layer.provideMerge(ProjectionApplier.layer),
  Layer.provideMerge(PlatformLive),
  Layer.provideMerge(LoggingLive),
  Layer.provideMerge(AppConfig.layer)
)

Layer.launch(WorkerProcessLive).pipe(
  Effect.catchCause((cause) =>
    Effect.sync(() => {
      process.stderr.write(`cogo projection-worker: ${describeStartupFailure(cause)}\n`)
      process.exitCode = 1
    })
  ),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    teardown: (exit, onExit) =>
      Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? onExit(Number(process.exitCode ?? 0)) : Runtime.defaultTeardown(exit, onExit)
  })
)
