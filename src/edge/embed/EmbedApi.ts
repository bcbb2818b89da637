/**
 * `embed` edge function: index documents into a project's knowledge (chunks + embeddings in `cogo.vectors`)
 * or embed texts. Small inputs are processed synchronously (200); larger document sets become an
 * `index.documents` job (202 with the job id; follow it on `/functions/v1/realtime/jobs/:jobId`).
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { BadRequest, Forbidden, ServiceUnavailable } from "../../domain/platform/Problem.ts"
import { Authentication } from "../../services/auth/Auth.ts"
import { UuidString as Uuid } from "../../domain/platform/Uuid.ts"

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

export class EmbedApi extends HttpApiGroup.make("embed").add(
  HttpApiEndpoint.post("embed", "/functions/v1/embed", {
    payload: EmbedRequest,
    success: EmbedResult,
    error: [BadRequest, Forbidden, ServiceUnavailable]
  })
).middleware(Authentication) {}
