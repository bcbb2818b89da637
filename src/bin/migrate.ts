/** `npm run db:migrate`: applies pending migrations to the configured database and exits. */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { AppConfig } from "../services/platform/AppConfig.ts"
import { Database } from "../services/platform/Database.ts"
import { Migrations } from "../services/platform/Migrations.ts"
import { describeStartupFailure } from "../services/platform/StartupFailure.ts"
import { DatabaseClientLive } from "../layers/DatabaseLive.ts"

Effect.gen(function*() {
  const state = yield* Migrations
  const database = yield* Database
  const applied = state.applied.map(([id, name]) => `${id}_${name}`).join(", ") || "none"
  yield* Effect.logInfo(`migrations on ${database.target}: applied ${applied}; now at ${state.latest} (${state.count} total)`)
}).pipe(
  Effect.provide(
    Migrations.layer({ run: true }).pipe(
      Layer.provideMerge(Database.layer),
      Layer.provideMerge(DatabaseClientLive),
      Layer.provideMerge(AppConfig.layer)
    )
  ),
  Effect.catchCause((cause) =>
    Effect.sync(() => {
      process.stderr.write(`cogo db:migrate: ${describeStartupFailure(cause)}\n`)
      process.exitCode = 1
    })
  ),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
