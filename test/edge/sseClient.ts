/** A small real SSE client over fetch (what browsers' EventSource and the AI SDK do): frames with id/event/data. */
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

/** Reads frames until `stop(frames)` is true (then disconnects) or the stream ends. */
export const readSse = async (
  url: string,
  init: RequestInit,
  stop: (frames: ReadonlyArray<SseFrame>) => boolean = () => false,
  timeoutMs = 30_000
): Promise<SseRead> => {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  const started = performance.now()
  const response = await fetch(url, { ...init, signal: controller.signal })
  const frames: Array<SseFrame> = []
  let comments = 0
  let firstByteMs: number | undefined
  let ended = false
  if (response.body === null || !(response.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    clearTimeout(timer)
    return { status: response.status, headers: response.headers, frames, comments, firstByteMs, ended: true }
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  let id: string | undefined
  let event: string | undefined
  let data: Array<string> = []
  try {
    outer: for (;;) {
      const { value, done } = await reader.read()
      if (done) {
        ended = true
        break
      }
      firstByteMs ??= performance.now() - started
      buffer += value
      let newline: number
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, "")
        buffer = buffer.slice(newline + 1)
        if (line === "") {
          if (data.length > 0) {
            frames.push({ id, event, data: data.join("\n") })
            if (stop(frames)) break outer
          }
          id = undefined
          event = undefined
          data = []
        } else if (line.startsWith(":")) comments++
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
  } catch (error) {
    if (!controller.signal.aborted) throw error
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
  return { status: response.status, headers: response.headers, frames, comments, firstByteMs, ended }
}
