import { Effect, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { NotFound, problem } from "../../domain/platform/Problem.ts"
import { Telemetry } from "../../services/observability/Telemetry.ts"
import { Api } from "../Api.ts"

export const TracesLive = HttpApiBuilder.group(Api, "traces", Effect.fn(function*(handlers) {
  const telemetry = yield* Telemetry
  return handlers
    .handle("recent", ({ query }) => Effect.map(telemetry.recent(query.limit ?? 50, { background: query.background === "true" }), (traces) => ({ traces })))
    .handle("trace", ({ params }) =>
      Effect.flatMap(telemetry.trace(params.traceId), Option.match({
        onNone: () =>
          Effect.fail(new NotFound(problem(404, "trace-not-found", "Trace not found", `no trace ${params.traceId} in this process's store (retention is bounded)`))),
        onSome: Effect.succeed
      })))
}))
