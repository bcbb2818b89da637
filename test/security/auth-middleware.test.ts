/**
 * The HttpApi auth middleware (`AuthenticationLive` in src/services/auth/Auth.ts), in process over real
 * HTTP: a user route behind `Authentication` served on an ephemeral port with
 * the real Auth verifier over explicit settings and the service's problem+json middleware. What is checked is what a client sees: who the handler
 * believes is calling (`CurrentUser`), or a 401 problem+json saying why not. Tokens are minted with jose.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Option, Redacted, Schema } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware } from "effect/http-api"
import { createServer } from "node:http"
import {
  Auth,
  Authentication,
  AuthenticationLive,
  CurrentUser,
  devUserId
} from "../../src/services/auth/Auth.ts"
import { ProblemJsonMiddleware } from "../../src/edge/http/ProblemJson.ts"
import { uuidPattern } from "../../src/domain/platform/Uuid.ts"
import { alice, jwtSecret, mint, nowSeconds, validClaims } from "./jwt-support.ts"

const serviceKey = "middleware-test-service-role-key"

const Caller = Schema.Struct({ userId: Schema.String, role: Schema.String, via: Schema.String, sub: Schema.String })

class UserGroup extends HttpApiGroup.make("user").add(HttpApiEndpoint.get("me", "/me", { success: Caller })).middleware(Authentication) {}
class TestApi extends HttpApi.make("auth-middleware-test").add(UserGroup) {}

const caller = Effect.map(Effect.service(CurrentUser), (p) => ({ userId: p.userId, role: p.role, via: p.via, sub: p.claims.sub }))
const UserLive = HttpApiBuilder.group(TestApi, "user", (handlers) => handlers.handle("me", () => caller))

/** The test API on an ephemeral port, its middlewares over an Auth in `mode` that trusts the test key and service key. */
const serverIn = (mode: "dev" | "prod") =>
  HttpRouter.serve(
    Layer.mergeAll(
      HttpApiBuilder.layer(TestApi).pipe(
        Layer.provide(UserLive),
        Layer.provide(HttpApiMiddleware.layerProblemDetails({ includeDetails: true })),
        Layer.provide(AuthenticationLive),
        Layer.provide(Auth.layerTest({
          mode,
          jwtSecret: Option.some(Redacted.make(jwtSecret)),
          serviceRoleKey: Option.some(Redacted.make(serviceKey))
        }))
      ),
      ProblemJsonMiddleware
    ),
    { disableLogger: true }
  ).pipe(Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })))

interface Answer {
  readonly status: number
  readonly contentType: string
  readonly body: {
    readonly userId?: string
    readonly role?: string
    readonly via?: string
    readonly sub?: string
    readonly type?: string
    readonly title?: string
    readonly status?: number
    readonly detail?: string
  }
}

/** GET `path` with `headers`; status, content type and JSON body. */
const get = (path: string, headers: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    const address = server.address
    if (address._tag === "UnixPathAddress") return yield* Effect.die("expected a TCP address")
    return yield* Effect.promise(async (): Promise<Answer> => {
      const response = await fetch(`http://127.0.0.1:${address.port}${path}`, { headers })
      return { status: response.status, contentType: response.headers.get("content-type") ?? "", body: await response.json() as Answer["body"] }
    })
  })

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
const unauthorized = "https://cogo.dev/problems/unauthorized"

/** A 401 problem+json (type, title, status) with exactly `detail` (or a detail matching it), and no caller. */
const assertRefused = (answer: Answer, detail: string | RegExp) => {
  assert.strictEqual(answer.status, 401)
  assert.match(answer.contentType, /^application\/problem\+json/)
  assert.strictEqual(answer.body.type, unauthorized)
  assert.strictEqual(answer.body.title, "Unauthorized")
  assert.strictEqual(answer.body.status, 401)
  if (typeof detail === "string") assert.strictEqual(answer.body.detail, detail)
  else assert.match(answer.body.detail ?? "", detail)
  assert.isUndefined(answer.body.userId)
}

const userTokenRequired = "a user access token is required (Authorization: Bearer <jwt>)"

layer(serverIn("prod"), { excludeTestServices: true })("Authentication middleware, prod mode", (it) => {
  it.effect("a valid user token reaches the handler as that user, with its verified claims", () =>
    Effect.gen(function*() {
      const answer = yield* get("/me", bearer(yield* mint(validClaims())))
      assert.strictEqual(answer.status, 200)
      assert.deepStrictEqual(answer.body, { userId: alice, role: "authenticated", via: "jwt", sub: alice })
    }))

  it.effect("no token, an empty bearer and an anon token are 401 asking for a user token", () =>
    Effect.gen(function*() {
      assertRefused(yield* get("/me"), userTokenRequired)
      assertRefused(yield* get("/me", { authorization: "Bearer " }), userTokenRequired)
      assertRefused(yield* get("/me", bearer(yield* mint({ role: "anon", exp: nowSeconds() + 600 }))), userTokenRequired)
    }))

  it.effect("a bad token is 401 saying why; the service key is the service principal on user routes too", () =>
    Effect.gen(function*() {
      assertRefused(yield* get("/me", bearer("not-a-jwt")), /^invalid token: /)
      assertRefused(yield* get("/me", bearer(yield* mint({ ...validClaims(), role: "admin" }))), "role \"admin\" is not accepted")
      const service = yield* get("/me", bearer(serviceKey))
      assert.strictEqual(service.status, 200)
      assert.deepStrictEqual(service.body, { userId: "", role: "service_role", via: "service-key", sub: "" })
    }))
})

layer(serverIn("dev"), { excludeTestServices: true })("Authentication middleware, dev mode", (it) => {
  it.effect("no token is the dev user; a token that is present is still verified", () =>
    Effect.gen(function*() {
      const anonymous = yield* get("/me")
      assert.strictEqual(anonymous.status, 200)
      assert.deepStrictEqual(anonymous.body, { userId: devUserId, role: "authenticated", via: "dev", sub: devUserId })
      // A uuid, so that `auth.uid()` casts under RLS.
      assert.match(anonymous.body.userId ?? "", uuidPattern)
      assertRefused(yield* get("/me", bearer("not-a-jwt")), /^invalid token: /)
      const forged = yield* mint(validClaims(), new TextEncoder().encode("another-secret-another-secret-another-secret"))
      assertRefused(yield* get("/me", bearer(forged)), /^invalid token: /)
      const user = yield* get("/me", bearer(yield* mint(validClaims())))
      assert.deepStrictEqual(user.body, { userId: alice, role: "authenticated", via: "jwt", sub: alice })
    }))
})
