/**
 * Text embeddings, 384 dimensions (the width of `cogo.vectors.embedding`): OpenAI's embeddings endpoint with
 * `dimensions: 384` through the official SDK when `OPENAI_API_KEY` is set (batched, retried, behind the
 * "embeddings" circuit breaker), otherwise a deterministic local embedder (hashed word, bigram and character
 * trigram features, L2-normalized) that works offline and in tests.
 */
import { Config, Context, Effect, Layer, Option } from "effect"
import { type AgentError, ProviderUnavailable } from "../../domain/agents/AgentError.ts"
import { hashedEmbedding } from "../../domain/agents/TextFeatures.ts"
import { Breakers } from "./Breakers.ts"
import { attempt, makeClient, openAiSettings, providerRetry } from "./OpenAiProvider.ts"

export const embeddingDimensions = 384

export const offlineEmbeddingsModel = "offline-hashed-ngrams-384-v1"

export type EmbeddingsMode = "openai" | "offline"

export class Embeddings extends Context.Service<Embeddings, {
  readonly mode: EmbeddingsMode
  /** Model name stored beside each vector, so vectors of different models are never compared. */
  readonly model: string
  /** One unit-length vector per text, in order. Batches larger than `EMBEDDINGS_BATCH_SIZE` are split. */
  readonly embed: (texts: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<ReadonlyArray<number>>, AgentError>
}>()("cogo/Embeddings") {
  /** OpenAI(-compatible) when `OPENAI_API_KEY` is set, else the offline hashed embedder; logs which at start. */
  static readonly layer = Layer.effect(Embeddings, Effect.suspend(() => makeEmbeddings))
  /** Always the offline embedder (unit tests, benchmarks). */
  static readonly layerOffline = Layer.succeed(Embeddings, Embeddings.of({
    mode: "offline",
    model: offlineEmbeddingsModel,
    embed: (texts) => Effect.sync(() => texts.map((text) => hashedEmbedding(text, embeddingDimensions)))
  }))
}

const normalize = (vector: ReadonlyArray<number>): ReadonlyArray<number> => {
  const norm = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0))
  return norm === 0 ? vector : vector.map((v) => v / norm)
}

const makeEmbeddings = Effect.gen(function*() {
  const settings = yield* openAiSettings
  const batchSize = yield* Config.Int("EMBEDDINGS_BATCH_SIZE").pipe(Config.withDefault(64))
  if (Option.isNone(settings.apiKey)) {
    yield* Effect.logInfo(`embeddings mode: offline (no OPENAI_API_KEY): ${offlineEmbeddingsModel}`)
    return yield* Effect.service(Embeddings).pipe(Effect.provide(Embeddings.layerOffline))
  }
  const breakers = yield* Breakers
  const client = makeClient(settings, settings.apiKey.value)
  const model = settings.embeddingsModel
  yield* Effect.logInfo(`embeddings mode: openai at ${settings.baseUrl}, model ${model}, ${embeddingDimensions} dimensions`)

  const embedBatch = (texts: ReadonlyArray<string>) =>
    attempt("embeddings", settings, (signal) =>
      client.embeddings.create({ model, input: [...texts], dimensions: embeddingDimensions, encoding_format: "float" }, { signal })).pipe(
      Effect.retry(providerRetry(settings)),
      breakers.guard("embeddings"),
      Effect.flatMap((response) => {
        const ordered = [...response.data].sort((a, b) => a.index - b.index)
        return ordered.length === texts.length && ordered.every((d) => d.embedding.length === embeddingDimensions)
          ? Effect.succeed(ordered.map((d) => normalize(d.embedding)))
          : Effect.fail(new ProviderUnavailable({
            dependency: "embeddings",
            message: `expected ${texts.length} embeddings of ${embeddingDimensions} dimensions, got ${ordered.length} of ${ordered[0]?.embedding.length ?? 0}`
          }))
      }),
      Effect.withSpan("Embeddings.batch", { attributes: { size: texts.length } })
    )

  const embed = Effect.fn("Embeddings.embed")(function*(texts: ReadonlyArray<string>) {
    const batches: Array<ReadonlyArray<string>> = []
    for (let i = 0; i < texts.length; i += batchSize) batches.push(texts.slice(i, i + batchSize))
    const results = yield* Effect.forEach(batches, embedBatch, { concurrency: 2 })
    return results.flat()
  })

  return Embeddings.of({ mode: "openai", model, embed })
})
