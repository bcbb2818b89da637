/**
 * Token validation rules, written from the requirement rather than from the verifier: a user token is
 * accepted only when it is signed with the project's key by an allowed algorithm, carries an expiry in the
 * future, the configured audience, the `authenticated` role and a user id. Each token here is minted with
 * jose directly (the same library a Supabase Auth server uses), so a rule dropped from the verifier fails
 * its row.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Redacted } from "effect"
import * as jose from "jose"
import { Auth, devUserId } from "../../src/services/auth/Auth.ts"

const secret = "a-test-jwt-secret-of-at-least-thirty-two-characters"
const key = new TextEncoder().encode(secret)
const alice = "a11ce000-0000-4000-8000-000000000001"
const now = () => Math.floor(Date.now() / 1000)

const auth = Auth.make({
  mode: "prod",
  jwtSecret: Option.some(Redacted.make(secret)),
  jwksUrl: Option.none(),
  audience: "authenticated",
  issuer: Option.none(),
  serviceRoleKey: Option.none(),
  devUserId
})

/** Signs exactly the claims given (no defaults added), HS256 unless told otherwise. */
const mint = (claims: jose.JWTPayload, signWith: Uint8Array = key, alg = "HS256") =>
  Effect.promise(() => new jose.SignJWT(claims).setProtectedHeader({ alg, typ: "JWT" }).sign(signWith))

const valid = () => ({ sub: alice, role: "authenticated", aud: "authenticated", exp: now() + 600, iat: now() })

const accepts = (token: string) =>
  Effect.gen(function*() {
    const service = yield* auth
    return Exit.isSuccess(yield* Effect.exit(service.authenticateToken(token)))
  })

describe("JWT validation rules", () => {
  it.effect("a complete, well-signed user token is accepted as that user", () =>
    Effect.gen(function*() {
      const service = yield* auth
      const principal = yield* service.authenticateToken(yield* mint(valid()))
      assert.strictEqual(principal.userId, alice)
      assert.strictEqual(principal.role, "authenticated")
    }))

  it.effect("a token without `exp` is refused (tokens must expire)", () =>
    Effect.gen(function*() {
      const { exp: _exp, ...noExpiry } = valid()
      assert.isFalse(yield* accepts(yield* mint(noExpiry)))
    }))

  it.effect("an expired token is refused, beyond a small clock tolerance", () =>
    Effect.gen(function*() {
      assert.isFalse(yield* accepts(yield* mint({ ...valid(), exp: now() - 120 })))
    }))

  it.effect("a token without the configured audience is refused", () =>
    Effect.gen(function*() {
      const { aud: _aud, ...noAudience } = valid()
      assert.isFalse(yield* accepts(yield* mint(noAudience)))
      assert.isFalse(yield* accepts(yield* mint({ ...valid(), aud: "someone-else" })))
    }))

  it.effect("a user token without a uuid `sub` is refused", () =>
    Effect.gen(function*() {
      const { sub: _sub, ...noSubject } = valid()
      assert.isFalse(yield* accepts(yield* mint(noSubject)))
      assert.isFalse(yield* accepts(yield* mint({ ...valid(), sub: "alice" })))
    }))

  it.effect("an unknown role, and a token signed with another key, are refused", () =>
    Effect.gen(function*() {
      assert.isFalse(yield* accepts(yield* mint({ ...valid(), role: "supabase_admin" })))
      assert.isFalse(yield* accepts(yield* mint(valid(), new TextEncoder().encode("another-secret-another-secret-another-secret"))))
    }))

  it.effect("`alg: none` and HS512 are refused even with valid claims", () =>
    Effect.gen(function*() {
      const unsigned = new jose.UnsecuredJWT(valid()).encode()
      assert.isFalse(yield* accepts(unsigned))
      assert.isFalse(yield* accepts(yield* mint(valid(), key, "HS512")))
    }))

  it.effect("prod mode refuses anonymous callers; an `anon` token is anonymous", () =>
    Effect.gen(function*() {
      const service = yield* auth
      assert.isTrue(Exit.isFailure(yield* Effect.exit(service.authenticateToken(undefined))))
      assert.isFalse(yield* accepts(yield* mint({ role: "anon", exp: now() + 600 })))
    }))
})
