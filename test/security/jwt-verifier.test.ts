/**
 * The JWT verifier's keys and algorithms (src/services/auth/Auth.ts): every asymmetric algorithm Supabase can
 * sign with (RS256, PS256, ES256, EdDSA) verifies against a real JWKS endpoint; algorithms outside the list
 * are refused although the key would verify them; a token whose key kind is not configured is refused with a
 * message naming the missing variable; an expiry a few seconds past is within the clock tolerance, one well
 * past is not. Tokens and keys are made with jose directly.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Redacted } from "effect"
import * as jose from "jose"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Auth } from "../../src/services/auth/Auth.ts"
import { alice, jwtSecret, mint, nowSeconds, validClaims } from "./jwt-support.ts"

/** A JWKS endpoint on an ephemeral port serving `keys` (what Supabase serves at /auth/v1/.well-known/jwks.json). */
const serveJwks = (keys: ReadonlyArray<jose.JWK>) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<http.Server>((resolve) => {
        const server = http.createServer((_request, response) => {
          response.writeHead(200, { "content-type": "application/json" })
          response.end(JSON.stringify({ keys }))
        })
        server.listen(0, "127.0.0.1", () => resolve(server))
      })),
    (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
  )

const authWith = (overrides: Parameters<typeof Auth.layerTest>[0]) => Effect.provide(Effect.service(Auth), Auth.layerTest(overrides))

/** A key pair for `alg`, its public JWK (kid = alg) and a signer of valid user claims (plus `extra`). */
const keyFor = (alg: string) =>
  Effect.promise(async () => {
    const { privateKey, publicKey } = await jose.generateKeyPair(alg, { extractable: true })
    const jwk: jose.JWK = { ...(await jose.exportJWK(publicKey)), kid: alg, alg, use: "sig" }
    return { alg, privateKey, jwk }
  })

const signWith = (key: { readonly alg: string; readonly privateKey: CryptoKey }, alg = key.alg) =>
  Effect.promise(() => new jose.SignJWT(validClaims()).setProtectedHeader({ alg, kid: key.alg }).sign(key.privateKey))

const detailOf = (auth: Auth["Service"], token: string) => Effect.map(Effect.flip(auth.verify(token)), (refused) => `${refused.status} ${refused.detail}`)

describe("JWT verifier: keys and algorithms", () => {
  it.effect("RS256, PS256, ES256 and EdDSA tokens verify against the JWKS URL as the user", () =>
    Effect.gen(function*() {
      const keys = yield* Effect.all(["RS256", "PS256", "ES256", "EdDSA"].map(keyFor))
      const server = yield* serveJwks(keys.map((key) => key.jwk))
      const port = (server.address() as AddressInfo).port
      const auth = yield* authWith({ jwksUrl: Option.some(new URL(`http://127.0.0.1:${port}/jwks.json`)) })
      for (const key of keys) {
        const principal = yield* auth.verify(yield* signWith(key))
        assert.deepStrictEqual([key.alg, principal?.userId, principal?.via], [key.alg, alice, "jwt"])
      }
    }))

  it.effect("RS384 and ES384 are refused although the served key would verify them", () =>
    Effect.gen(function*() {
      const keys = yield* Effect.all(["RS384", "ES384"].map(keyFor))
      const server = yield* serveJwks(keys.map((key) => key.jwk))
      const port = (server.address() as AddressInfo).port
      const auth = yield* authWith({ jwksUrl: Option.some(new URL(`http://127.0.0.1:${port}/jwks.json`)) })
      for (const key of keys) {
        assert.match(yield* detailOf(auth, yield* signWith(key)), /^401 invalid token: .*"alg"/)
      }
    }))

  it.effect("an HS256 token without SUPABASE_JWT_SECRET, or an asymmetric one without SUPABASE_JWKS_URL, is refused saying which", () =>
    Effect.gen(function*() {
      const noKeys = yield* authWith({})
      assert.strictEqual(yield* detailOf(noKeys, yield* mint(validClaims())), "401 invalid token: HS256 token but SUPABASE_JWT_SECRET is not configured")
      const secretOnly = yield* authWith({ jwtSecret: Option.some(Redacted.make(jwtSecret)) })
      const es256 = yield* keyFor("ES256")
      assert.strictEqual(yield* detailOf(secretOnly, yield* signWith(es256)), "401 invalid token: ES256 token but SUPABASE_JWKS_URL is not configured")
      // The secret alone still verifies HS256.
      assert.strictEqual((yield* secretOnly.verify(yield* mint(validClaims())))?.userId, alice)
    }))
})

describe("JWT verifier: clock tolerance", () => {
  it.effect("a token expired 2 s ago is accepted (5 s tolerance for clock skew); one expired 30 s ago is not", () =>
    Effect.gen(function*() {
      const auth = yield* authWith({ jwtSecret: Option.some(Redacted.make(jwtSecret)) })
      assert.strictEqual((yield* auth.verify(yield* mint({ ...validClaims(), exp: nowSeconds() - 2 })))?.userId, alice)
      const stale = yield* Effect.exit(auth.verify(yield* mint({ ...validClaims(), exp: nowSeconds() - 30 })))
      assert.isTrue(Exit.isFailure(stale))
    }))
})
