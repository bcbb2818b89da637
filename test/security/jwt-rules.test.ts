/**
 * Token validation rules, written from the requirement rather than from the verifier: a user token is
 * accepted only when it is signed with the project's key by an allowed algorithm, carries an expiry in the
 * future, the configured audience, the `authenticated` role and a user id. Each token here is minted with
 * jose directly (the same library a Supabase Auth server uses), so a rule dropped from the verifier fails
 * its row.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as jose from "jose"
import { alice, jwtKey as key, mint, nowSeconds as now, prodAuth as auth, validClaims } from "./jwt-support.ts"

const valid = validClaims

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
