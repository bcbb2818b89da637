import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { baseUrl, EdgeServerLive, userToken } from "./server.ts"

const alice = "a11ce000-0000-4000-8000-000000000001"
const someUuid = "0f0f0f0f-0000-4000-8000-000000000001"

/** Every edge endpoint, with the method its clients use. */
const endpoints: ReadonlyArray<{ readonly method: "GET" | "POST"; readonly path: string }> = [
  { method: "POST", path: "/functions/v1/chat" },
  { method: "POST", path: "/functions/v1/chat-gateway" },
  { method: "POST", path: "/functions/v1/embed" },
  { method: "POST", path: "/functions/v1/figma-compat" },
  { method: "POST", path: "/functions/v1/figma-plugin" },
  { method: "POST", path: `/functions/v1/chat/${someUuid}/abort` },
  { method: "GET", path: `/functions/v1/chat/${someUuid}/stream` },
  { method: "GET", path: `/functions/v1/realtime/projects/${someUuid}` },
  { method: "GET", path: `/functions/v1/realtime/jobs/${someUuid}` },
  { method: "GET", path: "/rest/v1/pages" },
  { method: "GET", path: "/rest/v1/projects" },
  { method: "GET", path: "/rest/v1/project_pages" }
]

const jsonish = fc.oneof(
  fc.json(),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string(),
  fc.jsonValue().map((v) => JSON.stringify(v).slice(0, -1)),
  fc.constantFrom(
    "",
    "null",
    "{",
    "[]",
    `{"id":"x","messages":[]}`,
    `{"id":"x","messages":[{"id":"m","role":"user","parts":[{"type":"text"}]}],"projectId":"nope"}`,
    `{"id":1,"messages":"hi"}`,
    `{"texts":[]}`,
    `{"documents":[{"sourceType":"","sourceId":"a","text":1}]}`,
    `{"texts":["a"],"documents":[]}`,
    `{"projectId":"${someUuid}","documents":[]}`,
    `\u0000\uffff`
  )
)
const query = fc.oneof(
  fc.constant(""),
  fc.string().map((s) => `?${encodeURIComponent(s)}`),
  fc.constantFrom("?select=nope", "?name=eq.", "?id=in.(a,b", "?order=name.sideways", "?limit=-1", "?project_id=eq.x", "?version=gt.abc",
    "?created_at=lt.notadate", "?definition=eq.{}", "?select=*&name=like.a", "?lastEventId=abc", "?access_token=garbage",
    "?name=is.true", "?created_at=eq.1", "?version=eq.0x10", "?version=eq.99999999999999999999", "?position=eq.99999999999",
    "?created_at=gte.2026-01-01", "?is_home=is.true&order=position.desc.nullslast", "?id=in.()", "?name=in.(\"a,b\",c)")
)
/** Runs per property: FUZZ_ITERATIONS (FUZZ_RUNS, the older name) runs more outside CI. */
const iterations = (ciDefault: number) => Number(process.env["FUZZ_ITERATIONS"] ?? process.env["FUZZ_RUNS"] ?? ciDefault)
const seed = Number(process.env["FUZZ_SEED"] ?? 20261125)

/** Calendar dates and times that look right but do not exist (Feb 30, month 13, 25:61...). */
const impossibleDate = fc.oneof(
  fc.tuple(fc.integer({ min: 1900, max: 2100 }), fc.constantFrom(2, 4, 6, 9, 11), fc.integer({ min: 30, max: 31 })),
  fc.tuple(fc.integer({ min: 1900, max: 2100 }), fc.integer({ min: 13, max: 99 }), fc.integer({ min: 1, max: 28 })),
  fc.tuple(fc.integer({ min: 1900, max: 2100 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 32, max: 99 }))
).chain(([y, m, d]) => {
  const date = `${y}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`
  return fc.constantFrom(date, `${date}T10:00:00Z`, `${y}-01-01T25:61:00Z`, `${y}-02-29`)
})
const dateQuery = fc.tuple(
  fc.constantFrom("created_at", "updated_at"),
  fc.constantFrom("eq", "neq", "gt", "gte", "lt", "lte", "in"),
  impossibleDate
).map(([column, op, date]) => `?${column}=${op}.${op === "in" ? `(${date})` : date}`)

/** A string PostgreSQL cannot store: NUL or a lone surrogate somewhere in otherwise ordinary text. */
const unsafeString = fc.tuple(fc.string({ maxLength: 8 }), fc.constantFrom("\\u0000", "\\ud800", "\\udfff", "\\uDBFF", "\\u0000\\u0000"), fc.string({ maxLength: 8 }))
  .map(([before, bad, after]) => `${JSON.stringify(before).slice(0, -1)}${bad}${JSON.stringify(after).slice(1)}`)
/** Bodies every POST endpoint could otherwise accept, with one unsafe string in a key or value. */
const unsafeBody = unsafeString.chain((bad) =>
  fc.constantFrom(
    `{"id":${bad},"messages":[{"id":"m","role":"user","parts":[{"type":"text","text":"hi"}]}]}`,
    `{"id":"c","messages":[{"id":"m","role":"user","parts":[{"type":"text","text":${bad}}]}]}`,
    `{"texts":["ok",${bad}]}`,
    `{"input":${bad},"model":"m"}`,
    `{"documents":[{"sourceType":"doc","sourceId":${bad},"text":"t"}]}`,
    `{"documents":[{"sourceType":"doc","sourceId":"s","text":"t","metadata":{${bad}:1}}]}`,
    `{"document":{"name":${bad}}}`,
    `{"fileKey":${bad},"nodes":[]}`
  ))

/** Deeply nested JSON (arrays or objects), alone or as embed metadata / chat text. */
const deep = fc.tuple(fc.integer({ min: 100, max: 20_000 }), fc.boolean()).map(([depth, arrays]) =>
  arrays ? `${"[".repeat(depth)}1${"]".repeat(depth)}` : `${"{\"a\":".repeat(depth)}1${"}".repeat(depth)}`)
const deepBody = deep.chain((nested) =>
  fc.constantFrom(
    nested,
    `{"documents":[{"sourceType":"doc","sourceId":"deep","text":"t","metadata":{"x":${nested}}}]}`,
    `{"id":"c","messages":[{"id":"m","role":"user","parts":[{"type":"text","text":"t","extra":${nested}}]}]}`,
    `{"texts":["a"],"extra":${nested}}`
  ))

const header = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 40 }).filter((s) => /^[\x20-\x7e]*$/.test(s)))

layer(EdgeServerLive(), { excludeTestServices: true })("fuzz: malformed input never gets a 5xx", (it) => {
  it.effect("random and malformed bodies, queries and headers against every endpoint", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const token = yield* Effect.promise(() => userToken(alice))
      const seen = new Map<number, number>()
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.constantFrom(...endpoints),
            jsonish,
            query,
            fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", undefined),
            fc.boolean(),
            header,
            header,
            async (endpoint, body, search, contentType, authenticated, idempotencyKey, lastEventId) => {
              const headers: Record<string, string> = {}
              if (contentType !== undefined) headers["content-type"] = contentType
              if (authenticated) headers["authorization"] = `Bearer ${token}`
              if (idempotencyKey !== undefined) headers["idempotency-key"] = idempotencyKey
              if (lastEventId !== undefined) headers["last-event-id"] = lastEventId
              const controller = new AbortController()
              const response = await fetch(`${url}${endpoint.path}${search}`, {
                method: endpoint.method,
                headers,
                signal: controller.signal,
                ...(endpoint.method === "POST" ? { body } : {})
              })
              seen.set(response.status, (seen.get(response.status) ?? 0) + 1)
              controller.abort()
              if (response.status >= 500) {
                throw new Error(`${endpoint.method} ${endpoint.path}${search} -> ${response.status} for body ${JSON.stringify(body).slice(0, 200)}`)
              }
            }
          ),
          { numRuns: iterations(400), seed }
        ))
      // The fuzz reached real validation (400s) and auth (401s), not only one kind of rejection.
      assert.isTrue((seen.get(400) ?? 0) > 0 && (seen.get(401) ?? 0) > 0, JSON.stringify([...seen]))
    }))

  const send = (url: string, token: string, method: "GET" | "POST", path: string, body?: string) =>
    fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body })
    }).then(async (response) => ({ status: response.status, text: await response.text() }))

  it.effect("impossible calendar dates on /rest/v1 are 400 with PostgreSQL's code, never 5xx", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const token = yield* Effect.promise(() => userToken(alice))
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.constantFrom("pages", "projects", "project_pages", "components"), dateQuery, async (table, search) => {
            const answer = await send(url, token, "GET", `/rest/v1/${table}${search}`)
            // Feb 29 of a leap year is a real date: 200; everything else a 400 in PostgREST's shape.
            if (answer.status === 200) return
            if (answer.status !== 400) throw new Error(`${table}${search} -> ${answer.status} ${answer.text.slice(0, 200)}`)
            const body = JSON.parse(answer.text) as Record<string, unknown>
            if (typeof body["code"] !== "string" || !("details" in body) || !("hint" in body)) throw new Error(`not PostgREST's shape: ${answer.text}`)
          }),
          { numRuns: iterations(100), seed }
        ))
    }))

  it.effect("NUL and lone surrogates anywhere in a JSON body are 400 naming the field, on every POST endpoint", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const token = yield* Effect.promise(() => userToken(alice))
      const posts = endpoints.filter((e) => e.method === "POST").map((e) => e.path)
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.constantFrom(...posts, "/functions/v1/embeddings"), unsafeBody, async (path, body) => {
            const answer = await send(url, token, "POST", path, body)
            if (answer.status !== 400) throw new Error(`${path} ${body} -> ${answer.status} ${answer.text.slice(0, 200)}`)
            const errors = (JSON.parse(answer.text) as { readonly errors?: ReadonlyArray<{ readonly path: ReadonlyArray<unknown> }> }).errors
            if (errors?.[0]?.path[0] !== "payload" || errors[0].path.length < 2) throw new Error(`no field named: ${answer.text}`)
          }),
          { numRuns: iterations(100), seed }
        ))
    }))

  it.effect("NUL and lone surrogates in paths and query strings are 400 on every endpoint", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const token = yield* Effect.promise(() => userToken(alice))
      const escaped = fc.constantFrom("%00", "a%00b", "%ED%A0%80", "%E0%A4%A")
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.constantFrom(...endpoints), escaped, fc.boolean(), async (endpoint, bad, inQuery) => {
            const path = inQuery
              ? `${endpoint.path}?${endpoint.path.startsWith("/rest/") ? "name=eq." : "x="}${bad}`
              : endpoint.path.replace(someUuid, bad)
            const answer = await send(url, token, endpoint.method, path, endpoint.method === "POST" ? "{}" : undefined)
            if (answer.status >= 500) throw new Error(`${endpoint.method} ${path} -> ${answer.status} ${answer.text.slice(0, 200)}`)
            // A NUL always is a 400; a UTF-8-encoded surrogate decodes to U+FFFD (ordinary text).
            if (bad.includes("%00") && (inQuery || endpoint.path.includes(someUuid)) && answer.status !== 400) {
              throw new Error(`${endpoint.method} ${path} -> ${answer.status}, expected 400`)
            }
          }),
          { numRuns: iterations(100), seed }
        ))
    }))

  it.effect("deeply nested JSON through every POST endpoint is never a 5xx", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const token = yield* Effect.promise(() => userToken(alice))
      const posts = endpoints.filter((e) => e.method === "POST").map((e) => e.path)
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.constantFrom(...posts), deepBody, async (path, body) => {
            const answer = await send(url, token, "POST", path, body)
            if (answer.status >= 500) throw new Error(`${path} depth ${body.length} -> ${answer.status} ${answer.text.slice(0, 200)}`)
          }),
          { numRuns: iterations(60), seed }
        ))
    }))
})
