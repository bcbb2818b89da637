/**
 * `chat` and `chat-gateway` edge functions: POST an AI SDK chat request (`{ id, messages: UIMessage[] }` plus
 * an optional `projectId`), receive an AI SDK UI message stream (v1) over SSE. `GET …/chat/:id/stream`
 * resumes a run (or the latest run of a chat id) after `Last-Event-ID`; `POST …/chat/:id/abort` stops it.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { BadRequest, Conflict, Forbidden, NotFound, UnprocessableEntity } from "../../domain/platform/Problem.ts"
import { Authentication } from "../../services/auth/Auth.ts"
import { Uuid } from "../../domain/platform/Uuid.ts"

const problemFields = { type: Schema.String, title: Schema.String, status: Schema.Number, detail: Schema.String }

/** 429 from the gateway's per-user rate limit (the response also carries `Retry-After`). */
export class TooManyRequests extends Schema.TaggedError<TooManyRequests>()("TooManyRequests", problemFields, { httpApiStatus: 429 }) {}

/** The AI SDK's answer to a `tool-approval-request`, on the tool part it belongs to. */
export const ToolApprovalAnswer = Schema.Struct({
  id: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200)),
  approved: Schema.optional(Schema.Boolean),
  reason: Schema.optional(Schema.String.check(Schema.isMaxLength(2_000)))
})

/** A message part: text is read, and a tool part's approval answer (other fields are ignored). */
export const UIMessagePart = Schema.Struct({
  type: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100)),
  text: Schema.optional(Schema.String.check(Schema.isMaxLength(100_000))),
  toolCallId: Schema.optional(Schema.String.check(Schema.isMaxLength(200))),
  state: Schema.optional(Schema.String.check(Schema.isMaxLength(50))),
  approval: Schema.optional(ToolApprovalAnswer)
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
