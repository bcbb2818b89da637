/**
 * Realtime SSE: `GET /functions/v1/realtime/projects/:projectId` and `GET /functions/v1/realtime/jobs/:jobId`.
 * Every frame's `id` is the bus event id, so `Last-Event-ID` (header, or `lastEventId` query) resumes with no
 * gap and no duplicate. Browsers' EventSource cannot send headers: the token may come as `access_token`.
 * Without it a connection starts at the live tail (no history). Membership is checked as the user (RLS)
 * before subscribing; beyond the per-user / per-process connection caps the answer is 429 with `Retry-After`.
 * Heartbeat comments every `COGO_SSE_HEARTBEAT` (15 s), from the Realtime service's shared timer.
 * The response is a stream (the `connected` comment and the replay); live frames are written by the Realtime
 * hub straight to the node response (`NodeHttpServerRequest.toServerResponse`), the same bytes to every
 * subscriber, without a per-connection fiber step.
 */
import { NodeHttpServerRequest } from "@effect/platform-node"
import { Effect, Stream } from "effect"
import * as Http from "node:http"
import { HttpRouter, HttpServerRequest } from "effect/http"
import { Forbidden, problem } from "../../domain/platform/Problem.ts"
import { Auth, principalKey } from "../../services/auth/Auth.ts"
import { type Framing, type LiveSink, Realtime, type StreamKey } from "../../services/realtime/Realtime.ts"
import { badRequest, problemResponse } from "../../services/platform/problemResponse.ts"
import { lastEventIdOf, sseBytesResponse, sseComment, sseFrame } from "../http/sse.ts"
import { uuidPattern } from "../../domain/platform/Uuid.ts"

const encoder = new TextEncoder()
/** One framing for every connection: the hub frames a live event once and writes the same bytes to all. */
const framing: Framing = {
  event: (item) => encoder.encode(sseFrame({ id: item.resume ? item.event.id : undefined, event: item.event.topic, data: item.data })),
  heartbeat: encoder.encode(sseComment("heartbeat")),
  overflow: encoder.encode(sseFrame({ event: "overflow", data: JSON.stringify({ reason: "client too slow; reconnect with Last-Event-ID" }) })),
  reset: encoder.encode(sseFrame({
    event: "reset",
    data: JSON.stringify({ reason: "events after Last-Event-ID were pruned; reload the state, then reconnect without Last-Event-ID" })
  }))
}

const crlf = Buffer.from("\r\n")
/** A frame with its HTTP/1.1 chunk framing, made once per frame (the hub shares one frame among all subscribers). */
const chunkOf = new WeakMap<Uint8Array, Uint8Array>()
const chunked = (frame: Uint8Array): Uint8Array => {
  let chunk = chunkOf.get(frame)
  if (chunk === undefined) {
    chunk = Buffer.concat([Buffer.from(`${frame.length.toString(16)}\r\n`), frame, crlf])
    chunkOf.set(frame, chunk)
  }
  return chunk
}

/**
 * The hub's sink for one connection: once the response head is out and the body is chunked (HTTP/1.1), a
 * frame goes to the socket in one write of shared, already chunk-framed bytes, instead of `res.write`'s
 * cork, three-buffer writev and uncork on the next tick per subscriber (most of the fan-out's CPU besides the
 * syscall). Anything else (HTTP/1.0, HTTP/2, before the head) goes through the response as usual.
 */
const liveSink = (response: Http.ServerResponse | LiveSink): LiveSink => {
  if (!(response instanceof Http.ServerResponse)) return response
  return {
    write: (frame) => {
      const socket = response.socket
      return response.headersSent && response.chunkedEncoding && socket !== null
        ? socket.write(chunked(frame))
        : response.write(frame)
    },
    get writableLength() {
      return response.writableLength
    },
    get writableEnded() {
      return response.writableEnded
    },
    get destroyed() {
      return response.destroyed
    }
  }
}

export const RealtimeRoutesLive = HttpRouter.use(Effect.fn(function*(router) {
  const auth = yield* Auth
  const realtime = yield* Realtime

  const serve = (request: HttpServerRequest.HttpServerRequest, param: "projectId" | "jobId") =>
    Effect.gen(function*() {
      const params = yield* HttpRouter.params
      const id = params[param] ?? ""
      if (!uuidPattern.test(id)) return badRequest(["path", param], "must be a uuid")
      const rawLast = lastEventIdOf(request.headers, request.url)
      if (rawLast !== undefined && !/^\d{1,15}$/.test(rawLast)) return badRequest(["headers", "last-event-id"], "must be a bus event id")
      const queryToken = new URL(request.url, "http://local").searchParams.get("access_token")
      const principal = yield* (queryToken === null ? auth.authenticate(request) : auth.authenticateToken(queryToken))
      const key: StreamKey = param === "projectId" ? { projectId: id } : { jobId: id }
      if (!(yield* realtime.canWatch(principal, key))) {
        return yield* new Forbidden(problem(403, "not-a-member", "Forbidden", `you are not a member of this ${param === "projectId" ? "project" : "job's project"}`))
      }
      // Held for the request's scope, which closes when the response ends or the client goes away.
      const opened = yield* realtime.open({
        owner: principalKey(principal),
        key,
        afterId: rawLast === undefined ? undefined : Number(rawLast),
        sink: liveSink(NodeHttpServerRequest.toServerResponse(request)),
        framing
      })
      if (opened._tag === "Refused") {
        const who = opened.limit === "user" ? "per user" : "on this server"
        return problemResponse(
          problem(429, "too-many-connections", "Too Many Requests", `at most ${opened.max} realtime connections ${who}; close one or retry later`),
          { "retry-after": String(opened.retryAfterSeconds) }
        )
      }
      const events = opened.frames.pipe(
        // A database failure mid-stream ends the stream; the client resumes with Last-Event-ID.
        Stream.catchCause(() => Stream.make(encoder.encode(sseComment("error: stream interrupted, reconnect with Last-Event-ID")))),
        Stream.prepend([encoder.encode(sseComment("connected"))])
      )
      return sseBytesResponse(events)
    }).pipe(
      Effect.catchTags({
        Unauthorized: (e) => Effect.succeed(problemResponse(e)),
        Forbidden: (e) => Effect.succeed(problemResponse(e)),
        SqlError: (e) => Effect.die(e)
      })
    )

  yield* router.add("GET", "/functions/v1/realtime/projects/:projectId", (request) => serve(request, "projectId"))
  yield* router.add("GET", "/functions/v1/realtime/jobs/:jobId", (request) => serve(request, "jobId"))
}))
