/**
 * Auth keeps tokens that verified until their `exp` (issue 16: the signature check was the largest server-side
 * cost of an IDE read). A kept token must never be accepted after it expires, and a tampered copy of a kept
 * token is a different string, so it is verified (and refused) on its own.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Redacted } from "effect"
import * as jose from "jose"
import { Auth, devUserId } from "../../src/services/auth/Auth.ts"

const secret = "a-test-jwt-secret-of-at-least-thirty-two-characters"
const alice = "a11ce000-0000-4000-8000-000000000001"
const now = () => Math.floor(Date.now() / 1000)

const makeAuth = Auth.make({
  mode: "prod",
  jwtSecret: Option.some(Redacted.make(secret)),
  jwksUrl: Option.none(),
  audience: "authenticated",
  issuer: Option.none(),
  serviceRoleKey: Option.none(),
  devUserId
})

const mint = (exp: number) =>
  Effect.promise(() =>
    new jose.SignJWT({ sub: alice, role: "authenticated", aud: "authenticated", exp, iat: now() })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(new TextEncoder().encode(secret)))

describe("verified-token cache", () => {
  it.effect("answers a repeated token with the same principal and refuses a tampered copy", () =>
    Effect.gen(function*() {
      const auth = yield* makeAuth
      const token = yield* mint(now() + 600)
      const first = yield* auth.authenticateToken(token)
      const second = yield* auth.authenticateToken(token)
      assert.strictEqual(first.userId, alice)
      assert.deepStrictEqual(second, first)
      const [header, payload, signature] = token.split(".")
      const tampered = `${header}.${payload}.${signature!.slice(0, -2)}${signature!.endsWith("AA") ? "BB" : "AA"}`
      assert.isTrue(Exit.isFailure(yield* Effect.exit(auth.authenticateToken(tampered))))
    }))

  it.live("never accepts a kept token after its exp (plus the verifier's 5 s clock tolerance)", () =>
    Effect.gen(function*() {
      const auth = yield* makeAuth
      const token = yield* mint(now() + 1)
      assert.strictEqual((yield* auth.authenticateToken(token)).userId, alice)
      yield* Effect.sleep("7500 millis")
      const exit = yield* Effect.exit(auth.authenticateToken(token))
      assert.isTrue(Exit.isFailure(exit))
    }), 15_000)
})
