/**
 * The `/rest/v1` read path's shortcuts (issue 16) keep every answer per request: a read compiled once per URL
 * still runs as each caller (RLS), errors stay errors on a repeat, CORS headers built once still follow
 * `COGO_CORS_ORIGINS`, the URL pre-check still refuses text PostgreSQL cannot store, and each read is one
 * server span carrying its database time.
 */
import { assert, layer } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { Effect, Option } from "effect"
import { Telemetry } from "../../src/services/observability/Telemetry.ts"
import { seedOwnedPages } from "./restSeed.ts"
import { baseUrl, EdgeServerLive, userToken } from "./server.ts"

const alice = "a11ce000-0000-4000-8000-0000000000a1"
const bob = "b0b00000-0000-4000-8000-0000000000b2"
const allowedOrigin = "https://ide.example"

const seed = seedOwnedPages({ alice, bob }, [{ suffix: "home", route: "/" }])

const get = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, { headers })
    return { status: response.status, headers: response.headers, body: await response.text() }
  })

layer(EdgeServerLive({ COGO_CORS_ORIGINS: `${allowedOrigin}, https://other.example` }), { excludeTestServices: true })(
  "/rest/v1 read path: compiled reads, CORS built once, URL pre-check",
  (it) => {
    it.effect("the same URL read by two users answers each their own rows, every time", () =>
      Effect.gen(function*() {
        yield* seed
        const url = `${yield* baseUrl}/rest/v1/pages?select=name,route&order=name`
        const asAlice = { authorization: `Bearer ${yield* Effect.promise(() => userToken(alice))}` }
        const asBob = { authorization: `Bearer ${yield* Effect.promise(() => userToken(bob))}` }
        for (let round = 0; round < 2; round++) {
          const a = yield* get(url, asAlice)
          const b = yield* get(url, asBob)
          assert.strictEqual(a.status, 200)
          assert.deepStrictEqual(JSON.parse(a.body), [{ name: "alice home", route: "/" }])
          assert.strictEqual(a.headers.get("content-range"), "0-0/*")
          assert.deepStrictEqual(JSON.parse(b.body), [{ name: "bob home", route: "/" }])
        }
        // The same URL as a single object, then as an array again.
        const single = yield* get(url, { ...asAlice, accept: "application/vnd.pgrst.object+json" })
        assert.strictEqual(single.status, 200)
        assert.deepStrictEqual(JSON.parse(single.body), { name: "alice home", route: "/" })
        assert.strictEqual(single.headers.get("content-type"), "application/vnd.pgrst.object+json")
        assert.deepStrictEqual(JSON.parse((yield* get(url, asAlice)).body), [{ name: "alice home", route: "/" }])
        // No token: 401 on a URL whose read is compiled.
        assert.strictEqual((yield* get(url)).status, 401)
        // Offsets come from the URL's own read.
        const offset = yield* get(`${url}&offset=0&limit=1`, asAlice)
        assert.strictEqual(offset.headers.get("content-range"), "0-0/*")
        const past = yield* get(`${url}&offset=1`, asAlice)
        assert.strictEqual(past.body, "[]")
        assert.strictEqual(past.headers.get("content-range"), "*/*")
      }))

    it.effect("a read is one server span (continuing the caller's traceparent) with its database time", () =>
      Effect.gen(function*() {
        const url = `${yield* baseUrl}/rest/v1/pages?select=name`
        const auth = { authorization: `Bearer ${yield* Effect.promise(() => userToken(alice))}` }
        assert.strictEqual((yield* get(url, auth)).status, 200) // the token is verified (and cached) here
        const traceId = randomBytes(16).toString("hex")
        const callerSpanId = randomBytes(8).toString("hex")
        assert.strictEqual((yield* get(url, { ...auth, traceparent: `00-${traceId}-${callerSpanId}-01` })).status, 200)
        const telemetry = yield* Telemetry
        let trace = yield* telemetry.trace(traceId)
        for (let i = 0; i < 250 && Option.isNone(trace); i++) {
          yield* Effect.sleep("20 millis")
          trace = yield* telemetry.trace(traceId)
        }
        assert.isTrue(Option.isSome(trace), "the read's trace was stored")
        const spans = Option.getOrThrow(trace).spans
        assert.deepStrictEqual(spans.map((span) => [span.name, span.kind, span.parentSpanId]), [["GET /rest/v1/:table", "server", callerSpanId]])
        const dbMs = spans[0]!.attributes["cogo.db.duration_ms"]
        assert.isTrue(typeof dbMs === "number" && dbMs > 0 && dbMs <= spans[0]!.durationMs, `database time ${String(dbMs)}`)
      }))

    it.effect("a bad query or an unknown table stays a 400 / 404 when repeated", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const auth = { authorization: `Bearer ${yield* Effect.promise(() => userToken(alice))}` }
        for (let round = 0; round < 2; round++) {
          const bad = yield* get(`${base}/rest/v1/pages?select=name&project_id=eq.not-a-uuid`, auth)
          assert.strictEqual(bad.status, 400)
          assert.strictEqual(JSON.parse(bad.body).code, "PGRST100")
          const unknown = yield* get(`${base}/rest/v1/nope?select=name`, auth)
          assert.strictEqual(unknown.status, 404)
          assert.strictEqual(JSON.parse(unknown.body).code, "PGRST205")
        }
      }))

    it.effect("CORS follows COGO_CORS_ORIGINS: an allowed origin is echoed with Vary, another gets no grant", () =>
      Effect.gen(function*() {
        const url = `${yield* baseUrl}/rest/v1/pages?select=name`
        const auth = { authorization: `Bearer ${yield* Effect.promise(() => userToken(alice))}` }
        const allowed = yield* get(url, { ...auth, origin: allowedOrigin })
        assert.strictEqual(allowed.status, 200)
        assert.strictEqual(allowed.headers.get("access-control-allow-origin"), allowedOrigin)
        assert.strictEqual(allowed.headers.get("vary"), "Origin")
        assert.include(allowed.headers.get("access-control-expose-headers") ?? "", "content-range")
        const other = yield* get(url, { ...auth, origin: "https://other.example" })
        assert.strictEqual(other.headers.get("access-control-allow-origin"), "https://other.example")
        const refused = yield* get(url, { ...auth, origin: "https://evil.example" })
        assert.strictEqual(refused.status, 200)
        assert.isNull(refused.headers.get("access-control-allow-origin"))
        assert.isNull(refused.headers.get("access-control-expose-headers"))
        const preflight = yield* Effect.promise(() =>
          fetch(url, { method: "OPTIONS", headers: { origin: allowedOrigin, "access-control-request-method": "GET" } }))
        assert.strictEqual(preflight.status, 204)
        assert.strictEqual(preflight.headers.get("access-control-allow-origin"), allowedOrigin)
        assert.include(preflight.headers.get("access-control-allow-headers") ?? "", "authorization")
        const refusedPreflight = yield* Effect.promise(() =>
          fetch(url, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "GET" } }))
        assert.strictEqual(refusedPreflight.status, 204)
        assert.isNull(refusedPreflight.headers.get("access-control-allow-origin"))
      }))

    it.effect("the URL pre-check: %00, a surrogate's or a malformed escape is a 400, ASCII escapes are read", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const auth = { authorization: `Bearer ${yield* Effect.promise(() => userToken(alice))}` }
        const nul = yield* get(`${base}/rest/v1/pages?select=name&name=eq.a%00b`, auth)
        assert.strictEqual(nul.status, 400)
        assert.strictEqual(JSON.parse(nul.body).code, "22P05")
        // In the path a surrogate's escape or a malformed escape cannot be decoded (in a query string
        // URLSearchParams decodes them to U+FFFD, which is storable).
        const surrogate = yield* get(`${base}/rest/v1/pa%ED%A0%80ges`, auth)
        assert.strictEqual(surrogate.status, 400)
        assert.strictEqual(JSON.parse(surrogate.body).code, "22P05")
        const malformedPath = yield* get(`${base}/rest/v1/pa%zzges`, auth)
        assert.strictEqual(malformedPath.status, 400)
        const ascii = yield* get(`${base}/rest/v1/pages?select=name%2Croute&name=eq.alice%20home`, auth)
        assert.strictEqual(ascii.status, 200)
        assert.deepStrictEqual(JSON.parse(ascii.body), [{ name: "alice home", route: "/" }])
      }))
  }
)
