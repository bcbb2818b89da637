/**
 * Bad input is a 4xx on every endpoint, never a 5xx: values PostgreSQL refuses (impossible dates) are 400 in
 * PostgREST's error shape on /rest/v1, and NUL / lone surrogates anywhere in a URL or JSON body are refused
 * with a 400 naming the field (real HTTP against the real service stack).
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { baseUrl, EdgeServerLive, userToken } from "../edge/server.ts"

const alice = "a11ce000-0000-4000-8000-000000000001"
const message = `{"id":"m","role":"user","parts":[{"type":"text","text":"hi"}]}`

interface Answer {
  readonly status: number
  readonly contentType: string | null
  readonly body: Record<string, unknown>
}

layer(EdgeServerLive(), { excludeTestServices: true })("inputs: text and values PostgreSQL refuses are 400", (it) => {
  const call = (path: string, init: { readonly method?: string; readonly body?: string } = {}) =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const token = yield* Effect.promise(() => userToken(alice))
      return yield* Effect.promise(async (): Promise<Answer> => {
        const response = await fetch(`${url}${path}`, {
          method: init.method ?? (init.body === undefined ? "GET" : "POST"),
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          ...(init.body === undefined ? {} : { body: init.body })
        })
        return { status: response.status, contentType: response.headers.get("content-type"), body: await response.json() as Record<string, unknown> }
      })
    })

  it.effect("impossible dates on /rest/v1 are 400 with the SQLSTATE in PostgREST's shape", () =>
    Effect.gen(function*() {
      for (const query of ["created_at=gt.2020-02-30", "created_at=in.(2021-02-29,2020-01-01)", "updated_at=lte.2020-04-31T10:00:00Z"]) {
        const answer = yield* call(`/rest/v1/pages?${query}`)
        assert.strictEqual(answer.status, 400, query)
        assert.strictEqual(answer.contentType, "application/problem+json")
        assert.strictEqual(answer.body["code"], "22008", query)
        assert.match(String(answer.body["message"]), /out of range/)
        assert.deepStrictEqual(Object.keys(answer.body).filter((k) => ["code", "message", "details", "hint"].includes(k)).sort(), ["code", "details", "hint", "message"])
      }
      // A valid date still reads (the mapping did not turn every date into a 400).
      const ok = yield* call("/rest/v1/pages?created_at=gt.2020-02-29")
      assert.strictEqual(ok.status, 200)
    }))

  it.effect("NUL and lone surrogates in bodies are 400 naming the field, on chat and embed", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, string, ReadonlyArray<string | number>]> = [
        ["/functions/v1/chat", `{"id":"a\\u0000","messages":[${message}]}`, ["payload", "id"]],
        ["/functions/v1/chat-gateway", `{"id":"a","messages":[{"id":"m","role":"user","parts":[{"type":"text","text":"x\\udc00"}]}]}`, ["payload", "messages", 0, "parts", 0, "text"]],
        ["/functions/v1/embed", `{"documents":[{"sourceType":"d","sourceId":"x","text":"a\\u0000b"}]}`, ["payload", "documents", 0, "text"]],
        ["/functions/v1/embed", `{"documents":[{"sourceType":"d","sourceId":"x","text":"ab","metadata":{"k":"\\ud800"}}]}`, ["payload", "documents", 0, "metadata", "k"]],
        ["/functions/v1/embed", `{"texts":["ok","\\uD83D"]}`, ["payload", "texts", 1]],
        ["/functions/v1/figma-compat", `{"document":{"name\\u0000":1}}`, ["payload", "document", "name\u0000"]]
      ]
      for (const [path, body, field] of cases) {
        const answer = yield* call(path, { body })
        assert.strictEqual(answer.status, 400, `${path} ${body}`)
        assert.strictEqual(answer.contentType, "application/problem+json")
        const errors = answer.body["errors"] as ReadonlyArray<{ readonly path: ReadonlyArray<string | number> }>
        assert.deepStrictEqual(errors[0]?.path, field)
      }
      // A valid surrogate pair (an emoji) is text like any other.
      const emoji = yield* call("/functions/v1/embed", { body: `{"texts":["\\ud83d\\ude00 smile"]}` })
      assert.strictEqual(emoji.status, 200)
    }))

  it.effect("JSON nested deeper than the limit is a 400 (it used to overflow JSON.stringify: 500)", () =>
    Effect.gen(function*() {
      const nested = `${"{\"a\":".repeat(60_000)}1${"}".repeat(60_000)}`
      const answer = yield* call("/functions/v1/embed", { body: `{"documents":[{"sourceType":"d","sourceId":"deep","text":"t","metadata":{"x":${nested}}}]}` })
      assert.strictEqual(answer.status, 400)
      assert.deepStrictEqual((answer.body["errors"] as ReadonlyArray<{ readonly path: unknown }>)[0]?.path, ["payload"])
      // Brackets inside strings are text, not nesting.
      const text = yield* call("/functions/v1/embed", { body: JSON.stringify({ texts: ["[".repeat(5000)] }) })
      assert.strictEqual(text.status, 200)
    }))

  it.effect("NUL in path and query parameters is 400 on every kind of route", () =>
    Effect.gen(function*() {
      const chat = yield* call("/functions/v1/chat/a%00b/stream")
      assert.strictEqual(chat.status, 400)
      assert.deepStrictEqual((chat.body["errors"] as ReadonlyArray<{ readonly path: unknown }>)[0]?.path, ["path"])
      const rest = yield* call("/rest/v1/pages?name=eq.a%00b")
      assert.strictEqual(rest.status, 400)
      assert.strictEqual(rest.body["code"], "22P05")
      assert.match(String(rest.body["message"]), /^query\.name: contains a NUL/)
      const malformed = yield* call("/functions/v1/realtime/jobs/%E0%A4%A")
      assert.strictEqual(malformed.status, 400)
    }))
})
