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
          { numRuns: Number(process.env["FUZZ_RUNS"] ?? 400), seed: Number(process.env["FUZZ_SEED"] ?? 20261125) }
        ))
      // The fuzz reached real validation (400s) and auth (401s), not only one kind of rejection.
      assert.isTrue((seen.get(400) ?? 0) > 0 && (seen.get(401) ?? 0) > 0, JSON.stringify([...seen]))
    }))
})
