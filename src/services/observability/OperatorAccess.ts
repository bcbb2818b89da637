/**
 * Who may read the operator views (`/traces`, `/alerts`, `/status` data, `/projection/*`): the service role
 * (the exact `SUPABASE_SERVICE_ROLE_KEY` or a verified `service_role` JWT) or the operator token
 * `COGO_OPERATOR_TOKEN` (compared in constant time). No credential, a bad one or the anon key: 401; a valid
 * user JWT: 403. There is no dev-mode shortcut: these views show every user's traces.
 */
import { Config, Context, Effect, Layer, Option, Redacted } from "effect"
import { timingSafeEqual } from "node:crypto"
import { Forbidden, problem, Unauthorized } from "../../domain/platform/Problem.ts"
import { Auth } from "../auth/Auth.ts"

const sameSecret = (a: string, b: string): boolean => {
  const left = Buffer.from(a)
  const right = Buffer.from(b)
  return left.length === right.length && timingSafeEqual(left, right)
}

const missing = () =>
  new Unauthorized(problem(401, "operator-credential-required", "Unauthorized", "this route requires the operator token or the service-role key (Authorization: Bearer ...)"))

export class OperatorAccess extends Context.Service<OperatorAccess, {
  /** Succeeds for an operator credential (a bearer token, without the `Bearer ` prefix). */
  readonly authorize: (token: string | undefined) => Effect.Effect<void, Unauthorized | Forbidden>
}>()("cogo/OperatorAccess") {
  static readonly layer = Layer.effect(
    OperatorAccess,
    Effect.gen(function*() {
      const auth = yield* Auth
      const operatorToken = yield* Config.option(Config.Redacted("COGO_OPERATOR_TOKEN"))
      const authorize = Effect.fn("OperatorAccess.authorize")(function*(token: string | undefined) {
        if (token === undefined || token === "") return yield* missing()
        if (Option.isSome(operatorToken) && sameSecret(token, Redacted.value(operatorToken.value))) return
        const principal = yield* auth.verify(token)
        if (principal === undefined) return yield* missing()
        if (principal.role === "service_role") return
        return yield* new Forbidden(problem(403, "operator-only", "Forbidden", "user tokens cannot read operator endpoints"))
      })
      return OperatorAccess.of({ authorize })
    })
  )
}
