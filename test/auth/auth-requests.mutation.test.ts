/**
 * Auth from requests (src/services/auth/Auth.ts), in process: which header carries the credential
 * (`Authorization: Bearer`, any case, else `apikey`), the service-role gate for internal routes (the exact key
 * or a verified `service_role` JWT; nothing else, in every mode), the dev principal, and the per-caller key.
 * Tokens are minted with jose directly.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer, Option, Redacted } from "effect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as jose from "jose"
import { Auth, devUserId, principalKey, requestToken } from "../../src/services/auth/Auth.ts"
import { hasRealPostgres, TestDatabaseLive } from "../support/TestDatabase.ts"

const secret = "unit-test-jwt-secret-with-at-least-32-characters"
const serviceKey = "unit-test-service-role-key"
const alice = "a11ce000-0000-4000-8000-000000000001"

const request = (headers: Record<string, string>) => HttpServerRequest.fromWeb(new Request("http://localhost/x", { headers }))

const authWith = (mode: "dev" | "prod") =>
  Auth.make({
    mode,
    jwtSecret: Option.some(Redacted.make(secret)),
    jwksUrl: Option.none(),
    audience: "authenticated",
    issuer: Option.none(),
    serviceRoleKey: Option.some(Redacted.make(serviceKey)),
    devUserId
  })

const sign = (claims: jose.JWTPayload) =>
  Effect.promise(() =>
    new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt().setExpirationTime("1h")
      .sign(new TextEncoder().encode(secret)))

const userClaims = { sub: alice, role: "authenticated", aud: "authenticated" }

describe("requestToken", () => {
  it("takes the bearer token (scheme in any case, surrounding space trimmed), else the apikey header", () => {
    assert.strictEqual(requestToken(request({ authorization: "Bearer abc" })), "abc")
    assert.strictEqual(requestToken(request({ authorization: "bearer   abc  " })), "abc")
    assert.strictEqual(requestToken(request({ authorization: "  BEARER abc" })), "abc")
    assert.strictEqual(requestToken(request({ authorization: "Bearer abc", apikey: "key" })), "abc")
    assert.strictEqual(requestToken(request({ apikey: "key" })), "key")
  })

  it("a non-bearer Authorization falls back to apikey; nothing usable is no token", () => {
    assert.strictEqual(requestToken(request({ authorization: "Basic dXNlcjpwYXNz", apikey: "key" })), "key")
    assert.strictEqual(requestToken(request({ authorization: "xBearer abc", apikey: "key" })), "key")
    assert.strictEqual(requestToken(request({ authorization: "Bearer abc x" })), "abc x")
    assert.isUndefined(requestToken(request({ authorization: "Basic abc" })))
    assert.isUndefined(requestToken(request({ apikey: "" })))
    assert.isUndefined(requestToken(request({})))
  })
})

describe("principalKey", () => {
  it("is role and user id", () => {
    assert.strictEqual(principalKey({ userId: alice, role: "authenticated", claims: { sub: alice }, via: "jwt" }), `authenticated:${alice}`)
    assert.strictEqual(principalKey({ userId: "", role: "service_role", claims: { sub: "" }, via: "service-key" }), "service_role:")
  })
})

describe("requireServiceRole", () => {
  for (const mode of ["dev", "prod"] as const) {
    it.effect(`${mode}: passes the exact key and a service_role JWT; refuses users, anon, near misses and nothing`, () =>
      Effect.gen(function*() {
        const auth = yield* authWith(mode)
        const passes = (headers: Record<string, string>) => Effect.map(Effect.exit(auth.requireServiceRole(request(headers))), Exit.isSuccess)
        const byKey = yield* auth.requireServiceRole(request({ authorization: `Bearer ${serviceKey}` }))
        assert.deepStrictEqual(byKey, { userId: "", role: "service_role", claims: { sub: "", role: "service_role" }, via: "service-key" })
        assert.isTrue(yield* passes({ apikey: serviceKey }))
        const byJwt = yield* auth.requireServiceRole(request({ authorization: `Bearer ${yield* sign({ role: "service_role" })}` }))
        assert.deepStrictEqual([byJwt.role, byJwt.via, byJwt.userId, byJwt.claims.sub], ["service_role", "jwt", "", ""])
        assert.isFalse(yield* passes({ authorization: `Bearer ${yield* sign(userClaims)}` }))
        assert.isFalse(yield* passes({ authorization: `Bearer ${yield* sign({ role: "anon" })}` }))
        assert.isFalse(yield* passes({ authorization: `Bearer ${serviceKey}x` }))
        assert.isFalse(yield* passes({ authorization: `Bearer ${serviceKey.slice(0, -1)}` }))
        assert.isFalse(yield* passes({}))
        const refused = yield* Effect.flip(auth.requireServiceRole(request({})))
        assert.deepStrictEqual([refused.status, refused.detail], [401, "this route requires the service-role key"])
      }))
  }
})

describe("authenticate (from a request)", () => {
  it.effect("dev mode: no token is the dev user with dev claims; a user token is that user", () =>
    Effect.gen(function*() {
      const auth = yield* authWith("dev")
      assert.strictEqual(auth.mode, "dev")
      assert.deepStrictEqual(yield* auth.authenticate(request({})), {
        userId: devUserId,
        role: "authenticated",
        claims: { sub: devUserId, role: "authenticated", aud: "authenticated", dev: true },
        via: "dev"
      })
      const user = yield* auth.authenticate(request({ authorization: `Bearer ${yield* sign(userClaims)}` }))
      assert.deepStrictEqual([user.userId, user.role, user.via, user.claims.sub, user.claims.role], [alice, "authenticated", "jwt", alice, "authenticated"])
      // An anon token is anonymous: the dev user in dev mode.
      assert.strictEqual((yield* auth.authenticate(request({ apikey: yield* sign({ role: "anon" }) }))).via, "dev")
      // An empty token is no token.
      assert.strictEqual((yield* auth.authenticateToken("")).via, "dev")
    }))

  it.effect("prod mode: no token, an empty one or an anon token is 401 asking for a user token", () =>
    Effect.gen(function*() {
      const auth = yield* authWith("prod")
      for (const token of [undefined, "", yield* sign({ role: "anon" })]) {
        const refused = yield* Effect.flip(auth.authenticateToken(token))
        assert.deepStrictEqual([refused.status, refused.detail], [401, "a user access token is required (Authorization: Bearer <jwt>)"])
      }
    }))

  it.effect("refusals say why: the role, the audience, the subject", () =>
    Effect.gen(function*() {
      const auth = yield* authWith("prod")
      const detail = (claims: jose.JWTPayload) => Effect.map(Effect.flip(Effect.flatMap(sign(claims), (t) => auth.verify(t))), (e) => e.detail)
      assert.strictEqual(yield* detail({ ...userClaims, role: "admin" }), "role \"admin\" is not accepted")
      assert.strictEqual(yield* detail({ ...userClaims, aud: "other" }), "audience must include \"authenticated\"")
      assert.strictEqual(yield* detail({ sub: alice, role: "authenticated" }), "audience must include \"authenticated\"")
      assert.strictEqual(yield* detail({ ...userClaims, sub: "not-a-uuid" }), "sub must be a user id (uuid)")
      assert.strictEqual(yield* detail({ role: "authenticated", aud: "authenticated" }), "sub must be a user id (uuid)")
      assert.match(yield* Effect.map(Effect.flip(auth.verify("not-a-jwt")), (e) => e.detail), /^invalid token: /)
    }))

  it.effect("an audience list that includes the configured audience is accepted", () =>
    Effect.gen(function*() {
      const auth = yield* authWith("prod")
      const principal = yield* auth.verify(yield* sign({ ...userClaims, aud: ["other", "authenticated"] }))
      assert.strictEqual(principal?.userId, alice)
    }))
})

// One migrated database for the block (the default mode depends on its backend); a fresh Auth.layer per env.
layer(TestDatabaseLive(), { excludeTestServices: true, timeout: 120_000 })("Auth.layer reads its settings from configuration", (it) => {
  const authFrom = (env: Record<string, string>) =>
    Effect.service(Auth).pipe(Effect.provide(Auth.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env))))))

  it.effect("the mode defaults to dev only on the embedded backend; COGO_AUTH_MODE overrides it", () =>
    Effect.gen(function*() {
      assert.strictEqual((yield* authFrom({})).mode, hasRealPostgres ? "prod" : "dev")
      assert.strictEqual((yield* authFrom({ COGO_AUTH_MODE: "prod" })).mode, "prod")
      assert.strictEqual((yield* authFrom({ COGO_AUTH_MODE: "dev" })).mode, "dev")
    }))

  it.effect("secret, service key, audience, issuer and dev user come from their variables", () =>
    Effect.gen(function*() {
      const devUser = "de000000-0000-4000-8000-0000000000aa"
      const auth = yield* authFrom({
        COGO_AUTH_MODE: "dev",
        SUPABASE_JWT_SECRET: secret,
        SUPABASE_SERVICE_ROLE_KEY: serviceKey,
        SUPABASE_JWT_AUDIENCE: "custom-aud",
        SUPABASE_JWT_ISSUER: "https://issuer.test",
        COGO_DEV_USER_ID: devUser
      })
      assert.strictEqual((yield* auth.authenticateToken(undefined)).userId, devUser)
      assert.strictEqual((yield* auth.verify(serviceKey))?.via, "service-key")
      const good = yield* sign({ sub: alice, role: "authenticated", aud: "custom-aud", iss: "https://issuer.test" })
      assert.strictEqual((yield* auth.verify(good))?.userId, alice)
      const wrongIssuer = yield* sign({ sub: alice, role: "authenticated", aud: "custom-aud", iss: "https://other.test" })
      assert.isTrue(Exit.isFailure(yield* Effect.exit(auth.verify(wrongIssuer))))
      const defaultAudience = yield* sign({ ...userClaims, iss: "https://issuer.test" })
      assert.isTrue(Exit.isFailure(yield* Effect.exit(auth.verify(defaultAudience))))
    }))

  it.effect("without variables: audience `authenticated`, no secret (HS256 refused), no service key", () =>
    Effect.gen(function*() {
      const auth = yield* authFrom({ COGO_AUTH_MODE: "prod" })
      assert.isTrue(Exit.isFailure(yield* Effect.exit(auth.verify(yield* sign(userClaims)))))
      assert.isTrue(Exit.isFailure(yield* Effect.exit(auth.verify(serviceKey))))
    }))
})
