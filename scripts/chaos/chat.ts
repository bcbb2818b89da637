/**
 * Chat in the chaos load: a run is started through the proxy, the client drops the stream after a few
 * frames and resumes it by run id with Last-Event-ID (the proxy sends it to the next replica), reconnecting
 * again whenever the stream breaks. A complete run has frames 0..n-1 once each, in order, ending with
 * [DONE]; a run whose replica was killed must end with an `error` frame and [DONE] instead of hanging.
 */
import * as http from "node:http"
import { randomUUID } from "node:crypto"
import { countError, type Stats } from "./client.ts"
import { createSseParser } from "../../test/support/sseClient.ts"

export interface ChatLog {
  started: number
  completed: number
  /** Runs that ended with an `error` frame (their replica died). */
  endedWithError: number
  /** Runs that never reached [DONE] within the deadline. */
  hung: number
  missed: number
  repeated: number
  resumes: number
}

export const newChatLog = (): ChatLog => ({ started: 0, completed: 0, endedWithError: 0, hung: 0, missed: 0, repeated: 0, resumes: 0 })

interface Frame {
  readonly id: number
  readonly data: string
}

/** One request; collects frames until the stream ends or `drop(frames)` holds. The run id comes from the header. */
const stream = (port: number, options: http.RequestOptions, body: string | undefined, frames: Array<Frame>, drop: () => boolean) =>
  new Promise<{ status: number; runId: string | undefined }>((resolve) => {
    const request = http.request({ host: "127.0.0.1", port, agent: false, ...options }, (response) => {
      const runId = response.headers["x-cogo-stream-id"]
      const feed = createSseParser((frame) => {
        if (frame.id !== undefined && response.statusCode === 200) frames.push({ id: Number(frame.id), data: frame.data })
      })
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => {
        feed(chunk)
        if (drop()) request.destroy()
      })
      const done = () => resolve({ status: response.statusCode ?? 0, runId: typeof runId === "string" ? runId : undefined })
      response.on("end", done)
      response.on("close", done)
      response.on("error", done)
    })
    request.on("error", () => resolve({ status: 0, runId: undefined }))
    request.end(body)
  })

const textDeltas = (frames: ReadonlyArray<Frame>) => frames.filter((f) => f.data.includes("\"text-delta\"")).length

/** One chat run with a deliberate drop after 5 text deltas, resumed until [DONE] (at most 30 s). */
const oneChat = async (port: number, stats: Stats, token: string, expectedText: string, log: ChatLog) => {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" }
  const frames: Array<Frame> = []
  stats.requests++
  const first = await stream(port, { method: "POST", path: "/functions/v1/chat", headers }, JSON.stringify({
    id: `chaos-chat-${randomUUID()}`,
    messages: [{ id: "m1", role: "user", parts: [{ type: "text", text: "hi" }] }]
  }), frames, () => textDeltas(frames) >= 5)
  if (first.status !== 200 || first.runId === undefined) {
    countError(stats, first.status === 0 ? "chat start: connection" : `chat start: http ${first.status}`)
    return
  }
  log.started++
  const deadline = performance.now() + 30_000
  while (frames.at(-1)?.data !== "[DONE]" && performance.now() < deadline) {
    log.resumes++
    stats.requests++
    const last = frames.at(-1)
    const resumed = await stream(port, {
      method: "GET",
      path: `/functions/v1/chat/${first.runId}/stream`,
      headers: { authorization: `Bearer ${token}`, ...(last === undefined ? {} : { "last-event-id": String(last.id) }) }
    }, undefined, frames, () => false)
    if (resumed.status !== 200) {
      countError(stats, resumed.status === 0 ? "chat resume: connection" : `chat resume: http ${resumed.status}`)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
  }
  const ids = frames.map((f) => f.id)
  log.repeated += ids.length - new Set(ids).size
  const highest = Math.max(-1, ...ids)
  for (let id = 0; id <= highest; id++) if (!ids.includes(id)) log.missed++
  if (frames.at(-1)?.data !== "[DONE]") log.hung++
  else if (frames.some((f) => f.data.includes("\"type\":\"error\""))) log.endedWithError++
  else {
    const text = frames.filter((f) => f.data.includes("\"text-delta\"")).map((f) => (JSON.parse(f.data) as { delta: string }).delta).join("")
    if (text === expectedText) log.completed++
    else log.missed++
  }
}

export const chatLoop = async (port: number, stats: Stats, token: string, expectedText: string, log: ChatLog, running: { readonly until: () => boolean }) => {
  while (!running.until()) {
    await oneChat(port, stats, token, expectedText, log)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
