/**
 * `chat` and `chat-gateway` edge functions: POST an AI SDK chat request (`{ id, messages: UIMessage[] }` plus
 * an optional `projectId`), receive an AI SDK UI message stream (v1) over SSE. `GET …/chat/:id/stream`
 * resumes a run (or the latest run of a chat id) after `Last-Event-ID`; `POST …/chat/:id/abort` stops it.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { BadRequest, Conflict, Forbidden, NotFound, UnprocessableEntity } from "../../domain/platform/Problem.ts"
import { Authentication } from "../../services/auth/Auth.ts"
import { UuidString as Uuid } from "../../domain/platform/Uuid.ts"

const problemFields = { type: Schema.String, title: Schema.String, status: Schema.Number, detail: Schema.String }

/** 429 from the gateway's per-user rate limit (the response also carries `Retry-After`). */
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()("TooManyRequests", problemFields, { httpApiStatus: 429 }) {}

export const UIMessagePart = Schema.Struct({
  type: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100)),
  text: Schema.optional(Schema.String.check(Schema.isMaxLength(100_000)))
})

export const UIMessage = Schema.Struct({
  id: Schema.String.check(Schema.isMaxLength(200)),
  role: Schema.Literals(["system", "user", "assistant"]),
  parts: Schema.Array(UIMessagePart).check(Schema.isMaxLength(100))
})

/** The AI SDK's chat request body (extra fields such as `trigger` are ignored) plus `projectId`. */
export const ChatRequestBody = Schema.Struct({
  id: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200)),
  messages: Schema.Array(UIMessage).check(Schema.isMinLength(1), Schema.isMaxLength(500)),
  projectId: Schema.optional(Schema.NullOr(Uuid))
})

/** One UI message stream chunk (`data:` JSON); the stream ends with `data: [DONE]`. */
export const UIMessageChunk = Schema.Unknown

const chatErrors = [BadRequest, Forbidden, NotFound, UnprocessableEntity, Conflict]
const stream = HttpApiSchema.StreamSse({ data: UIMessageChunk })

export class ChatApi extends HttpApiGroup.make("chat").add(
  HttpApiEndpoint.post("chat", "/functions/v1/chat", { payload: ChatRequestBody, success: stream, error: chatErrors }),
  HttpApiEndpoint.post("gateway", "/functions/v1/chat-gateway", {
    payload: ChatRequestBody,
    success: stream,
    error: [...chatErrors, TooManyRequests]
  }),
  HttpApiEndpoint.get("resume", "/functions/v1/chat/:id/stream", {
    params: { id: Schema.String.check(Schema.isMaxLength(200)) },
    success: stream,
    error: [BadRequest, NotFound]
  }),
  HttpApiEndpoint.post("abort", "/functions/v1/chat/:id/abort", {
    params: { id: Schema.String.check(Schema.isMaxLength(200)) },
    success: Schema.Struct({ aborted: Schema.Boolean }),
    error: NotFound
  })
).middleware(Authentication) {}
