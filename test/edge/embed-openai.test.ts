/**
 * The official `openai` SDK against the running service: `client.embeddings.create` with a user JWT as the
 * API key, through both base URLs (`…/functions/v1` and `…/functions/v1/embed`), in the SDK's default
 * base64 encoding and in floats, with `dimensions`; plus OpenAI's request on `/functions/v1/embed` itself.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import OpenAI from "openai"
import { embeddingDimensions, Embeddings } from "../../src/services/agents/Embeddings.ts"
import { baseUrl, EdgeServerLive, userToken } from "./server.ts"

const alice = "a11ce000-0000-4000-8000-000000000001"

layer(EdgeServerLive(), { excludeTestServices: true })("embed: OpenAI embeddings API", (it) => {
  const client = (path: string) =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const apiKey = yield* Effect.promise(() => userToken(alice))
      return new OpenAI({ apiKey, baseURL: `${url}${path}`, maxRetries: 0 })
    })

  it.effect("client.embeddings.create works through both base URLs and matches the service's own vectors", () =>
    Effect.gen(function*() {
      const embeddings = yield* Embeddings
      const [expected] = yield* embeddings.embed(["teal buttons"])
      for (const path of ["/functions/v1", "/functions/v1/embed"]) {
        const openai = yield* client(path)
        // The SDK's default: base64 on the wire, decoded to numbers by the SDK.
        const result = yield* Effect.promise(() => openai.embeddings.create({ model: "text-embedding-3-small", input: ["teal buttons", "serif headings"] }))
        assert.strictEqual(result.object, "list")
        assert.strictEqual(result.model, embeddings.model)
        assert.deepStrictEqual(result.data.map((d) => [d.object, d.index]), [["embedding", 0], ["embedding", 1]])
        assert.strictEqual(result.data[0]!.embedding.length, embeddingDimensions)
        result.data[0]!.embedding.forEach((x, i) => assert.closeTo(x, expected![i]!, 1e-6))
        assert.isAbove(result.usage.prompt_tokens, 0)
        assert.strictEqual(result.usage.total_tokens, result.usage.prompt_tokens)
      }
      // `dimensions` shortens and re-normalises, like OpenAI's text-embedding-3 models.
      const text = "The aurora theme uses teal primary buttons, serif headings and a compact checkout layout."
      const [full] = yield* embeddings.embed([text])
      const openai = yield* client("/functions/v1")
      const short = yield* Effect.promise(() =>
        openai.embeddings.create({ model: "text-embedding-3-small", input: text, dimensions: 256, encoding_format: "float" }))
      const vector = short.data[0]!.embedding
      assert.strictEqual(vector.length, 256)
      assert.closeTo(Math.hypot(...vector), 1, 1e-9)
      const norm = Math.hypot(...full!.slice(0, 256))
      vector.forEach((x, i) => assert.closeTo(x, full![i]! / norm, 1e-9))
    }))

  it.effect("errors come back as the SDK's typed errors: 401 without a valid key, 400 for bad input", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const anonymous = new OpenAI({ apiKey: "not-a-jwt", baseURL: `${url}/functions/v1`, maxRetries: 0 })
      const unauthorized = yield* Effect.promise(() => anonymous.embeddings.create({ model: "m", input: "x" }).then(() => undefined, (e: unknown) => e))
      assert.instanceOf(unauthorized, OpenAI.AuthenticationError)
      const openai = yield* client("/functions/v1")
      for (const body of [{ model: "m", input: "x", dimensions: embeddingDimensions + 1 }, { model: "m", input: [] as Array<string> }, { model: "m", input: "" }]) {
        const error = yield* Effect.promise(() => openai.embeddings.create(body).then(() => undefined, (e: unknown) => e))
        assert.instanceOf(error, OpenAI.BadRequestError, JSON.stringify(body))
      }
    }))

  it.effect("POST /functions/v1/embed with OpenAI's request answers in OpenAI's shape", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const token = yield* Effect.promise(() => userToken(alice))
      const response = yield* Effect.promise(() =>
        fetch(`${url}/functions/v1/embed`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify({ input: "hello", model: "x", encoding_format: "float" })
        }).then(async (r) => ({ status: r.status, body: await r.json() as { object: string; data: Array<{ embedding: Array<number> }> } })))
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.body.object, "list")
      assert.strictEqual(response.body.data[0]!.embedding.length, embeddingDimensions)
    }))
})
