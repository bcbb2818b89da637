/**
 * `npm run projection:rebuild [-- --project <id>]`: rebuilds `public.*` from the outbox's applied updates,
 * for one project or all, each under that project's projection lock (live workers skip it meanwhile).
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import { Uuid } from "../domain/cqrs/ProjectUpdate.ts"
import { PlatformLive } from "../layers/Main.ts"
import { ProjectionApplier } from "../projection/Applier.ts"
import { ProjectionAdmin } from "../projection/ProjectionAdmin.ts"
import { AppConfig } from "../services/platform/AppConfig.ts"
import { LoggingLive } from "../layers/LoggingLive.ts"
import { describeStartupFailure } from "../services/platform/StartupFailure.ts"

class UsageError extends Schema.TaggedError<UsageError>()("UsageError", { message: Schema.String }) {}

const parseArgs = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    if (args.length === 0) return undefined
    if (args.length !== 2 || args[0] !== "--project") {
      return yield* new UsageError({ message: "usage: npm run projection:rebuild [-- --project <project id>]" })
    }
    return yield* Schema.decodeUnknownEffect(Uuid)(args[1]).pipe(
      Effect.mapError(() => new UsageError({ message: `--project needs a project id (uuid), got ${JSON.stringify(args[1])}` }))
    )
  })

Effect.gen(function*() {
  const projectId = yield* parseArgs(process.argv.slice(2))
  const admin = yield* ProjectionAdmin
  const started = performance.now()
  const rebuilt = yield* admin.rebuild(projectId)
  const replayed = rebuilt.reduce((sum, project) => sum + project.replayed, 0)
  yield* Effect.logInfo(
    `rebuilt ${rebuilt.length} project(s) from ${replayed} applied update(s) in ${Math.round(performance.now() - started)} ms`
  )
}).pipe(
  Effect.provide(
    ProjectionAdmin.layer.pipe(
      Layer.provideMerge(ProjectionApplier.layer),
      Layer.provideMerge(PlatformLive),
      Layer.provideMerge(LoggingLive),
      Layer.provideMerge(AppConfig.layer)
    )
  ),
  Effect.catchTag("UsageError", (error) =>
    Effect.sync(() => {
      process.stderr.write(`${error.message}\n`)
      process.exitCode = 2
    })),
  Effect.catchCause((cause) =>
    Effect.sync(() => {
      process.stderr.write(`cogo projection:rebuild: ${describeStartupFailure(cause)}\n`)
      process.exitCode = 1
    })
  ),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
