/**
 * Operator endpoints: `.middleware(OperatorAuthentication)` on an HttpApi group (traces, alerts, projection),
 * `requireOperator` in raw routes (status data). Rules in `OperatorAccess`; 401/403 problem+json.
 */
import { Effect, Layer, Redacted } from "effect"
import type { HttpServerRequest } from "effect/http/HttpServerRequest"
import { HttpApiMiddleware, HttpApiSecurity } from "effect/http-api"
import { Forbidden, Unauthorized } from "../../domain/platform/Problem.ts"
import { OperatorAccess } from "../../services/observability/OperatorAccess.ts"

export class OperatorAuthentication extends HttpApiMiddleware.Service<OperatorAuthentication>()("cogo/OperatorAuthentication", {
  error: [Unauthorized, Forbidden],
  security: { operator: HttpApiSecurity.bearer }
}) {}

export const OperatorAuthenticationLive = Layer.effect(
  OperatorAuthentication,
  Effect.map(Effect.service(OperatorAccess), (access) =>
    OperatorAuthentication.of({
      operator: (httpEffect, { credential }) => Effect.andThen(access.authorize(Redacted.value(credential)), httpEffect)
    }))
)

/** The bearer token of a raw request (`Authorization: Bearer ...`). */
const bearerToken = (request: HttpServerRequest): string | undefined =>
  /^Bearer\s+(.+)$/i.exec(request.headers["authorization"]?.trim() ?? "")?.[1]?.trim()

export const requireOperator = (request: HttpServerRequest) =>
  Effect.flatMap(Effect.service(OperatorAccess), (access) => access.authorize(bearerToken(request)))
