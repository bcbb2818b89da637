/**
 * `embed` edge function: index documents into a project's knowledge (chunks + embeddings in `cogo.vectors`)
 * or embed texts. Small inputs are processed synchronously (200); larger document sets become an
 * `index.documents` job (202 with the job id; follow it on `/functions/v1/realtime/jobs/:jobId`).
 * It also speaks OpenAI's embeddings API: a body with `input` gets OpenAI's `list` answer, and
 * `POST /functions/v1/embeddings` / `/functions/v1/embed/embeddings` are that API alone, so the official
 * SDK works with `baseURL` `<service>/functions/v1` or `<service>/functions/v1/embed` and a user JWT as key.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { BadRequest, Forbidden, ServiceUnavailable } from "../../domain/platform/Problem.ts"
import { Authentication } from "../../services/auth/Auth.ts"
import { Uuid } from "../../domain/platform/Uuid.ts"
import { OpenAiEmbeddingList, OpenAiEmbeddingRequest } from "./openAiEmbeddings.ts"

export const EmbedDocument = Schema.Struct({
  sourceType: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100)),
  sourceId: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(500)),
  text: Schema.String,
  metadata: Schema.optional(Schema.Record(Schema.String, Schema.Unknown))
})

export const EmbedRequest = Schema.Struct({
  projectId: Schema.optional(Schema.NullOr(Uuid)),
  documents: Schema.optional(Schema.Array(EmbedDocument).check(Schema.isMaxLength(10_000))),
  texts: Schema.optional(Schema.Array(Schema.String.check(Schema.isMaxLength(32_000))).check(Schema.isMinLength(1), Schema.isMaxLength(256)))
})

export const EmbedResult = Schema.Union([
  Schema.Struct({
    mode: Schema.Literal("texts"),
    model: Schema.String,
    dimensions: Schema.Number,
    embeddings: Schema.Array(Schema.Array(Schema.Number))
  }),
  Schema.Struct({
    mode: Schema.Literal("indexed"),
    documents: Schema.Number,
    chunks: Schema.Number,
    cached: Schema.Number,
    removed: Schema.Number
  }),
  Schema.Struct({ mode: Schema.Literal("job"), jobId: Schema.String, state: Schema.String })
])

const embeddingsEndpoint = { payload: OpenAiEmbeddingRequest, success: OpenAiEmbeddingList, error: [BadRequest, ServiceUnavailable] }

export class EmbedApi extends HttpApiGroup.make("embed").add(
  HttpApiEndpoint.post("embed", "/functions/v1/embed", {
    // A body with `input` is an OpenAI embeddings request (tried first: EmbedRequest's fields are all optional),
    // answered with the `list` shape of the `embeddings` endpoints below.
    payload: Schema.Union([OpenAiEmbeddingRequest, EmbedRequest]),
    success: EmbedResult,
    error: [BadRequest, Forbidden, ServiceUnavailable]
  }),
  HttpApiEndpoint.post("embeddings", "/functions/v1/embeddings", embeddingsEndpoint),
  HttpApiEndpoint.post("embedEmbeddings", "/functions/v1/embed/embeddings", embeddingsEndpoint)
).middleware(Authentication) {}
