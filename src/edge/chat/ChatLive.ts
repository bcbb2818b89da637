/**
 * Handlers of the `chat` group. Both POSTs start (or, for a repeated `Idempotency-Key`, resume) a chat run and
 * stream it, after the caller's rate limit: the gateway's bucket (`COGO_CHAT_RATE_*`) for `chat-gateway`, and
 * a bucket of its own (`COGO_CHAT_DIRECT_RATE_*`, same defaults) for `chat`, so calling `chat` directly does not
 * bypass the limit. The stream is read from the run's frame log,
 * so closing the connection never stops the run (see ChatSessions).
 */
import { Config, Duration, Effect, Option, Stream } from "effect"
import { HttpServerRequest } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { BadRequest, Forbidden, NotFound, problem } from "../../domain/platform/Problem.ts"
import { CurrentUser, type Principal, principalKey } from "../../services/auth/Auth.ts"
import { type ChatRequest, ChatSessions } from "../../services/chat/ChatSessions.ts"
import { Idempotency, requestKey } from "../../services/auth/Idempotency.ts"
import { RateLimiter } from "../../services/chat/RateLimiter.ts"
import { Realtime } from "../../services/realtime/Realtime.ts"
import { Api } from "../Api.ts"
import { problemResponse } from "../../services/platform/problemResponse.ts"
import { lastEventIdOf, sseComment, sseResponse, withHeartbeat } from "../http/sse.ts"

const uiMessageStreamHeader = "x-vercel-ai-ui-message-stream"
/** Idempotency keys of chat POSTs are shared by `chat` and `chat-gateway` (the gateway forwards). */
const chatPath = "/functions/v1/chat"

const parseLastEventId = (request: HttpServerRequest.HttpServerRequest) => {
  const raw = lastEventIdOf(request.headers, request.url)
  if (raw === undefined) return Effect.succeed(-1)
  if (!/^\d{1,9}$/.test(raw)) {
    return Effect.fail(new BadRequest({
      ...problem(400, "invalid-last-event-id", "Bad Request", "Last-Event-ID must be a frame id of this stream"),
      errors: [{ path: ["headers", "last-event-id"], message: "a non-negative integer" }]
    }))
  }
  return Effect.succeed(Number(raw))
}

export const ChatLive = HttpApiBuilder.group(Api, "chat", Effect.fn(function*(handlers) {
  const sessions = yield* ChatSessions
  const idempotency = yield* Idempotency
  const gatewayLimiter = yield* RateLimiter
  const chatLimiter = yield* RateLimiter.makeShared({
    name: "chat",
    burst: yield* Config.Int("COGO_CHAT_DIRECT_RATE_BURST").pipe(Config.withDefault(10)),
    perMinute: yield* Config.Int("COGO_CHAT_DIRECT_RATE_PER_MINUTE").pipe(Config.withDefault(30))
  })
  const realtime = yield* Realtime
  const heartbeat = yield* Config.Duration("COGO_SSE_HEARTBEAT").pipe(Config.withDefault(Duration.seconds(15)))

  const respond = (runId: string, chatId: string, afterId: number) =>
    sseResponse(withHeartbeat(Stream.prepend(sessions.follow(runId, afterId), [sseComment("stream")]), heartbeat, sseComment("heartbeat")), {
      [uiMessageStreamHeader]: "v1",
      "x-cogo-stream-id": runId,
      "x-cogo-chat-id": chatId
    })

  const startOrResume = (principal: Principal, payload: ChatRequest, request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      if (payload.projectId !== undefined && payload.projectId !== null) {
        const member = yield* realtime.canWatch(principal, { projectId: payload.projectId }).pipe(Effect.orDie)
        if (!member) return yield* new Forbidden(problem(403, "not-a-member", "Forbidden", "you are not a member of this project"))
      }
      const key = yield* requestKey(request)
      if (key === undefined) {
        const run = yield* sessions.start(principal, payload)
        return respond(run.id, run.chatId, -1)
      }
      const scope = principalKey(principal)
      const content = yield* Effect.orElseSucceed(request.text, () => JSON.stringify(payload))
      const claimed = yield* idempotency.claim({ scope, key, method: "POST", path: chatPath, content }).pipe(
        Effect.catchTag("SqlError", Effect.die)
      )
      if (claimed._tag === "Replay") {
        const runId = claimed.response.streamId
        const afterId = yield* parseLastEventId(request)
        const run = runId === null ? Option.none() : yield* sessions.find(principal, runId)
        if (Option.isNone(run)) {
          return yield* new NotFound(problem(404, "stream-expired", "Not Found", "the stream of this Idempotency-Key is no longer available"))
        }
        return respond(run.value.id, run.value.chatId, afterId)
      }
      const run = yield* sessions.start(principal, payload).pipe(
        Effect.tap((run) =>
          idempotency.complete(scope, key, { status: 200, contentType: "text/event-stream", body: null, streamId: run.id }).pipe(
            Effect.catchTag("SqlError", Effect.die)
          ))
      )
      return respond(run.id, run.chatId, -1)
    })

  /** Starts or resumes unless `limiter` refuses the caller (429 problem+json with `Retry-After`). */
  const limited = (limiter: typeof gatewayLimiter, payload: ChatRequest, request: HttpServerRequest.HttpServerRequest) =>
    Effect.gen(function*() {
      const principal = yield* CurrentUser
      const decision = yield* limiter.take(principalKey(principal))
      if (decision._tag === "Limited") {
        return problemResponse(
          problem(429, "rate-limited", "Too Many Requests", `chat is limited per user; retry in ${decision.retryAfterSeconds} s`),
          { "retry-after": String(decision.retryAfterSeconds) }
        )
      }
      return yield* startOrResume(principal, payload, request)
    })

  return handlers
    .handle("chat", ({ payload, request }) => limited(chatLimiter, payload, request))
    .handle("gateway", ({ payload, request }) => limited(gatewayLimiter, payload, request))
    .handle("resume", ({ params, request }) =>
      Effect.gen(function*() {
        const principal = yield* CurrentUser
        const afterId = yield* parseLastEventId(request)
        const run = yield* sessions.find(principal, params.id)
        if (Option.isNone(run)) {
          return yield* new NotFound(problem(404, "no-stream", "Not Found", `no stream ${JSON.stringify(params.id)} to resume`))
        }
        return respond(run.value.id, run.value.chatId, afterId)
      }))
    .handle("abort", ({ params }) =>
      Effect.gen(function*() {
        const principal = yield* CurrentUser
        const run = yield* sessions.find(principal, params.id)
        if (Option.isNone(run)) {
          return yield* new NotFound(problem(404, "no-stream", "Not Found", `no stream ${JSON.stringify(params.id)}`))
        }
        return { aborted: yield* sessions.abort(run.value.id) }
      }))
}))
