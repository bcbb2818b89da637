/** `npm start`: runs the whole service until SIGTERM/SIGINT, then closes servers, workers and the pool. */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { MainLive } from "./layers/Main.ts"
import { describeStartupFailure } from "./services/StartupFailure.ts"

Layer.launch(MainLive).pipe(
  Effect.catchCause((cause) =>
    Effect.sync(() => {
      process.stderr.write(`cogo: ${describeStartupFailure(cause)}\n`)
      process.exitCode = 1
    })
  ),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
