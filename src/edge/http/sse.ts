/** Server-sent events framing shared by the chat and realtime streams. */
import { type Duration, Stream } from "effect"
import { HttpServerResponse } from "effect/http"

/** One SSE frame; multi-line data is split into several `data:` lines as the spec requires. */
export const sseFrame = (frame: { readonly id?: string | number | undefined; readonly event?: string | undefined; readonly data: string }): string => {
  let text = ""
  if (frame.id !== undefined) text += `id: ${frame.id}\n`
  if (frame.event !== undefined) text += `event: ${frame.event}\n`
  for (const line of frame.data.split("\n")) text += `data: ${line}\n`
  return `${text}\n`
}

/** A comment line: ignored by clients, keeps proxies from closing an idle stream. */
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

/** For frames encoded once and written to many connections (realtime fan-out). */
export const sseBytesResponse = (frames: Stream.Stream<Uint8Array>, headers: Record<string, string> = {}) =>
  HttpServerResponse.stream(frames, {
    contentType: "text/event-stream; charset=utf-8",
    headers: { "cache-control": "no-cache, no-transform", "x-accel-buffering": "no", connection: "keep-alive", ...headers }
  })

/** Heartbeat items merged into a stream of frames every `every` (after the first interval); ends with the frames. */
export const withHeartbeat = <A>(frames: Stream.Stream<A>, every: Duration.Input, heartbeat: A) =>
  Stream.merge(frames, Stream.tick(every).pipe(Stream.drop(1), Stream.map(() => heartbeat)), { haltStrategy: "left" })
