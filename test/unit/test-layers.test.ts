/** The services' test layers behave like the services they stand in for, without network or database. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, Redacted, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as jose from "jose"
import { Auth } from "../../src/services/auth/Auth.ts"
import { Llm } from "../../src/services/agents/Llm.ts"
import { Notifications } from "../../src/services/platform/Notifications.ts"

const alice = "a11ce000-0000-4000-8000-000000000001"
const secret = "unit-test-jwt-secret-with-at-least-32-characters"

describe("Llm.layerTest", () => {
  it.effect("streams the scripted reply word by word, then usage, and complete() collects it", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      const messages = [{ role: "user" as const, content: "what colour is the theme" }]
      const chunks = yield* Stream.runCollect(llm.streamChat(messages, { context: [{ sourceType: "doc", sourceId: "theme", content: "teal" }] }))
      assert.deepStrictEqual(chunks.map((c) => c._tag === "Delta" ? c.text : `usage:${c.usage.promptTokens}/${c.usage.completionTokens}`), [
        "teal ", "(1 ", "documents)", "usage:5/3"
      ])
      const completion = yield* llm.complete([{ role: "user", content: "again" }])
      assert.strictEqual(completion.text, "teal (0 documents)")
      assert.strictEqual(completion.model, "test-scripted")
    }).pipe(Effect.provide(Llm.layerTest((_messages, options) => `teal (${options?.context?.length ?? 0} documents)`))))
})

describe("Notifications.layerTest", () => {
  it.effect("delivers notify to subscribers of that topic only, and wakeups tick at start, on notify and on the poll", () =>
    Effect.gen(function*() {
      const notifications = yield* Notifications
      const received = yield* notifications.subscribe("jobs").pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
      const ticks = yield* notifications.wakeups("outbox", "10 seconds").pipe(Stream.take(3), Stream.runCollect, Effect.forkChild)
      // Let both forked consumers subscribe before anything is published.
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      yield* notifications.notify("bus", "ignored")
      yield* notifications.notify("jobs", "a")
      yield* notifications.notify("outbox", "1")
      yield* notifications.notify("jobs", "b")
      assert.deepStrictEqual(yield* Fiber.join(received), [{ topic: "jobs", payload: "a" }, { topic: "jobs", payload: "b" }])
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* Fiber.join(ticks)).length, 3)
    }).pipe(Effect.provide(Notifications.layerTest)))
})

describe("Auth.layerTest", () => {
  const sign = (claims: Record<string, unknown>, key = secret) =>
    Effect.promise(() =>
      new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setExpirationTime("5m").sign(new TextEncoder().encode(key)))

  it.effect("verifies HS256 user tokens with the given secret and knows the service key, without config or database", () =>
    Effect.gen(function*() {
      const auth = yield* Auth
      assert.strictEqual(auth.mode, "prod")
      const principal = yield* auth.authenticateToken(yield* sign({ sub: alice, role: "authenticated", aud: "authenticated" }))
      assert.deepStrictEqual([principal.userId, principal.via], [alice, "jwt"])
      const forged = yield* Effect.flip(auth.authenticateToken(yield* sign({ sub: alice, role: "authenticated", aud: "authenticated" }, "x".repeat(40))))
      assert.strictEqual(forged.status, 401)
      assert.strictEqual((yield* Effect.flip(auth.authenticateToken(undefined))).status, 401)
      assert.strictEqual((yield* auth.authenticateToken("service-key")).role, "service_role")
    }).pipe(Effect.provide(Auth.layerTest({
      jwtSecret: Option.some(Redacted.make(secret)),
      serviceRoleKey: Option.some(Redacted.make("service-key"))
    }))))

  it.effect("with no overrides every token is refused (no keys configured)", () =>
    Effect.gen(function*() {
      const auth = yield* Auth
      const refused = yield* Effect.flip(auth.verify(yield* sign({ sub: alice, role: "authenticated", aud: "authenticated" })))
      assert.strictEqual(refused.status, 401)
    }).pipe(Effect.provide(Auth.layerTest())))
})
