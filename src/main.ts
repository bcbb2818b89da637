/** `npm start`: runs the whole service until SIGTERM/SIGINT, then closes servers, workers and the pool. */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Effect, Exit, Layer, Runtime } from "effect"
import { MainLive } from "./layers/Main.ts"
import { describeStartupFailure } from "./services/platform/StartupFailure.ts"

Layer.launch(MainLive).pipe(
  Effect.catchCause((cause) =>
    Effect.sync(() => {
      process.stderr.write(`cogo: ${describeStartupFailure(cause)}\n`)
      process.exitCode = 1
    })
  ),
  NodeRuntime.runMain({
    disableErrorReporting: true,
    // A signal-driven stop that ran every finalizer is a clean exit, not a failure (default would be 130).
    teardown: (exit, onExit) =>
      Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause) ? onExit(Number(process.exitCode ?? 0)) : Runtime.defaultTeardown(exit, onExit)
  })
)
