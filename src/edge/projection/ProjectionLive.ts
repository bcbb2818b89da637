import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { NotFound, problem } from "../../domain/platform/Problem.ts"
import { ProjectionAdmin } from "../../projection/ProjectionAdmin.ts"
import { ProjectionWorker } from "../../projection/ProjectionWorker.ts"
import { Api } from "../Api.ts"

export const ProjectionLive = HttpApiBuilder.group(Api, "projection", Effect.fn(function*(handlers) {
  const admin = yield* ProjectionAdmin
  const worker = yield* ProjectionWorker
  return handlers
    .handle("deadLetters", ({ query }) =>
      Effect.map(admin.listDeadLetters(query), (deadLetters) => ({ deadLetters })).pipe(Effect.orDie))
    .handle("retryDeadLetter", ({ params }) =>
      admin.retryDeadLetter(params.id).pipe(
        Effect.as({ id: params.id, status: "pending" as const }),
        Effect.catchTag("DeadLetterNotFound", (error) =>
          Effect.fail(new NotFound(problem(404, "dead-letter-not-found", "Dead letter not found", `update ${error.id} is not a dead letter`)))),
        Effect.catchTag("SqlError", Effect.die)
      ))
    .handle("conflicts", ({ query }) =>
      Effect.map(admin.listConflicts(query), (conflicts) => ({ conflicts })).pipe(Effect.orDie))
    .handle("lag", () => worker.lag.pipe(Effect.orDie))
}))
