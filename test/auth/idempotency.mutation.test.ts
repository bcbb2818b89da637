/**
 * Idempotency keys (src/services/auth/Idempotency.ts) as a service over a real migrated database, written
 * from its contract: the first POST with a key executes and its response (< 500) is stored; the same request
 * again is replayed (`Idempotent-Replayed: true`), another request with that key is 422; a 5xx or a failure
 * gives the key back; keys are scoped per caller; malformed keys are 400; non-POSTs, requests without a key
 * and self-managed paths pass through; a holder whose lease ran out is taken over; expired keys are reused.
 * Short lease and TTL so the timing rules are exercised in seconds.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer, Option, Redacted, Ref, Stream } from "effect"
import { HttpServerResponse } from "effect/http"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as jose from "jose"
import { Auth } from "../../src/services/auth/Auth.ts"
import { Idempotency, requestKey } from "../../src/services/auth/Idempotency.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"

const jwtSecret = "unit-test-jwt-secret-with-at-least-32-characters"
const alice = "a11ce000-0000-4000-8000-000000000001"

const TestLayer = Idempotency.layer({ selfManagedPaths: ["/self", /^\/runs\/\d+$/] }).pipe(
  Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ COGO_IDEMPOTENCY_LEASE: "1 second", COGO_IDEMPOTENCY_TTL: "3 seconds" }))),
  Layer.provide(Auth.layerTest({ mode: "dev", jwtSecret: Option.some(Redacted.make(jwtSecret)) })),
  Layer.provideMerge(TestDatabaseLive())
)

const aliceToken = () =>
  Effect.promise(() =>
    new jose.SignJWT({ sub: alice, role: "authenticated", aud: "authenticated" }).setProtectedHeader({ alg: "HS256" })
      .setIssuedAt().setExpirationTime("1h").sign(new TextEncoder().encode(jwtSecret)))

let keyCounter = 0
const freshKey = () => `key-${Date.now()}-${keyCounter++}`

const post = (path: string, body: string, headers: Record<string, string>, method = "POST") =>
  HttpServerRequest.fromWeb(new Request(`http://localhost${path}`, { method, body: method === "GET" ? null : body, headers }))

/** An app that counts its executions and answers `status` with a JSON body naming the execution. */
const countingApp = (count: Ref.Ref<number>, status = 201) =>
  Effect.map(Ref.updateAndGet(count, (n) => n + 1), (n) => HttpServerResponse.text(`{"run":${n}}`, { status, contentType: "application/json" }))

const bodyOf = (response: HttpServerResponse.HttpServerResponse) =>
  response.body._tag === "Uint8Array" ? new TextDecoder().decode(response.body.body) : `<${response.body._tag}>`

describe("requestKey", () => {
  it.effect("no header is no key; 1-255 visible ASCII characters are a key; anything else is 400", () =>
    Effect.gen(function*() {
      const key = (value: string | undefined) => requestKey(post("/x", "", value === undefined ? {} : { "idempotency-key": value }))
      assert.isUndefined(yield* key(undefined))
      assert.strictEqual(yield* key("a"), "a")
      assert.strictEqual(yield* key("!~".repeat(127) + "z"), "!~".repeat(127) + "z")
      for (const bad of ["", "x".repeat(256), "a b", "é"]) {
        const exit = yield* Effect.exit(key(bad))
        assert.isTrue(Exit.isFailure(exit), JSON.stringify(bad))
        const error = Exit.findErrorOption(exit)
        assert.strictEqual(Option.isSome(error) ? error.value.status : 0, 400)
      }
    }))
})

layer(TestLayer, { excludeTestServices: true, timeout: 60_000 })("idempotency over the database", (it) => {
  it.effect("the same request with the same key runs once; the retry replays status, type and body, marked", () =>
    Effect.gen(function*() {
      const idempotency = yield* Idempotency
      const count = yield* Ref.make(0)
      const key = freshKey()
      const first = yield* idempotency.middleware(post("/orders", "{\"a\":1}", { "idempotency-key": key }), countingApp(count))
      const again = yield* idempotency.middleware(post("/orders", "{\"a\":1}", { "idempotency-key": key }), countingApp(count))
      assert.strictEqual(yield* Ref.get(count), 1)
      assert.deepStrictEqual([first.status, bodyOf(first), first.headers["idempotent-replayed"]], [201, "{\"run\":1}", undefined])
      assert.deepStrictEqual([again.status, bodyOf(again), again.headers["idempotent-replayed"]], [201, "{\"run\":1}", "true"])
      assert.strictEqual(again.body._tag === "Uint8Array" ? again.body.contentType : "", "application/json")
    }))

  it.effect("the key with another body, path or method is 422; another caller's same key executes separately", () =>
    Effect.gen(function*() {
      const idempotency = yield* Idempotency
      const count = yield* Ref.make(0)
      const key = freshKey()
      yield* idempotency.middleware(post("/orders", "{\"a\":1}", { "idempotency-key": key }), countingApp(count))
      const otherBody = yield* idempotency.middleware(post("/orders", "{\"a\":2}", { "idempotency-key": key }), countingApp(count))
      const otherPath = yield* idempotency.middleware(post("/orders2", "{\"a\":1}", { "idempotency-key": key }), countingApp(count))
      assert.deepStrictEqual([otherBody.status, otherPath.status], [422, 422])
      const token = yield* aliceToken()
      const asAlice = yield* idempotency.middleware(
        post("/orders", "{\"a\":1}", { "idempotency-key": key, authorization: `Bearer ${token}` }),
        countingApp(count)
      )
      assert.deepStrictEqual([asAlice.status, bodyOf(asAlice), asAlice.headers["idempotent-replayed"]], [201, "{\"run\":2}", undefined])
      assert.strictEqual(yield* Ref.get(count), 2)
    }))

  it.effect("a malformed key is a 400 problem and nothing runs; a bad token passes to the route", () =>
    Effect.gen(function*() {
      const idempotency = yield* Idempotency
      const count = yield* Ref.make(0)
      const bad = yield* idempotency.middleware(post("/orders", "{}", { "idempotency-key": "has space" }), countingApp(count))
      assert.strictEqual(bad.status, 400)
      assert.strictEqual(yield* Ref.get(count), 0)
      const key = freshKey()
      const unauthenticated = post("/orders", "{}", { "idempotency-key": key, authorization: "Bearer not-a-jwt" })
      yield* idempotency.middleware(unauthenticated, countingApp(count))
      yield* idempotency.middleware(unauthenticated, countingApp(count))
      assert.strictEqual(yield* Ref.get(count), 2, "nothing remembered for a caller that is not authenticated")
    }))

  it.effect("GETs, POSTs without a key and self-managed paths pass through every time", () =>
    Effect.gen(function*() {
      const idempotency = yield* Idempotency
      const count = yield* Ref.make(0)
      const key = freshKey()
      for (const request of [
        post("/orders", "", { "idempotency-key": key }, "GET"),
        post("/orders", "{}", {}),
        post("/self", "{}", { "idempotency-key": key }),
        post("/self?x=1", "{}", { "idempotency-key": key }),
        post("/runs/42", "{}", { "idempotency-key": key })
      ]) {
        yield* idempotency.middleware(request, countingApp(count))
        yield* idempotency.middleware(request, countingApp(count))
      }
      assert.strictEqual(yield* Ref.get(count), 10)
      // A path that only resembles a self-managed one is handled here.
      yield* idempotency.middleware(post("/runs/42/x", "{}", { "idempotency-key": key }), countingApp(count))
      const replayed = yield* idempotency.middleware(post("/runs/42/x", "{}", { "idempotency-key": key }), countingApp(count))
      assert.strictEqual(replayed.headers["idempotent-replayed"], "true")
      assert.strictEqual(yield* Ref.get(count), 11)
    }))

  it.effect("a 5xx or a failure gives the key back: the retry executes; a 4xx is stored and replayed", () =>
    Effect.gen(function*() {
      const idempotency = yield* Idempotency
      const count = yield* Ref.make(0)
      const key = freshKey()
      const request = () => post("/orders", "{}", { "idempotency-key": key })
      assert.strictEqual((yield* idempotency.middleware(request(), countingApp(count, 503))).status, 503)
      yield* Effect.exit(idempotency.middleware(request(), Effect.andThen(Ref.update(count, (n) => n + 1), Effect.fail("boom"))))
      const stored = yield* idempotency.middleware(request(), countingApp(count, 409))
      const replay = yield* idempotency.middleware(request(), countingApp(count))
      assert.strictEqual(yield* Ref.get(count), 3)
      assert.deepStrictEqual([stored.status, replay.status, replay.headers["idempotent-replayed"], bodyOf(replay)], [409, 409, "true", "{\"run\":3}"])
    }))

  it.effect("a streamed response stores its stream id, and the replay is empty with the stored status", () =>
    Effect.gen(function*() {
      const idempotency = yield* Idempotency
      const key = freshKey()
      const streamed = HttpServerResponse.stream(Stream.make(new TextEncoder().encode("data: x\n\n")), {
        status: 200,
        contentType: "text/event-stream",
        headers: { "x-cogo-stream-id": "stream-1" }
      })
      yield* idempotency.middleware(post("/chat", "{}", { "idempotency-key": key }), Effect.succeed(streamed))
      const claim = yield* idempotency.claim({ scope: "authenticated:de000000-0000-4000-8000-000000000001", key, method: "POST", path: "/chat", content: "{}" })
      assert.deepStrictEqual(claim, { _tag: "Replay", response: { status: 200, contentType: "text/event-stream", body: null, streamId: "stream-1" } })
    }))

  it.effect("claim, complete and release directly; a holder whose lease ran out is taken over", () =>
    Effect.gen(function*() {
      const idempotency = yield* Idempotency
      const request = { scope: "s", key: freshKey(), method: "POST", path: "/p", content: "c" }
      assert.deepStrictEqual(yield* idempotency.claim(request), { _tag: "Execute" })
      yield* idempotency.release(request.scope, request.key)
      assert.deepStrictEqual(yield* idempotency.claim(request), { _tag: "Execute" })
      // Never completed: the next claim waits for the 1 s lease, then executes instead of waiting forever.
      const started = Date.now()
      assert.deepStrictEqual(yield* idempotency.claim(request), { _tag: "Execute" })
      assert.isAtLeast(Date.now() - started, 500)
      yield* idempotency.complete(request.scope, request.key, { status: 202, contentType: "text/plain", body: "ok", streamId: null })
      assert.deepStrictEqual(yield* idempotency.claim(request), {
        _tag: "Replay",
        response: { status: 202, contentType: "text/plain", body: "ok", streamId: null }
      })
      // Release gives back only running keys: a stored response stays.
      yield* idempotency.release(request.scope, request.key)
      assert.strictEqual((yield* idempotency.claim(request))._tag, "Replay")
    }))

  it.effect("an expired key (past its TTL) is reused, even for another request", () =>
    Effect.gen(function*() {
      const idempotency = yield* Idempotency
      const request = { scope: "s", key: freshKey(), method: "POST", path: "/p", content: "one" }
      yield* idempotency.claim(request)
      yield* idempotency.complete(request.scope, request.key, { status: 201, contentType: null, body: null, streamId: null })
      assert.strictEqual((yield* Effect.exit(idempotency.claim({ ...request, content: "two" })))._tag, "Failure", "422 while it lives")
      yield* Effect.sleep("3500 millis") // the TTL under test is 3 s
      assert.deepStrictEqual(yield* idempotency.claim({ ...request, content: "two" }), { _tag: "Execute" })
    }))
})
