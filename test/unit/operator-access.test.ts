/**
 * Who may read the operator views (src/services/observability/OperatorAccess.ts), in process with the real
 * Auth verifier over explicit settings: the exact operator token or the service role passes; nothing, a bad
 * credential, a near-miss of the operator token or the anon key is 401; a valid user token is 403.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer, Option, Redacted } from "effect"
import * as jose from "jose"
import { Auth } from "../../src/services/auth/Auth.ts"
import { OperatorAccess } from "../../src/services/observability/OperatorAccess.ts"

const jwtSecret = "unit-test-jwt-secret-with-at-least-32-characters"
const serviceRoleKey = "unit-test-service-role-key"
const operatorToken = "unit-test-operator-token"
const alice = "a11ce000-0000-4000-8000-000000000001"

const access = (env: Record<string, string>) =>
  OperatorAccess.layer.pipe(
    Layer.provide(Auth.layerTest({ jwtSecret: Option.some(Redacted.make(jwtSecret)), serviceRoleKey: Option.some(Redacted.make(serviceRoleKey)) })),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env)))
  )

const sign = (claims: jose.JWTPayload) =>
  Effect.promise(() =>
    new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt().setExpirationTime("1h")
      .sign(new TextEncoder().encode(jwtSecret)))

/** "ok", or the refusal's HTTP status and problem type. */
const outcome = (token: string | undefined) =>
  Effect.gen(function*() {
    const operator = yield* OperatorAccess
    const exit = yield* Effect.exit(operator.authorize(token))
    if (Exit.isSuccess(exit)) return "ok"
    const error = Exit.findErrorOption(exit)
    return Option.isSome(error) ? `${error.value.status} ${error.value.type}` : "defect"
  })

const missing = "401 https://cogo.dev/problems/operator-credential-required"

describe("operator access with COGO_OPERATOR_TOKEN set", () => {
  it.effect("the exact operator token passes; a prefix, an extension or another case of it does not", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* outcome(operatorToken), "ok")
      // A near miss is then verified as a JWT, and fails as one.
      const invalid = "401 https://cogo.dev/problems/unauthorized"
      assert.strictEqual(yield* outcome(operatorToken.slice(0, -1)), invalid)
      assert.strictEqual(yield* outcome(`${operatorToken}x`), invalid)
      assert.strictEqual(yield* outcome(operatorToken.toUpperCase()), invalid)
    }).pipe(Effect.provide(access({ COGO_OPERATOR_TOKEN: operatorToken }))))

  it.effect("no credential or an empty one is 401 with the operator problem type", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* outcome(undefined), missing)
      assert.strictEqual(yield* outcome(""), missing)
    }).pipe(Effect.provide(access({ COGO_OPERATOR_TOKEN: operatorToken }))))

  it.effect("the refusals are complete problems: title and detail say what is needed", () =>
    Effect.gen(function*() {
      const operator = yield* OperatorAccess
      const problemOf = (token: string | undefined) =>
        Effect.map(Effect.flip(operator.authorize(token)), (e) => ({ status: e.status, title: e.title, detail: e.detail }))
      assert.deepStrictEqual(yield* problemOf(undefined), {
        status: 401,
        title: "Unauthorized",
        detail: "this route requires the operator token or the service-role key (Authorization: Bearer ...)"
      })
      assert.deepStrictEqual(yield* problemOf(yield* sign({ sub: alice, role: "authenticated", aud: "authenticated" })), {
        status: 403,
        title: "Forbidden",
        detail: "user tokens cannot read operator endpoints"
      })
    }).pipe(Effect.provide(access({ COGO_OPERATOR_TOKEN: operatorToken }))))

  it.effect("the service role passes, as its exact key or as a verified service_role JWT", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* outcome(serviceRoleKey), "ok")
      assert.strictEqual(yield* outcome(yield* sign({ role: "service_role" })), "ok")
    }).pipe(Effect.provide(access({ COGO_OPERATOR_TOKEN: operatorToken }))))

  it.effect("a valid user token is 403 operator-only; the anon key is 401; a forged token is 401", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* outcome(yield* sign({ sub: alice, role: "authenticated", aud: "authenticated" })), "403 https://cogo.dev/problems/operator-only")
      assert.strictEqual(yield* outcome(yield* sign({ role: "anon", iss: "supabase" })), missing)
      assert.strictEqual(yield* outcome("not-a-jwt"), "401 https://cogo.dev/problems/unauthorized")
    }).pipe(Effect.provide(access({ COGO_OPERATOR_TOKEN: operatorToken }))))
})

describe("operator access without COGO_OPERATOR_TOKEN", () => {
  it.effect("only the service role passes; no token string is an operator token", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* outcome(operatorToken), "401 https://cogo.dev/problems/unauthorized")
      assert.strictEqual(yield* outcome(serviceRoleKey), "ok")
      assert.strictEqual(yield* outcome(undefined), missing)
    }).pipe(Effect.provide(access({}))))
})
