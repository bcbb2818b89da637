import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import * as jose from "jose"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Auth, devUserId } from "../../src/services/auth/Auth.ts"
import { RateLimiter } from "../../src/services/chat/RateLimiter.ts"

const alice = "a11ce000-0000-4000-8000-000000000001"

/** A real JWKS endpoint (what Supabase serves at /auth/v1/.well-known/jwks.json). */
const serveJwks = (jwks: { keys: Array<jose.JWK> }) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<http.Server>((resolve) => {
        const server = http.createServer((_req, res) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify(jwks))
        })
        server.listen(0, "127.0.0.1", () => resolve(server))
      })),
    (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
  )

/** The Auth service alone (`Auth.layerTest`: no configuration, no database), built with `overrides`. */
const authWith = (overrides: Parameters<typeof Auth.layerTest>[0]) => Effect.provide(Effect.service(Auth), Auth.layerTest(overrides))

describe("Auth", () => {
  it.effect("verifies asymmetric (ES256) tokens against a JWKS URL; another key, a wrong issuer and HS256 without a secret are refused", () =>
    Effect.gen(function*() {
      const { privateKey, publicKey } = yield* Effect.promise(() => jose.generateKeyPair("ES256"))
      const other = yield* Effect.promise(() => jose.generateKeyPair("ES256"))
      const jwk = { ...(yield* Effect.promise(() => jose.exportJWK(publicKey))), kid: "k1", alg: "ES256", use: "sig" }
      const server = yield* serveJwks({ keys: [jwk] })
      const port = (server.address() as AddressInfo).port
      const auth = yield* authWith({ jwksUrl: Option.some(new URL(`http://127.0.0.1:${port}/jwks.json`)), issuer: Option.some("https://ref.supabase.co/auth/v1") })
      const sign = (key: CryptoKey, claims: Record<string, unknown> = {}) =>
        Effect.promise(() =>
          new jose.SignJWT({ sub: alice, role: "authenticated", aud: "authenticated", iss: "https://ref.supabase.co/auth/v1", ...claims })
            .setProtectedHeader({ alg: "ES256", kid: "k1" }).setExpirationTime("5m").sign(key))
      const principal = yield* auth.verify(yield* sign(privateKey))
      assert.strictEqual(principal?.userId, alice)
      for (const token of [yield* sign(other.privateKey), yield* sign(privateKey, { iss: "https://evil.example" })]) {
        const refused = yield* Effect.flip(auth.verify(token))
        assert.strictEqual(refused.status, 401)
      }
      const hs = yield* Effect.promise(() =>
        new jose.SignJWT({ sub: alice, role: "authenticated", aud: "authenticated" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m")
          .sign(new TextEncoder().encode("x".repeat(40))))
      assert.strictEqual((yield* Effect.flip(auth.verify(hs))).status, 401)
    }))

  it.effect("dev mode: no token is the dev user, a bad token is still 401; prod refuses anonymous; the service key is the service role", () =>
    Effect.gen(function*() {
      const dev = yield* authWith({ mode: "dev" })
      const devPrincipal = yield* dev.authenticateToken(undefined)
      assert.deepStrictEqual([devPrincipal.userId, devPrincipal.via], [devUserId, "dev"])
      assert.strictEqual((yield* Effect.flip(dev.authenticateToken("not-a-token"))).status, 401)
      const prod = yield* authWith({ serviceRoleKey: Option.some(Redacted.make("service-key-123")) })
      assert.strictEqual((yield* Effect.flip(prod.authenticateToken(undefined))).status, 401)
      const service = yield* prod.authenticateToken("service-key-123")
      assert.strictEqual(service.role, "service_role")
      assert.strictEqual((yield* Effect.flip(prod.authenticateToken("service-key-124"))).status, 401)
    }))

  it.effect("the rate limiter's bucket refills at its rate and reports Retry-After", () =>
    Effect.gen(function*() {
      let now = 0
      const limiter = yield* RateLimiter.make({ burst: 2, perMinute: 6, now: () => now })
      const take = () => Effect.map(limiter.take("u"), (d) => d._tag === "Allowed" ? "ok" : `wait ${d.retryAfterSeconds}`)
      assert.deepStrictEqual([yield* take(), yield* take(), yield* take()], ["ok", "ok", "wait 10"])
      now += 10_000
      assert.strictEqual(yield* take(), "ok")
      assert.strictEqual(yield* Effect.map(limiter.take("other"), (d) => d._tag), "Allowed")
    }))
})
