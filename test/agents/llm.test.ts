import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Metric, Schedule, Stream } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { Breakers, breakerStateGauge } from "../../src/services/agents/Breakers.ts"
import { Embeddings, embeddingDimensions } from "../../src/services/agents/Embeddings.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { type ChatChunk, collectChat, Llm, offlineNotice } from "../../src/services/agents/Llm.ts"
import { hashedEmbedding } from "../../src/domain/agents/TextFeatures.ts"
import { fakeOpenAI, fakeOpenAIEnv, type FakeOpenAIServer } from "../support/FakeOpenAI.ts"
import { envLayer, platformLayer } from "./layers.ts"

/** Llm + Embeddings + Breakers configured from `env` (the platform comes from the file's layer). */
const providers = (env: Record<string, string>) =>
  Layer.mergeAll(Llm.layer, Embeddings.layer).pipe(Layer.provideMerge(Breakers.layer), Layer.provide(envLayer(env)))

const withProviders = (server: FakeOpenAIServer, env: Record<string, string> = {}) =>
  Effect.provide(providers({
    ...fakeOpenAIEnv(server),
    LLM_RETRY_BASE: "10 millis",
    LLM_TIMEOUT: "2 seconds",
    BREAKER_FAILURES: "3",
    BREAKER_OPEN_DURATION: "300 millis",
    ...env
  }))

const ask = (text: string) => [{ role: "user" as const, content: text }]

const chunksOf = (stream: Stream.Stream<ChatChunk, unknown>) => Effect.map(Stream.runCollect(stream), (c) => Array.from(c))

layer(platformLayer(), { excludeTestServices: true })("LLM and embeddings through the openai SDK", (it) => {
  it.effect("streams deltas in order, then usage; sends the context as a cited block", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* fakeOpenAI()
      yield* Effect.gen(function*() {
        const llm = yield* Llm
        assert.strictEqual(llm.mode, "openai")
        const chunks = yield* chunksOf(llm.streamChat(ask("hello there world"), {
          context: [{ sourceType: "page", sourceId: "home", content: "The home page has a hero banner." }]
        }))
        const deltas = chunks.filter((c) => c._tag === "Delta").map((c) => c.text)
        assert.deepStrictEqual(deltas, ["Echo: ", "hello ", "there ", "world"])
        const last = chunks[chunks.length - 1]!
        assert.strictEqual(last._tag, "Usage")
        if (last._tag === "Usage") {
          assert.strictEqual(last.usage.completionTokens, 4)
          assert.isAbove(last.usage.promptTokens, 0)
          assert.strictEqual(last.finishReason, "stop")
          assert.strictEqual(last.model, "gpt-4o-mini")
        }
        const body = server.requests[0]!.body
        assert.strictEqual(body["stream"], true)
        const messages = body["messages"] as Array<{ role: string; content: string }>
        assert.strictEqual(messages[0]!.role, "system")
        assert.include(messages[0]!.content, "[1] (page:home)")
        assert.strictEqual(server.requests[0]!.authorization, `Bearer ${server.apiKey}`)
        // Usage and latency reach the metrics: the completion tokens reported by the provider are counted.
        const exposition = yield* PrometheusMetrics.format()
        const tokens = exposition.split("\n").find((l) => l.startsWith("llm_tokens_total{") && l.includes(`kind="completion"`) && l.includes(`model="gpt-4o-mini"`))
        assert.isDefined(tokens)
        assert.isAtLeast(Number(tokens!.split(" ").at(-1)), 4)
        assert.match(exposition, /^llm_first_token_seconds_count\{model="gpt-4o-mini"\} [1-9]/m)
        assert.match(exposition, /^llm_request_duration_seconds_count\{.*outcome="ok".*\} [1-9]/m)
      }).pipe(withProviders(server))
    })))

  it.effect("retries 500 and 429 with backoff, waiting the Retry-After, then succeeds", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* fakeOpenAI()
      server.scriptChat(
        { kind: "error", status: 500 },
        { kind: "error", status: 429, retryAfter: "0.3" },
        { kind: "stream", deltas: ["ok"] }
      )
      const completion = yield* Effect.flatMap(Effect.service(Llm), (llm) => llm.complete(ask("x"))).pipe(withProviders(server))
      assert.strictEqual(completion.text, "ok")
      assert.strictEqual(server.requests.length, 3)
      const waited = server.requests[2]!.at - server.requests[1]!.at
      assert.isAtLeast(waited, 290, `waited ${waited} ms after the 429`)
    })))

  it.effect("gives up after LLM_MAX_RETRIES with a typed error; 4xx is rejected without retry", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* fakeOpenAI()
      yield* Effect.gen(function*() {
        const llm = yield* Llm
        server.setDefaultChat({ kind: "error", status: 503 })
        const unavailable = yield* Effect.flip(llm.complete(ask("x")))
        assert.strictEqual(unavailable._tag, "ProviderUnavailable")
        assert.strictEqual(server.requests.length, 3)
        server.reset()
        server.setDefaultChat({ kind: "error", status: 400, message: "bad model" })
        const rejected = yield* Effect.flip(llm.complete(ask("x")))
        assert.strictEqual(rejected._tag, "ProviderRejected")
        assert.strictEqual(server.requests.length, 1)
      }).pipe(withProviders(server, { LLM_MAX_RETRIES: "2", BREAKER_FAILURES: "10" }))
    })))

  it.effect("a slow response times out; a stream that breaks mid-way fails after its deltas", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* fakeOpenAI()
      yield* Effect.gen(function*() {
        const llm = yield* Llm
        server.scriptChat({ kind: "slow", delayMs: 1000 })
        const slow = yield* Effect.flip(llm.complete(ask("x")))
        assert.strictEqual(slow._tag, "Timeout")
        server.scriptChat({ kind: "break", deltas: ["one ", "two "] })
        const seen: Array<string> = []
        const exit = yield* Effect.exit(Stream.runForEach(llm.streamChat(ask("x")), (c) => Effect.sync(() => {
          if (c._tag === "Delta") seen.push(c.text)
        })))
        assert.deepStrictEqual(seen, ["one ", "two "])
        assert.isTrue(Exit.isFailure(exit))
        const error = Exit.findErrorOption(exit)
        assert.strictEqual(error._tag === "Some" ? error.value._tag : "none", "ProviderUnavailable")
        assert.include(error._tag === "Some" ? error.value.message : "", "broke after 2 delta(s)")
      }).pipe(withProviders(server, { LLM_TIMEOUT: "150 millis", LLM_MAX_RETRIES: "0" }))
    })))

  it.effect("breaker: opens after the threshold, fails fast, lets exactly one half-open probe through, recovers", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* fakeOpenAI()
      const bus = yield* EventBus
      const before = (yield* bus.since({ afterId: 0 })).reduce((max, e) => Math.max(max, e.id), 0)
      yield* Effect.gen(function*() {
        const llm = yield* Llm
        const breakers = yield* Breakers
        server.setDefaultChat({ kind: "error", status: 500 })
        for (let i = 0; i < 3; i++) {
          const error = yield* Effect.flip(llm.complete(ask("x")))
          assert.strictEqual(error._tag, "ProviderUnavailable")
        }
        assert.strictEqual(yield* breakers.state("llm"), "open")
        const gauge = yield* Metric.value(Metric.withAttributes(breakerStateGauge, { dependency: "llm" }))
        assert.strictEqual(gauge.value, 2)
        const rejected = yield* Effect.flip(llm.complete(ask("x")))
        assert.strictEqual(rejected._tag, "CircuitOpen")
        assert.strictEqual(server.requests.length, 3, "an open circuit sends nothing")

        yield* Effect.sleep("350 millis")
        server.setDefaultChat({ kind: "slow", delayMs: 200, then: { kind: "stream", deltas: ["back"] } })
        const calls = yield* Effect.forEach([1, 2, 3], () => Effect.forkChild(Effect.exit(llm.complete(ask("x")))))
        const exits = yield* Effect.forEach(calls, Fiber.join)
        const succeeded = exits.filter(Exit.isSuccess)
        const failedFast = exits.flatMap((exit) => {
          const error = Exit.findErrorOption(exit)
          return error._tag === "Some" ? [error.value._tag] : []
        })
        assert.strictEqual(succeeded.length, 1, "exactly one probe")
        assert.deepStrictEqual(failedFast, ["CircuitOpen", "CircuitOpen"])
        assert.strictEqual(server.requests.length, 4, "only the probe reached the provider")
        assert.strictEqual(yield* breakers.state("llm"), "closed")
        const after = yield* llm.complete(ask("x"))
        assert.strictEqual(after.text, "back")
        // The breaker publishes its transitions from a fiber of its own, which stops with these providers: read
        // them (re-read until the last one has committed) before leaving.
        const transitions = yield* bus.since({ afterId: before }).pipe(
          Effect.map((events) => events.filter((e) => e.topic === "breaker")),
          Effect.filterOrFail((found) => found.length >= 3),
          Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo({ times: 200 })))
        )
        assert.deepStrictEqual(transitions.map((e) => e.kind), ["open", "half-open", "closed"])
        assert.strictEqual((transitions[0]!.payload as { dependency: string }).dependency, "llm")
      }).pipe(withProviders(server, { LLM_MAX_RETRIES: "0" }))
    })))

  it.effect("embeddings: batched requests with dimensions 384, unit vectors in input order", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* fakeOpenAI()
      const texts = Array.from({ length: 130 }, (_, i) => `text number ${i} about ${i % 2 === 0 ? "buttons" : "themes"}`)
      const vectors = yield* Effect.flatMap(Effect.service(Embeddings), (e) => e.embed(texts)).pipe(
        withProviders(server, { EMBEDDINGS_BATCH_SIZE: "64" })
      )
      assert.strictEqual(vectors.length, 130)
      assert.deepStrictEqual(server.requests.map((r) => (r.body["input"] as Array<string>).length).sort(), [2, 64, 64])
      assert.isTrue(server.requests.every((r) => r.body["dimensions"] === embeddingDimensions))
      const expected = hashedEmbedding(texts[129]!, embeddingDimensions)
      assert.isTrue(vectors[129]!.every((v, i) => Math.abs(v - expected[i]!) < 1e-9))
    })))
})

describe("offline mode (no OPENAI_API_KEY)", () => {
  it.effect("the responder answers from the given knowledge with citations and says it is offline", () =>
    Effect.gen(function*() {
      const llm = yield* Llm
      assert.strictEqual(llm.mode, "offline")
      const chunks = yield* chunksOf(llm.streamChat(ask("Which color is the primary button?"), {
        context: [
          { sourceType: "component", sourceId: "nav", content: "The navigation bar is sticky." },
          { sourceType: "theme", sourceId: "brand", content: "The primary button color is teal. Fonts are Inter." }
        ]
      }))
      assert.isAbove(chunks.length, 2)
      const completion = yield* collectChat(Stream.fromIterable(chunks), "x")
      assert.include(completion.text, offlineNotice)
      assert.include(completion.text, "The primary button color is teal. [2]")
      assert.include(completion.text, "[2] theme:brand")
      assert.notInclude(completion.text, "navigation")
      const nothing = yield* llm.complete(ask("What is the refund policy?"), { context: [] })
      assert.include(nothing.text, "found nothing")
      const embeddings = yield* Embeddings
      assert.strictEqual(embeddings.mode, "offline")
      const [a, b] = yield* embeddings.embed(["same text", "same text"])
      assert.deepStrictEqual(a, b)
      assert.closeTo(a!.reduce((s, v) => s + v * v, 0), 1, 1e-9)
    }).pipe(Effect.provide(Layer.mergeAll(Llm.layer, Embeddings.layer).pipe(
      Layer.provide(Layer.succeed(Breakers, Breakers.of({ guard: () => (effect) => effect, state: () => Effect.succeed("closed") }))),
      Layer.provide(envLayer({}))
    ))))
})
