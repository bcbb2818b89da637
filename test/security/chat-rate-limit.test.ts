/**
 * `POST /functions/v1/chat` has a per-user rate limit of its own (issue 11): calling `chat` directly does not
 * bypass the gateway's limit. Real HTTP against the real service, the LLM faked over HTTP.
 */
import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { fakeOpenAI, fakeOpenAIEnv, type FakeOpenAIServer } from "../support/FakeOpenAI.ts"
import { baseUrl, EdgeServerLive, userToken } from "../edge/server.ts"

class Fake extends Context.Service<Fake, FakeOpenAIServer>()("test/FakeOpenAI") {}
const TestLive = Layer.unwrap(Effect.map(Effect.service(Fake), (fake) =>
  EdgeServerLive({
    ...fakeOpenAIEnv(fake),
    COGO_CHAT_DIRECT_RATE_BURST: "2",
    COGO_CHAT_DIRECT_RATE_PER_MINUTE: "1",
    LLM_MAX_RETRIES: "0"
  }))).pipe(Layer.provideMerge(Layer.effect(Fake, fakeOpenAI())))

const alice = "a11ce000-0000-4000-8000-000000000001"
const bob = "b0b00000-0000-4000-8000-000000000002"
const body = JSON.stringify({ id: "rate", messages: [{ id: "m1", role: "user", parts: [{ type: "text", text: "hi" }] }], trigger: "submit-message" })

/** POSTs a chat as `user` to `path`; returns the status, `Retry-After` and (for a 429) the problem body. */
const post = (path: string, user: string) =>
  Effect.gen(function*() {
    const url = yield* baseUrl
    const token = yield* Effect.promise(() => userToken(user))
    return yield* Effect.promise(async () => {
      const r = await fetch(`${url}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body })
      const problem = r.status === 429 ? await r.json() as { status: number; type: string } : undefined
      if (problem === undefined) await r.body?.cancel()
      return { status: r.status, retryAfter: r.headers.get("retry-after"), contentType: r.headers.get("content-type"), problem }
    })
  })

layer(TestLive, { excludeTestServices: true })("chat rate limit", (it) => {
  it.effect("POST /functions/v1/chat: per-user token bucket, 429 problem+json with Retry-After; other users and the gateway unaffected", () =>
    Effect.gen(function*() {
      const results = [yield* post("/functions/v1/chat", alice), yield* post("/functions/v1/chat", alice), yield* post("/functions/v1/chat", alice)]
      assert.deepStrictEqual(results.map((r) => r.status), [200, 200, 429])
      const limited = results[2]!
      assert.strictEqual(limited.contentType, "application/problem+json")
      assert.strictEqual(limited.problem?.status, 429)
      assert.include(limited.problem?.type ?? "", "rate-limited")
      // 1 token per minute: the next one is about 60 s away.
      assert.isAtLeast(Number(limited.retryAfter), 30)
      assert.isAtMost(Number(limited.retryAfter), 60)

      assert.strictEqual((yield* post("/functions/v1/chat", bob)).status, 200, "bob has his own bucket")
      assert.strictEqual((yield* post("/functions/v1/chat-gateway", alice)).status, 200, "the gateway's bucket is separate")
    }))
})
