/**
 * Chat from any replica (issue 15): two replicas of the real service on one PostgreSQL and one fake model.
 * A run started on one is resumed on the other with exactly the missed frames, an abort on the other stops
 * it, and a kill -9 of the owner ends the other replica's stream with an `error` frame and `[DONE]` within
 * seconds. Runs only with TEST_DATABASE_URL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { userToken } from "../edge/server.ts"
import { type FakeOpenAIServer, startFakeOpenAI } from "../support/FakeOpenAI.ts"
import { hasRealPostgres } from "../support/TestDatabase.ts"
import type { ServiceProcess } from "../support/ServiceProcess.ts"
import { dropDatabase, freshDatabase, query, startReplica, stopReplica } from "./support.ts"
import { createSseParser } from "../support/sseClient.ts"

interface Frame {
  readonly id: number
  readonly data: string
}

/** Reads SSE frames until `stop` holds for the frames so far (then cancels) or the stream ends. */
const readFrames = async (
  response: Response,
  stop: (frames: ReadonlyArray<Frame>) => boolean = () => false,
  onFrame: () => void = () => {}
) => {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  const frames: Array<Frame> = []
  const feed = createSseParser((frame) => {
    if (frame.id !== undefined) frames.push({ id: Number(frame.id), data: frame.data })
    onFrame()
  })
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return frames
    feed(value)
    if (stop(frames)) {
      await reader.cancel()
      return frames
    }
  }
}

const chunks = (frames: ReadonlyArray<Frame>) =>
  frames.filter((f) => f.data !== "[DONE]").map((f) => JSON.parse(f.data) as { type: string; delta?: string; errorText?: string })

const text = (frames: ReadonlyArray<Frame>) => chunks(frames).map((c) => c.type === "text-delta" ? c.delta : "").join("")

describe.skipIf(!hasRealPostgres)("chat from any replica", () => {
  let databaseUrl = ""
  let fake: FakeOpenAIServer
  let a: ServiceProcess
  let b: ServiceProcess
  let token = ""
  const words = Array.from({ length: 40 }, (_, i) => ` word${i}`)

  const post = (replica: ServiceProcess, chatId: string) =>
    fetch(`${replica.baseUrl}/functions/v1/chat`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ id: chatId, messages: [{ id: "m1", role: "user", parts: [{ type: "text", text: "hi" }] }] })
    })

  const resume = (replica: ServiceProcess, id: string, lastEventId?: number) =>
    fetch(`${replica.baseUrl}/functions/v1/chat/${id}/stream`, {
      headers: { authorization: `Bearer ${token}`, ...(lastEventId === undefined ? {} : { "last-event-id": String(lastEventId) }) }
    })

  beforeAll(async () => {
    databaseUrl = await freshDatabase()
    fake = await startFakeOpenAI()
    const env = { OPENAI_BASE_URL: fake.baseUrl, OPENAI_API_KEY: fake.apiKey, COGO_CHAT_STALE_AFTER: "2 seconds" }
    a = await startReplica(databaseUrl, "chat-a", env)
    b = await startReplica(databaseUrl, "chat-b", { ...env, COGO_MIGRATE_ON_START: "false" })
    token = await userToken("c4a70000-0000-4000-8000-000000000001")
  }, 120_000)

  afterAll(async () => {
    await Promise.all([a, b].filter((r) => r !== undefined).map((r) => stopReplica(r)))
    await fake?.close()
    await dropDatabase(databaseUrl)
  })

  it("resumes a run of one replica on the other with no missing and no repeated frame", async () => {
    fake.setDefaultChat({ kind: "stream", deltas: words, delayMs: 40 })
    const started = await post(a, "resume-chat")
    expect(started.status).toBe(200)
    const runId = started.headers.get("x-cogo-stream-id")!
    const first = await readFrames(started, (frames) => chunks(frames).filter((c) => c.type === "text-delta").length >= 5)
    const lastId = first.at(-1)!.id
    // The client drops and reconnects to the other replica, by run id.
    const rest = await readFrames(await resume(b, runId, lastId))
    const ids = [...first, ...rest].map((f) => f.id)
    expect(ids).toEqual(ids.map((_, i) => i))
    expect(rest.at(-1)!.data).toBe("[DONE]")
    expect(text([...first, ...rest])).toBe(words.join(""))
    // The whole run, read later from either replica by chat id, is the same log.
    const [fromA, fromB] = await Promise.all([readFrames(await resume(a, "resume-chat")), readFrames(await resume(b, "resume-chat"))])
    expect(fromB).toEqual(fromA)
    expect(fromB.map((f) => f.data)).toEqual([...first, ...rest].map((f) => f.data))
    fake.setDefaultChat(undefined)
  }, 30_000)

  it("stops a run of one replica when the other is asked to abort it", async () => {
    fake.setDefaultChat({ kind: "stream", deltas: Array.from({ length: 200 }, (_, i) => ` slow${i}`), delayMs: 50 })
    const started = await post(a, "abort-chat")
    const runId = started.headers.get("x-cogo-stream-id")!
    const first = await readFrames(started, (frames) => chunks(frames).some((c) => c.type === "text-delta"))
    const reading = resume(b, runId, first.at(-1)!.id).then((response) => readFrames(response))
    const abortedAt = performance.now()
    const response = await fetch(`${b.baseUrl}/functions/v1/chat/${runId}/abort`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` }
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ aborted: true })
    const rest = await reading
    const stoppedMs = performance.now() - abortedAt
    console.log(`abort on the other replica: stream ended after ${Math.round(stoppedMs)} ms`)
    // Far below the 10 s the run takes unaborted; the bound leaves room for a loaded machine.
    expect(stoppedMs).toBeLessThan(6_000)
    expect(chunks(rest).at(-1)?.type).toBe("abort")
    expect(rest.at(-1)!.data).toBe("[DONE]")
    expect(text([...first, ...rest]).length).toBeLessThan(200 * 6)
    fake.setDefaultChat(undefined)
  }, 30_000)

  it("ends a run whose replica was killed with an error frame and [DONE] within seconds", async () => {
    fake.setDefaultChat({ kind: "stream", deltas: Array.from({ length: 400 }, (_, i) => ` long${i}`), delayMs: 50 })
    const started = await post(a, "kill-chat")
    const runId = started.headers.get("x-cogo-stream-id")!
    const first = await readFrames(started, (frames) => chunks(frames).filter((c) => c.type === "text-delta").length >= 3)
    // A reader on B is live before the kill (it has caught up with what A appended).
    const readingB = resume(b, runId, first.at(-1)!.id)
    const response = await readingB
    expect(response.status).toBe(200)
    let delivered!: () => void
    const live = new Promise<void>((resolve) => delivered = resolve)
    const reading = readFrames(response, undefined, () => delivered())
    await live
    const killedAt = performance.now()
    await stopReplica(a, "SIGKILL")
    const rest = await reading
    const endedMs = performance.now() - killedAt
    console.log(`owner killed: the other replica's stream ended after ${Math.round(endedMs)} ms`)
    // COGO_CHAT_STALE_AFTER (2 s) plus room for a loaded machine; the run would stream on for 20 s.
    expect(endedMs).toBeLessThan(10_000)
    const ids = [...first, ...rest].map((f) => f.id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids).toEqual([...ids].sort((x, y) => x - y))
    expect(chunks(rest).at(-1)).toMatchObject({ type: "error" })
    expect(rest.at(-1)!.data).toBe("[DONE]")
    const [run] = await query<{ finished: boolean }>(databaseUrl, `SELECT finished_at IS NOT NULL AS finished FROM cogo.chat_runs WHERE id = '${runId}'`)
    expect(run?.finished).toBe(true)
    // A later reader gets the same ending at once.
    const again = await readFrames(await resume(b, runId))
    expect(again.slice(-2).map((f) => f.data)).toEqual(rest.slice(-2).map((f) => f.data))
    fake.setDefaultChat(undefined)
  }, 30_000)
})
