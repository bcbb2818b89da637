/**
 * The one SSE client of the tests and benches: an incremental frame parser (id/event/data fields, comment
 * lines counted), used over fetch by `readSse` (what browsers' EventSource and the AI SDK do) and over raw
 * sockets by bench/_sse-client.ts (10k connections in one process).
 * effect/encoding/Sse's makeParser is not used: it drops comment lines (heartbeats are counted here) and
 * reports a missing `event:` as "message".
 */
export interface SseFrame {
  readonly id: string | undefined
  readonly event: string | undefined
  readonly data: string
}

export interface SseRead {
  readonly status: number
  readonly headers: Headers
  readonly frames: ReadonlyArray<SseFrame>
  readonly comments: number
  /** Milliseconds from request start to the first body byte. */
  readonly firstByteMs: number | undefined
  /** True when the server ended the stream (not aborted by us). */
  readonly ended: boolean
}

/** Parses SSE text fed in chunks of any size; calls `onFrame` per dispatched frame and `onComment` per comment line. */
export const createSseParser = (onFrame: (frame: SseFrame) => void, onComment: () => void = () => {}) => {
  let buffer = ""
  let id: string | undefined
  let event: string | undefined
  let data: Array<string> = []
  return (chunk: string): void => {
    buffer += chunk
    let newline: number
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, "")
      buffer = buffer.slice(newline + 1)
      if (line === "") {
        if (data.length > 0) onFrame({ id, event, data: data.join("\n") })
        id = undefined
        event = undefined
        data = []
      } else if (line.startsWith(":")) onComment()
      else {
        const colon = line.indexOf(":")
        const field = colon < 0 ? line : line.slice(0, colon)
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "")
        if (field === "id") id = text
        else if (field === "event") event = text
        else if (field === "data") data.push(text)
      }
    }
  }
}

/** Reads frames until `stop(frames)` is true (then disconnects) or the stream ends. */
export const readSse = async (
  url: string,
  init: RequestInit,
  stop: (frames: ReadonlyArray<SseFrame>) => boolean = () => false,
  timeoutMs = 30_000,
  /** Called once the response head has arrived (a realtime subscriber is registered by then). */
  onOpen: () => void = () => {}
): Promise<SseRead> => {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  const started = performance.now()
  const response = await fetch(url, { ...init, signal: controller.signal })
  onOpen()
  const frames: Array<SseFrame> = []
  let comments = 0
  let firstByteMs: number | undefined
  let ended = false
  if (response.body === null || !(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    clearTimeout(timer)
    return { status: response.status, headers: response.headers, frames, comments, firstByteMs, ended: true }
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let stopped = false
  const feed = createSseParser((frame) => {
    if (stopped) return
    frames.push(frame)
    stopped = stop(frames)
  }, () => {
    if (!stopped) comments++
  })
  try {
    while (!stopped) {
      const { value, done } = await reader.read()
      if (done) {
        ended = true
        break
      }
      firstByteMs ??= performance.now() - started
      feed(value)
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
  return { status: response.status, headers: response.headers, frames, comments, firstByteMs, ended }
}
