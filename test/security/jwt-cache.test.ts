/**
 * Auth keeps tokens that verified until their `exp` (issue 16: the signature check was the largest server-side
 * cost of an IDE read). A kept token must never be accepted after it expires, and a tampered copy of a kept
 * token is a different string, so it is verified (and refused) on its own.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { alice, mint as mintClaims, nowSeconds as now, prodAuth as makeAuth, validClaims } from "./jwt-support.ts"

const mint = (exp: number) => mintClaims({ ...validClaims(), exp })

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
