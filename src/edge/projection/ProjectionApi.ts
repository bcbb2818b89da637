/**
 * Operating the projection (operators only: the service role or COGO_OPERATOR_TOKEN): dead letters (list, retry), recorded conflicts, outbox lag.
 * `GET /projection/dead-letters`, `POST /projection/dead-letters/:id/retry`, `GET /projection/conflicts`,
 * `GET /projection/lag`.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { Uuid } from "../../domain/cqrs/ProjectUpdate.ts"
import { NotFound } from "../../domain/platform/Problem.ts"
import { DeadLetter, ProjectionConflict } from "../../projection/ProjectionAdmin.ts"
import { OperatorAuthentication } from "../observability/OperatorAuth.ts"

const Id = Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(1))

export const ProjectionListQuery = Schema.Struct({
  projectId: Schema.optional(Uuid),
  afterId: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0))),
  limit: Schema.optional(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 1000 })))
})

export const OutboxLagStatus = Schema.Struct({
  pending: Schema.Number,
  oldestPendingAgeSeconds: Schema.Number,
  deadLetters: Schema.Number
})

export class ProjectionApi extends HttpApiGroup.make("projection").add(
  HttpApiEndpoint.get("deadLetters", "/projection/dead-letters", {
    query: ProjectionListQuery,
    success: Schema.Struct({ deadLetters: Schema.Array(DeadLetter) })
  }),
  HttpApiEndpoint.post("retryDeadLetter", "/projection/dead-letters/:id/retry", {
    params: { id: Id },
    success: Schema.Struct({ id: Schema.Number, status: Schema.Literal("pending") }),
    error: NotFound
  }),
  HttpApiEndpoint.get("conflicts", "/projection/conflicts", {
    query: ProjectionListQuery,
    success: Schema.Struct({ conflicts: Schema.Array(ProjectionConflict) })
  }),
  HttpApiEndpoint.get("lag", "/projection/lag", { success: OutboxLagStatus })
).middleware(OperatorAuthentication) {}
