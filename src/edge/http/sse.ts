/** Server-sent events framing shared by the chat and realtime streams. */
import { type Duration, Stream } from "effect"
import * as Sse from "effect/encoding/Sse"
import { HttpServerResponse } from "effect/http"
import { endOnDrain } from "../../services/platform/Drain.ts"

/**
 * One SSE frame, written by effect's encoder: multi-line data becomes several `data:` lines, and a frame
 * without an event name is a "message" (no `event:` line), as the spec reads it.
 */
export const sseFrame = (frame: { readonly id?: string | number | undefined; readonly event?: string | undefined; readonly data: string }): string =>
  Sse.encoder.write({ _tag: "Event", id: frame.id === undefined ? undefined : String(frame.id), event: frame.event ?? "message", data: frame.data })

/** A comment line: ignored by clients, keeps proxies from closing an idle stream (effect's encoder writes no comments). */
export const sseComment = (text: string): string => `: ${text}\n\n`

/** The `Last-Event-ID` of a reconnect (header, or `lastEventId` query for clients that cannot set headers). */
export const lastEventIdOf = (headers: Readonly<Record<string, string | undefined>>, url: string): string | undefined => {
  const header = headers["last-event-id"]
  if (header !== undefined && header !== "") return header
  const query = new URL(url, "http://local").searchParams.get("lastEventId")
  return query === null || query === "" ? undefined : query
}

export const sseResponse = (frames: Stream.Stream<string>, headers: Record<string, string> = {}) =>
  sseBytesResponse(Stream.encodeText(frames), headers)

/** Sent when the replica starts draining: reconnect after 1 s (to another replica), then the stream ends. */
const drainFarewell = new TextEncoder().encode(`retry: 1000\n${sseComment("server draining; reconnect with Last-Event-ID")}`)

/** For frames encoded once and written to many connections (realtime fan-out). Ends when the replica drains. */
export const sseBytesResponse = (frames: Stream.Stream<Uint8Array>, headers: Record<string, string> = {}) =>
  HttpServerResponse.stream(endOnDrain(frames, drainFarewell), {
    contentType: "text/event-stream; charset=utf-8",
    headers: { "cache-control": "no-cache, no-transform", "x-accel-buffering": "no", connection: "keep-alive", ...headers }
  })

/** Heartbeat items merged into a stream of frames every `every` (after the first interval); ends with the frames. */
export const withHeartbeat = <A>(frames: Stream.Stream<A>, every: Duration.Input, heartbeat: A) =>
  Stream.merge(frames, Stream.tick(every).pipe(Stream.drop(1), Stream.map(() => heartbeat)), { haltStrategy: "left" })
