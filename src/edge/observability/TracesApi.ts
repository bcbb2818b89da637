/** `GET /traces` (recent traces, newest first) and `GET /traces/:traceId` (spans with parents and timings); operators only. */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { TraceDetail, TraceId, TraceSummary } from "../../domain/observability/Observability.ts"
import { NotFound } from "../../domain/platform/Problem.ts"
import { OperatorAuthentication } from "./OperatorAuth.ts"

export const RecentTracesQuery = Schema.Struct({
  limit: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 500 }))),
  /** `true`: include traces of background loops (pollers, schedulers). */
  background: Schema.optional(Schema.Literals(["true", "false"]))
})

export class TracesApi extends HttpApiGroup.make("traces").add(
  HttpApiEndpoint.get("recent", "/traces", {
    query: RecentTracesQuery,
    success: Schema.Struct({ traces: Schema.Array(TraceSummary) })
  }),
  HttpApiEndpoint.get("trace", "/traces/:traceId", { params: { traceId: TraceId }, success: TraceDetail, error: NotFound })
).middleware(OperatorAuthentication) {}
