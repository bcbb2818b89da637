/**
 * OpenAI's embeddings API shape (`POST …/embeddings`), so the official `openai` SDK (and anything speaking
 * that API) can use the embed function: the request (`input` as a string or strings, `model`, `dimensions`,
 * `encoding_format`) and the `list` response. Pure: the handler (EmbedLive.ts) supplies the vectors.
 */
import { Schema } from "effect"

const inputText = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(32_000))

export const OpenAiEmbeddingRequest = Schema.Struct({
  input: Schema.Union([inputText, Schema.Array(inputText).check(Schema.isMinLength(1), Schema.isMaxLength(256))]),
  model: Schema.optional(Schema.String.check(Schema.isMaxLength(200))),
  dimensions: Schema.optional(Schema.Number.check(Schema.isInt(), Schema.isGreaterThan(0))),
  /** The SDK asks for base64 (little-endian float32) unless told otherwise, and decodes it. */
  encoding_format: Schema.optional(Schema.Literals(["float", "base64"])),
  user: Schema.optional(Schema.String.check(Schema.isMaxLength(500)))
})
export type OpenAiEmbeddingRequest = typeof OpenAiEmbeddingRequest.Type

export const OpenAiEmbeddingList = Schema.Struct({
  object: Schema.Literal("list"),
  data: Schema.Array(Schema.Struct({
    object: Schema.Literal("embedding"),
    embedding: Schema.Union([Schema.Array(Schema.Number), Schema.String]),
    index: Schema.Number
  })),
  model: Schema.String,
  usage: Schema.Struct({ prompt_tokens: Schema.Number, total_tokens: Schema.Number })
})
export type OpenAiEmbeddingList = typeof OpenAiEmbeddingList.Type

export const inputsOf = (request: OpenAiEmbeddingRequest): ReadonlyArray<string> =>
  typeof request.input === "string" ? [request.input] : request.input

/** A vector shortened to `dimensions` and scaled back to unit length (how OpenAI's `dimensions` works). */
export const shorten = (vector: ReadonlyArray<number>, dimensions: number): ReadonlyArray<number> => {
  const head = vector.slice(0, dimensions)
  const norm = Math.hypot(...head)
  return norm === 0 ? head : head.map((x) => x / norm)
}

/** Little-endian float32 bytes as base64 (OpenAI's `encoding_format: "base64"`). */
export const toBase64 = (vector: ReadonlyArray<number>): string => {
  const bytes = Buffer.alloc(vector.length * 4)
  vector.forEach((x, i) => bytes.writeFloatLE(x, i * 4))
  return bytes.toString("base64")
}

/** Token count estimate (about four characters a token; there is no tokenizer for the offline model). */
export const estimateTokens = (texts: ReadonlyArray<string>): number =>
  texts.reduce((sum, text) => sum + Math.ceil(text.length / 4), 0)

export const embeddingList = (
  request: OpenAiEmbeddingRequest,
  model: string,
  vectors: ReadonlyArray<ReadonlyArray<number>>
): OpenAiEmbeddingList => {
  const tokens = estimateTokens(inputsOf(request))
  return {
    object: "list",
    data: vectors.map((vector, index) => {
      const shaped = request.dimensions === undefined ? vector : shorten(vector, request.dimensions)
      return { object: "embedding", embedding: request.encoding_format === "base64" ? toBase64(shaped) : shaped, index }
    }),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens }
  }
}
