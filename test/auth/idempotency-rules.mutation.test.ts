/**
 * Idempotency keys (src/services/auth/Idempotency.ts), the rules idempotency.mutation.test.ts leaves to timing
 * luck, over a real migrated database: the problem bodies a client gets (400, 422, 409); a waiter gives up
 * with 409 only after the holder's lease could have run out; a holder whose lease ran out is taken over by
 * exactly one waiter, whose take-over renews the lease; a 500 (the bound itself) and a failed handler give the
 * key back at once (the row is gone); an empty stored response replays empty; every self-managed pattern
 * passes through; a body that cannot be read still reaches the route; expired keys are swept from the table.
 * Lease 3 s and TTL 1 h here, so a wait can only end by a take-over, never by the key expiring.
 */
import { assert, describe, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Fiber, Layer, Option, Redacted, Ref } from "effect"
import { HttpServerResponse } from "effect/http"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import { SqlClient } from "effect/sql/SqlClient"
import { Auth, devUserId } from "../../src/services/auth/Auth.ts"
import { Idempotency } from "../../src/services/auth/Idempotency.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"

const jwtSecret = "unit-test-jwt-secret-with-at-least-32-characters"
const AuthTest = Auth.layerTest({ mode: "dev", jwtSecret: Option.some(Redacted.make(jwtSecret)) })
const config = (lease: string) =>
  ConfigProvider.layer(ConfigProvider.fromEnvRecord({ COGO_IDEMPOTENCY_LEASE: lease, COGO_IDEMPOTENCY_TTL: "1 hour" }))

const leaseMillis = 3000
const TestLayer = Idempotency.layer({ selfManagedPaths: ["/self", /^\/a\/\d+$/, /^\/b\/\d+$/] }).pipe(
  Layer.provide(config("3 seconds")),
  Layer.provide(AuthTest),
  Layer.provideMerge(TestDatabaseLive())
)

/** Another replica over the same database, whose lease is an hour: its holds never run out during a test. */
const OtherReplica = Idempotency.layer().pipe(Layer.provide(config("1 hour")), Layer.provide(AuthTest))

/** The scope of the dev user (dev mode, no token), who sends every request below. */
const devScope = `authenticated:${devUserId}`

let keyCounter = 0
const freshKey = () => `rules-${Date.now()}-${keyCounter++}`

const post = (path: string, body: string | ReadableStream<Uint8Array>, headers: Record<string, string>) =>
  HttpServerRequest.fromWeb(new Request(`http://localhost${path}`, { method: "POST", body, headers, duplex: "half" } as RequestInit))

const countingApp = (count: Ref.Ref<number>, status = 201) =>
  Effect.map(Ref.updateAndGet(count, (n) => n + 1), (n) => HttpServerResponse.text(`{"run":${n}}`, { status, contentType: "application/json" }))

const bodyOf = (response: HttpServerResponse.HttpServerResponse) =>
  response.body._tag === "Uint8Array" ? new TextDecoder().decode(response.body.body) : `<${response.body._tag}>`
const contentTypeOf = (response: HttpServerResponse.HttpServerResponse) =>
  response.body._tag === "Uint8Array" ? response.body.contentType : `<${response.body._tag}>`

/** The rows the table holds for a key (any scope). */
const rowsOf = (key: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    return yield* sql<{ state: string; status: number | null }>`SELECT state, status FROM cogo.idempotency_keys WHERE key = ${key}`
  })

describe("idempotency rules", () => {
  layer(TestLayer, { excludeTestServices: true, timeout: 30_000 })("over the database", (it) => {
    it.effect("a malformed key is a 400 problem naming the header; a reused key is a 422 problem naming the key", () =>
      Effect.gen(function*() {
        const idempotency = yield* Idempotency
        const count = yield* Ref.make(0)
        const bad = yield* idempotency.middleware(post("/orders", "{}", { "idempotency-key": "has space" }), countingApp(count))
        assert.strictEqual(bad.status, 400)
        assert.strictEqual(contentTypeOf(bad), "application/problem+json")
        const badBody = JSON.parse(bodyOf(bad))
        assert.deepStrictEqual(
          [badBody.type, badBody.title, badBody.status],
          ["https://cogo.dev/problems/invalid-idempotency-key", "Bad Request", 400]
        )
        assert.match(badBody.detail, /Idempotency-Key.*1-255 visible ASCII/)
        assert.strictEqual(badBody.errors.length, 1)
        assert.deepStrictEqual(badBody.errors[0].path, ["headers", "idempotency-key"])
        assert.match(badBody.errors[0].message, /1-255 visible ASCII/)

        const key = freshKey()
        yield* idempotency.middleware(post("/orders", "{\"a\":1}", { "idempotency-key": key }), countingApp(count))
        const reused = yield* idempotency.middleware(post("/orders", "{\"a\":2}", { "idempotency-key": key }), countingApp(count))
        assert.strictEqual(reused.status, 422)
        assert.strictEqual(contentTypeOf(reused), "application/problem+json")
        const reusedBody = JSON.parse(bodyOf(reused))
        assert.deepStrictEqual(
          [reusedBody.type, reusedBody.title, reusedBody.status],
          ["https://cogo.dev/problems/idempotency-key-reused", "Unprocessable Entity", 422]
        )
        assert.include(reusedBody.detail, JSON.stringify(key))
        assert.strictEqual(yield* Ref.get(count), 1)
      }))

    it.effect("a request held by another replica is a 409 problem, given only after waiting at least a lease", () =>
      Effect.gen(function*() {
        const idempotency = yield* Idempotency
        const count = yield* Ref.make(0)
        const key = freshKey()
        const held = yield* Effect.provide(
          Effect.gen(function*() {
            const other = yield* Idempotency
            return yield* other.claim({ scope: devScope, key, method: "POST", path: "/orders", content: "{}" })
          }),
          OtherReplica
        )
        assert.deepStrictEqual(held, { _tag: "Execute" })
        const started = Date.now()
        const busy = yield* idempotency.middleware(post("/orders", "{}", { "idempotency-key": key }), countingApp(count))
        const waited = Date.now() - started
        assert.strictEqual(busy.status, 409)
        assert.strictEqual(contentTypeOf(busy), "application/problem+json")
        const problem = JSON.parse(bodyOf(busy))
        assert.deepStrictEqual(
          [problem.type, problem.title, problem.status],
          ["https://cogo.dev/problems/idempotency-key-in-progress", "Conflict", 409]
        )
        assert.include(problem.detail, JSON.stringify(key))
        assert.strictEqual(yield* Ref.get(count), 0, "the route never ran")
        assert.isAtLeast(waited, leaseMillis, "a waiter waits at least a lease before giving up")
      }))

    it.effect("a holder whose lease ran out is taken over by one waiter, whose lease then holds off the next", () =>
      Effect.gen(function*() {
        const idempotency = yield* Idempotency
        const request = { scope: "s", key: freshKey(), method: "POST", path: "/p", content: "c" }
        assert.deepStrictEqual(yield* idempotency.claim(request), { _tag: "Execute" })
        // The holder never completes (its replica died): the waiter executes once the lease has run out.
        const started = Date.now()
        assert.deepStrictEqual(yield* idempotency.claim(request), { _tag: "Execute" })
        assert.isAtLeast(Date.now() - started, leaseMillis - 500)
        // The take-over holds a fresh lease: the next waiter waits, and replays what the new holder stores.
        const next = yield* Effect.forkChild(idempotency.claim(request))
        yield* Effect.sleep("300 millis")
        yield* idempotency.complete(request.scope, request.key, { status: 201, contentType: "text/plain", body: "taken over", streamId: null })
        assert.deepStrictEqual(yield* Fiber.join(next), {
          _tag: "Replay",
          response: { status: 201, contentType: "text/plain", body: "taken over", streamId: null }
        })
      }))

    it.effect("a key released between a second request's insert and its read: that request tries again and runs", () =>
      Effect.gen(function*() {
        const idempotency = yield* Idempotency
        const request = { scope: "s", key: freshKey(), method: "POST", path: "/p", content: "c" }
        assert.deepStrictEqual(yield* idempotency.claim(request), { _tag: "Execute" })
        // The second claim's INSERT (a conflict: the key is held) goes out first; the holder's release (its handler
        // failed) is queued before that claim's read, which then finds no row.
        const second = yield* Effect.forkChild(idempotency.claim(request))
        yield* Effect.yieldNow
        yield* idempotency.release(request.scope, request.key)
        assert.deepStrictEqual(yield* Fiber.join(second), { _tag: "Execute" })
        assert.deepStrictEqual((yield* rowsOf(request.key)).length, 1, "held again, by the second request")
      }))

    it.effect("waiters racing for one expired lease: exactly one takes it over and runs, the others replay its response", () =>
      Effect.gen(function*() {
        const idempotency = yield* Idempotency
        const count = yield* Ref.make(0)
        const key = freshKey()
        // A holder (its replica died) claimed the key and never completes; its lease runs out.
        assert.deepStrictEqual(
          yield* idempotency.claim({ scope: devScope, key, method: "POST", path: "/orders", content: "{}" }),
          { _tag: "Execute" }
        )
        yield* Effect.sleep(`${leaseMillis + 300} millis`)
        // Four retries of the same request arrive together, all finding the lease expired.
        const slowApp = Effect.andThen(Effect.sleep("200 millis"), countingApp(count))
        const responses = yield* Effect.all(
          Array.from({ length: 4 }, () => idempotency.middleware(post("/orders", "{}", { "idempotency-key": key }), slowApp)),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(yield* Ref.get(count), 1, "the handler ran once")
        assert.deepStrictEqual(
          responses.map((r) => [r.status, bodyOf(r)]),
          Array.from({ length: 4 }, () => [201, "{\"run\":1}"])
        )
        assert.deepStrictEqual(
          responses.map((r) => r.headers["idempotent-replayed"] ?? "executed").sort(),
          ["executed", "true", "true", "true"]
        )
        assert.deepStrictEqual(yield* rowsOf(key), [{ state: "done", status: 201 }])
      }))

    it.effect("a 500 and a failed handler give the key back at once: no row is left, the retry executes", () =>
      Effect.gen(function*() {
        const idempotency = yield* Idempotency
        const count = yield* Ref.make(0)
        const key = freshKey()
        const request = (body = "{}") => post("/orders", body, { "idempotency-key": key })
        assert.strictEqual((yield* idempotency.middleware(request(), countingApp(count, 500))).status, 500)
        assert.deepStrictEqual(yield* rowsOf(key), [], "a 500 is not stored")
        const retry = yield* idempotency.middleware(request(), countingApp(count, 500))
        assert.deepStrictEqual([retry.status, retry.headers["idempotent-replayed"], bodyOf(retry)], [500, undefined, "{\"run\":2}"])

        const failed = yield* Effect.exit(idempotency.middleware(request(), Effect.andThen(Ref.update(count, (n) => n + 1), Effect.fail("boom"))))
        assert.strictEqual(failed._tag, "Failure")
        assert.deepStrictEqual(yield* rowsOf(key), [], "a failed handler leaves no claim behind")
        // The key is free: even another body executes, without waiting for a lease.
        const started = Date.now()
        const other = yield* idempotency.middleware(request("{\"b\":1}"), countingApp(count))
        assert.deepStrictEqual([other.status, bodyOf(other)], [201, "{\"run\":4}"])
        assert.isBelow(Date.now() - started, leaseMillis)
        assert.deepStrictEqual(yield* rowsOf(key), [{ state: "done", status: 201 }])
      }))

    it.effect("an empty response is stored and replayed empty, with the stored status, as JSON", () =>
      Effect.gen(function*() {
        const idempotency = yield* Idempotency
        const count = yield* Ref.make(0)
        const key = freshKey()
        const app = Effect.as(Ref.update(count, (n) => n + 1), HttpServerResponse.empty({ status: 202 }))
        const first = yield* idempotency.middleware(post("/orders", "{}", { "idempotency-key": key }), app)
        const again = yield* idempotency.middleware(post("/orders", "{}", { "idempotency-key": key }), app)
        assert.strictEqual(yield* Ref.get(count), 1)
        assert.strictEqual(first.status, 202)
        assert.deepStrictEqual(
          [again.status, again.headers["idempotent-replayed"], bodyOf(again), contentTypeOf(again)],
          [202, "true", "", "application/json"]
        )
      }))

    it.effect("every self-managed pattern passes through, not only the first", () =>
      Effect.gen(function*() {
        const idempotency = yield* Idempotency
        const count = yield* Ref.make(0)
        const key = freshKey()
        for (const path of ["/a/1", "/b/2", "/self"]) {
          yield* idempotency.middleware(post(path, "{}", { "idempotency-key": key }), countingApp(count))
          const again = yield* idempotency.middleware(post(path, "{}", { "idempotency-key": key }), countingApp(count))
          assert.strictEqual(again.headers["idempotent-replayed"], undefined, path)
        }
        assert.strictEqual(yield* Ref.get(count), 6)
        assert.deepStrictEqual(yield* rowsOf(key), [])
      }))

    it.effect("a request whose body cannot be read still reaches its route", () =>
      Effect.gen(function*() {
        const idempotency = yield* Idempotency
        const count = yield* Ref.make(0)
        const broken = new ReadableStream<Uint8Array>({ start: (controller) => controller.error(new Error("connection reset")) })
        const response = yield* idempotency.middleware(post("/orders", broken, { "idempotency-key": freshKey() }), countingApp(count, 400))
        assert.deepStrictEqual([response.status, bodyOf(response)], [400, "{\"run\":1}"])
      }))

    it.effect("keys past their TTL are swept from the table when a replica starts", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const key = freshKey()
        yield* sql`
          INSERT INTO cogo.idempotency_keys (scope, key, fingerprint, method, path, state, status, locked_until, expires_at)
          VALUES ('s', ${key}, 'f', 'POST', '/p', 'done', 201, now() - interval '2 hours', now() - interval '1 hour')`
        const live = freshKey()
        yield* sql`
          INSERT INTO cogo.idempotency_keys (scope, key, fingerprint, method, path, state, status, locked_until, expires_at)
          VALUES ('s', ${live}, 'f', 'POST', '/p', 'done', 201, now(), now() + interval '1 hour')`
        assert.strictEqual((yield* rowsOf(key)).length, 1)
        const swept = yield* Effect.provide(
          Effect.gen(function*() {
            yield* Idempotency
            for (let i = 0; i < 100; i++) {
              if ((yield* rowsOf(key)).length === 0) return true
              yield* Effect.sleep("50 millis")
            }
            return false
          }),
          OtherReplica
        )
        assert.isTrue(swept, "the expired key was deleted")
        assert.strictEqual((yield* rowsOf(live)).length, 1, "a live key stays")
      }))
  })
})
