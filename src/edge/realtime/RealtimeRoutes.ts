/**
 * Realtime SSE: `GET /functions/v1/realtime/projects/:projectId` and `GET /functions/v1/realtime/jobs/:jobId`.
 * Every frame's `id` is the bus event id, so `Last-Event-ID` (header, or `lastEventId` query) resumes with no
 * gap and no duplicate. Browsers' EventSource cannot send headers: the token may come as `access_token`.
 * Membership is checked as the user (RLS) before subscribing. Heartbeat comments every
 * `COGO_SSE_HEARTBEAT` (15 s), from the Realtime service's shared timer.
 */
import { Effect, Stream } from "effect"
import { HttpRouter, HttpServerRequest } from "effect/http"
import { Forbidden, problem } from "../../domain/platform/Problem.ts"
import { Auth } from "../../services/auth/Auth.ts"
import { Realtime, type StreamKey } from "../../services/realtime/Realtime.ts"
import { badRequest, problemResponse } from "../../services/platform/problemResponse.ts"
import type { BusEvent } from "../../domain/platform/BusEvent.ts"
import { lastEventIdOf, sseBytesResponse, sseComment, sseFrame } from "../http/sse.ts"
import { uuidPattern } from "../../domain/platform/Uuid.ts"

const encoder = new TextEncoder()
const heartbeatBytes = encoder.encode(sseComment("heartbeat"))
const overflowBytes = encoder.encode(sseFrame({ event: "overflow", data: JSON.stringify({ reason: "client too slow; reconnect with Last-Event-ID" }) }))
/**
 * The SSE bytes of a bus event, encoded once: the hub hands the same event object to every subscriber of its
 * project/job, so with N subscribers the JSON and UTF-8 work is done once, not N times.
 */
const frames = new WeakMap<BusEvent, Uint8Array>()
const frameOf = (event: BusEvent): Uint8Array => {
  let frame = frames.get(event)
  if (frame === undefined) {
    frame = encoder.encode(sseFrame({ id: event.id, event: event.topic, data: JSON.stringify(event) }))
    frames.set(event, frame)
  }
  return frame
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
      const events = realtime.subscribe(key, rawLast === undefined ? 0 : Number(rawLast)).pipe(
        Stream.map((item) =>
          item._tag === "Event" ? frameOf(item.event) : item._tag === "Heartbeat" ? heartbeatBytes : overflowBytes),
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
