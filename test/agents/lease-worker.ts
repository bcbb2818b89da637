/**
 * A job worker process for the lease-expiry test: it runs kind "test.crashy" by announcing the job on stdout
 * and then hanging, so the test can SIGKILL it mid-job. Configured from the environment (DATABASE_URL,
 * JOBS_LEASE, ...), like the service.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import { AppConfig } from "../../src/services/platform/AppConfig.ts"
import { Database } from "../../src/services/platform/Database.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { Notifications } from "../../src/services/platform/Notifications.ts"
import { Orchestrator } from "../../src/services/jobs/Orchestrator.ts"
import { DatabaseClientLive } from "../../src/layers/DatabaseLive.ts"

const WorkerLive = Orchestrator.layer.pipe(
  Layer.provideMerge(JobQueue.layer),
  Layer.provideMerge(EventBus.layer),
  Layer.provideMerge(Notifications.layer),
  Layer.provideMerge(Database.layer),
  Layer.provideMerge(DatabaseClientLive),
  Layer.provide(AppConfig.layer)
)

const program = Effect.gen(function*() {
  const orchestrator = yield* Orchestrator
  yield* orchestrator.register({
    kind: "test.crashy",
    payload: Schema.Struct({}),
    run: (_payload, job) =>
      Effect.andThen(Effect.sync(() => process.stdout.write(`STARTED ${job.job.id} ${orchestrator.workerId}\n`)), Effect.never)
  })
  return yield* Effect.never
})

NodeRuntime.runMain(program.pipe(Effect.scoped, Effect.provide(WorkerLive)))
