import { assert, layer } from "@effect/vitest"
import { createClient } from "@supabase/supabase-js"
import { Context, Effect, Layer, Schedule } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { fakeOpenAI, fakeOpenAIEnv, type FakeOpenAIServer } from "../support/FakeOpenAI.ts"
import { makeCogoClient } from "../../src/edge/Client.ts"
import { makeProxyHandler } from "../../src/edge/proxy/proxy.ts"
import { freePort } from "../support/ports.ts"
import { anonKey, baseUrl, EdgeServerLive, userToken } from "./server.ts"
import { readSse, type SseFrame } from "../support/sseClient.ts"

class Fake extends Context.Service<Fake, FakeOpenAIServer>()("test/FakeOpenAI") {}
const TestLive = Layer.unwrap(Effect.map(Effect.service(Fake), (fake) =>
  EdgeServerLive({ ...fakeOpenAIEnv(fake), COGO_CHAT_RATE_BURST: "3", COGO_CHAT_RATE_PER_MINUTE: "1", LLM_MAX_RETRIES: "0" }))).pipe(
    Layer.provideMerge(Layer.effect(Fake, fakeOpenAI()))
  )

const alice = "a11ce000-0000-4000-8000-000000000001"
const bob = "b0b00000-0000-4000-8000-000000000002"
const carol = "ca201000-0000-4000-8000-000000000003"

const chunks = (frames: ReadonlyArray<SseFrame>) =>
  frames.map((f) => f.data === "[DONE]" ? { type: "[DONE]" } : JSON.parse(f.data) as { type: string; delta?: string; [k: string]: unknown })
const textOf = (frames: ReadonlyArray<SseFrame>) => chunks(frames).filter((c) => c.type === "text-delta").map((c) => c.delta).join("")
const isDone = (frames: ReadonlyArray<SseFrame>) => frames.at(-1)?.data === "[DONE]"
const body = (text: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ id: `chat-${text.length}`, messages: [{ id: "m1", role: "user", parts: [{ type: "text", text }] }], trigger: "submit-message", ...extra })
const words = Array.from({ length: 24 }, (_, i) => `word${i} `)

layer(TestLive, { excludeTestServices: true })("chat over SSE (AI SDK UI message stream v1)", (it) => {
  it.effect("streams the protocol; a client that disconnects mid-chat resumes with Last-Event-ID to the same text", () =>
    Effect.gen(function*() {
      const fake = yield* Fake
      const url = yield* baseUrl
      const headers = { authorization: `Bearer ${yield* Effect.promise(() => userToken(alice))}`, "content-type": "application/json" }
      fake.scriptChat({ kind: "stream", deltas: words, delayMs: 15 }, { kind: "stream", deltas: words, delayMs: 15 })

      const full = yield* Effect.promise(() => readSse(`${url}/functions/v1/chat`, { method: "POST", headers, body: body("hi") }, isDone))
      assert.strictEqual(full.status, 200)
      assert.strictEqual(full.headers.get("x-vercel-ai-ui-message-stream"), "v1")
      assert.isTrue(full.frames.every((f, i) => f.id === String(i)), "every frame has a sequential id")
      const types = chunks(full.frames).map((c) => c.type)
      assert.deepStrictEqual(types.slice(0, 2), ["start", "start-step"])
      assert.deepStrictEqual(types.slice(-4), ["data-progress", "finish-step", "finish", "[DONE]"])
      assert.include(types, "text-start")
      assert.include(types, "text-end")
      assert.strictEqual(textOf(full.frames), words.join(""))

      const part = yield* Effect.promise(() =>
        readSse(`${url}/functions/v1/chat`, { method: "POST", headers, body: body("again") }, (frames) => chunks(frames).filter((c) => c.type === "text-delta").length >= 5))
      const streamId = part.headers.get("x-cogo-stream-id")!
      assert.isFalse(part.ended)
      // Generation goes on without a reader: wait until the run has stored frames past the last one read.
      const sql = yield* SqlClient
      const lastRead = Number(part.frames.at(-1)!.id)
      const produced = sql<{ n: number }>`SELECT frame_count AS n FROM cogo.chat_runs WHERE id = ${streamId}`.pipe(
        Effect.flatMap(([run]) => (run?.n ?? 0) > lastRead + 1 ? Effect.void : Effect.fail("no frame since the reader left")),
        Effect.retry({ times: 200, schedule: Schedule.spaced("25 millis") })
      )
      yield* produced
      const rest = yield* Effect.promise(() =>
        readSse(`${url}/functions/v1/chat/${streamId}/stream`, { headers: { ...headers, "last-event-id": part.frames.at(-1)!.id! } }, isDone))
      assert.strictEqual(rest.status, 200)
      assert.strictEqual(Number(rest.frames[0]!.id), Number(part.frames.at(-1)!.id) + 1, "exactly the missed frames")
      assert.strictEqual(textOf([...part.frames, ...rest.frames]), textOf(full.frames))
      // The AI SDK's resume convention: GET …/chat/<chat id>/stream finds the chat's latest run.
      const byChat = yield* Effect.promise(() => readSse(`${url}/functions/v1/chat/chat-5/stream`, { headers }, isDone))
      assert.strictEqual(textOf(byChat.frames), words.join(""))
      // Another user cannot read it.
      const bobHeaders = { authorization: `Bearer ${yield* Effect.promise(() => userToken(bob))}` }
      const stolen = yield* Effect.promise(() => fetch(`${url}/functions/v1/chat/${streamId}/stream`, { headers: bobHeaders }))
      assert.strictEqual(stolen.status, 404)
    }))

  it.effect("the abort endpoint stops generation; a disconnect does not", () =>
    Effect.gen(function*() {
      const fake = yield* Fake
      const url = yield* baseUrl
      const headers = { authorization: `Bearer ${yield* Effect.promise(() => userToken(alice))}`, "content-type": "application/json" }
      fake.scriptChat({ kind: "stream", deltas: words, delayMs: 100 })
      const part = yield* Effect.promise(() =>
        readSse(`${url}/functions/v1/chat`, { method: "POST", headers, body: body("slow") }, (frames) => chunks(frames).some((c) => c.type === "text-delta")))
      const streamId = part.headers.get("x-cogo-stream-id")!
      const aborted = yield* Effect.promise(() => fetch(`${url}/functions/v1/chat/${streamId}/abort`, { method: "POST", headers }).then((r) => r.json()))
      assert.deepStrictEqual(aborted, { aborted: true })
      const rest = yield* Effect.promise(() => readSse(`${url}/functions/v1/chat/${streamId}/stream`, { headers }, isDone, 5000))
      const types = chunks(rest.frames).map((c) => c.type)
      assert.deepStrictEqual(types.slice(-2), ["abort", "[DONE]"])
      assert.isBelow(textOf(rest.frames).length, words.join("").length)
    }))

  it.effect("Idempotency-Key: same key+body resumes the same stream once; other body 422; concurrent duplicates run once", () =>
    Effect.gen(function*() {
      const fake = yield* Fake
      const url = yield* baseUrl
      const token = yield* Effect.promise(() => userToken(alice))
      const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": "chat-key-1" }
      fake.reset()
      fake.setDefaultChat({ kind: "stream", deltas: words, delayMs: 5 })
      const [a, b] = yield* Effect.all([
        Effect.promise(() => readSse(`${url}/functions/v1/chat`, { method: "POST", headers, body: body("idem") }, isDone)),
        Effect.promise(() => readSse(`${url}/functions/v1/chat`, { method: "POST", headers, body: body("idem") }, isDone))
      ], { concurrency: 2 })
      assert.strictEqual(a.headers.get("x-cogo-stream-id"), b.headers.get("x-cogo-stream-id"))
      assert.strictEqual(textOf(a.frames), textOf(b.frames))
      const later = yield* Effect.promise(() => readSse(`${url}/functions/v1/chat`, { method: "POST", headers, body: body("idem") }, isDone))
      assert.strictEqual(later.headers.get("x-cogo-stream-id"), a.headers.get("x-cogo-stream-id"))
      assert.strictEqual(textOf(later.frames), words.join(""))
      assert.strictEqual(fake.requests.filter((r) => r.path.endsWith("/chat/completions")).length, 1, "executed once")
      const other = yield* Effect.promise(() => fetch(`${url}/functions/v1/chat`, { method: "POST", headers, body: body("different") }))
      assert.strictEqual(other.status, 422)
      fake.setDefaultChat(undefined)
    }))

  it.effect("chat-gateway: per-user rate limit 429 with Retry-After; supabase-js functions.invoke streams", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const token = yield* Effect.promise(() => userToken(carol))
      const supabase = createClient(url, yield* Effect.promise(anonKey), {
        auth: { persistSession: false },
        global: { headers: { Authorization: `Bearer ${token}` } }
      })
      const invoked = yield* Effect.promise(() => supabase.functions.invoke("chat-gateway", { body: JSON.parse(body("gateway")) }))
      assert.isNull(invoked.error)
      const response = invoked.data as Response
      const text = yield* Effect.promise(() => response.text())
      assert.include(text, `"delta":"gateway"`)
      assert.include(text, "data: [DONE]")
      const direct = yield* Effect.promise(() => supabase.functions.invoke("chat", { body: JSON.parse(body("direct")) }))
      assert.include(yield* Effect.promise(() => (direct.data as Response).text()), `"delta":"direct"`)
      const statuses: Array<number> = []
      let retryAfter: string | null = null
      for (let i = 0; i < 3; i++) {
        const r = yield* Effect.promise(() => fetch(`${url}/functions/v1/chat-gateway`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: body("gw") }))
        statuses.push(r.status)
        if (r.status === 429) retryAfter = r.headers.get("retry-after")
        yield* Effect.promise(() => r.body?.cancel() ?? Promise.resolve())
      }
      assert.deepStrictEqual(statuses, [200, 200, 429])
      assert.isTrue(Number(retryAfter) >= 1)
      // Another user is not limited by carol's use.
      const bobToken = yield* Effect.promise(() => userToken(bob))
      const ok = yield* Effect.promise(() =>
        fetch(`${url}/functions/v1/chat-gateway`, { method: "POST", headers: { authorization: `Bearer ${bobToken}`, "content-type": "application/json" }, body: body("gw") }))
      assert.strictEqual(ok.status, 200)
      yield* Effect.promise(() => ok.body?.cancel() ?? Promise.resolve())
    }))

  it.effect("project chat cites indexed evidence as source parts; embed indexes; members only; bad bodies are 400 naming the field", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const db = yield* Database
      const url = yield* baseUrl
      const [project] = yield* db.withRole(DbRole.projector, sql<{ id: string }>`
        INSERT INTO public.projects (name, owner_id) VALUES ('kb', ${alice}) RETURNING id`)
      const projectId = project!.id
      const aliceToken = yield* Effect.promise(() => userToken(alice))
      const supabase = createClient(url, yield* Effect.promise(anonKey), { auth: { persistSession: false }, global: { headers: { Authorization: `Bearer ${aliceToken}` } } })
      const indexed = yield* Effect.promise(() => supabase.functions.invoke("embed", {
        body: { projectId, documents: [{ sourceType: "doc", sourceId: "style-guide", text: "The primary button color is teal. Buttons have rounded corners." }] }
      }))
      assert.isNull(indexed.error)
      assert.strictEqual((indexed.data as { mode: string }).mode, "indexed")
      const texts = yield* Effect.promise(() => supabase.functions.invoke("embed", { body: { texts: ["a", "b"] } }))
      assert.strictEqual((texts.data as { embeddings: Array<Array<number>> }).embeddings.length, 2)

      const headers = { authorization: `Bearer ${aliceToken}`, "content-type": "application/json" }
      const answer = yield* Effect.promise(() =>
        readSse(`${url}/functions/v1/chat`, { method: "POST", headers, body: body("What is the primary button color?", { projectId }) }, isDone))
      const sources = chunks(answer.frames).filter((c) => c.type === "source-document")
      assert.isAbove(sources.length, 0)
      assert.include(String(sources[0]!["title"]), "style-guide")
      assert.isTrue(chunks(answer.frames).some((c) => c.type === "data-progress" && (c["data"] as { stage: string }).stage === "research"))

      const bobToken = yield* Effect.promise(() => userToken(bob))
      const denied = yield* Effect.promise(() =>
        fetch(`${url}/functions/v1/chat`, { method: "POST", headers: { authorization: `Bearer ${bobToken}`, "content-type": "application/json" }, body: body("x", { projectId }) }))
      assert.strictEqual(denied.status, 403)
      const deniedEmbed = yield* Effect.promise(() =>
        fetch(`${url}/functions/v1/embed`, { method: "POST", headers: { authorization: `Bearer ${bobToken}`, "content-type": "application/json" }, body: JSON.stringify({ projectId, documents: [] }) }))
      assert.strictEqual(deniedEmbed.status, 403)

      const bad = yield* Effect.promise(() =>
        fetch(`${url}/functions/v1/chat`, { method: "POST", headers, body: JSON.stringify({ id: "x", messages: [{ id: "m", role: "robot", parts: [] }] }) }))
      assert.strictEqual(bad.status, 400)
      const problemBody = yield* Effect.promise(() => bad.json() as Promise<{ errors?: Array<{ path: Array<string | number> }> }>)
      assert.include(JSON.stringify(problemBody.errors?.[0]?.path), "role")
      const anonymous = yield* Effect.promise(() => fetch(`${url}/functions/v1/chat`, { method: "POST", headers: { "content-type": "application/json" }, body: body("x") }))
      assert.strictEqual(anonymous.status, 401)
    }))

  it.effect("edge proxy handlers (web fetch) against the running service: streaming passthrough, CORS, traceparent, 502 when down", () =>
    Effect.gen(function*() {
      const fake = yield* Fake
      const url = yield* baseUrl
      const token = yield* Effect.promise(() => userToken(alice))
      const gateway = makeProxyHandler({ serviceUrl: url, functionName: "chat-gateway" })
      fake.scriptChat({ kind: "stream", deltas: words.slice(0, 10), delayMs: 60 })
      const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
      const { firstByteMs, totalMs, text, response } = yield* Effect.promise(async () => {
        const started = performance.now()
        const response = await gateway(new Request("https://project.supabase.co/functions/v1/chat-gateway", {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json", traceparent },
          body: body("through the proxy")
        }))
        const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
        let text = ""
        let firstByteMs: number | undefined
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          firstByteMs ??= performance.now() - started
          text += value
        }
        return { firstByteMs: firstByteMs!, totalMs: performance.now() - started, text, response }
      })
      assert.strictEqual(response.status, 200)
      assert.strictEqual(response.headers.get("x-vercel-ai-ui-message-stream"), "v1")
      assert.strictEqual(response.headers.get("access-control-allow-origin"), "*")
      assert.strictEqual(response.headers.get("traceparent"), traceparent)
      assert.include(text, "data: [DONE]")
      // 10 deltas 60 ms apart: the first byte must arrive long before the end (no buffering anywhere).
      assert.isBelow(firstByteMs, totalMs - 300, `first byte at ${firstByteMs} ms, end at ${totalMs} ms`)
      const chatRequest = fake.requests.filter((r) => r.path.endsWith("/chat/completions")).at(-1)
      assert.isDefined(chatRequest)

      const preflight = yield* Effect.promise(() => gateway(new Request("https://x/functions/v1/chat-gateway", { method: "OPTIONS" })))
      assert.strictEqual(preflight.status, 204)
      assert.include(preflight.headers.get("access-control-allow-headers") ?? "", "idempotency-key")

      const embed = makeProxyHandler({ serviceUrl: url, functionName: "embed" })
      const embedded = yield* Effect.promise(() => embed(new Request("https://x/embed", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ texts: ["hello"] })
      })).then(async (r) => ({ status: r.status, json: await r.json() as { mode: string } })))
      assert.deepStrictEqual([embedded.status, embedded.json.mode], [200, "texts"])

      const downPort = yield* Effect.promise(freePort)
      const down = makeProxyHandler({ serviceUrl: `http://127.0.0.1:${downPort}`, functionName: "chat" })
      const failed = yield* Effect.promise(() => down(new Request("https://x/functions/v1/chat", { method: "POST", body: "{}" })))
      assert.strictEqual(failed.status, 502)
      assert.strictEqual(failed.headers.get("content-type"), "application/problem+json")
      assert.strictEqual(failed.headers.get("access-control-allow-origin"), "*")
    }))

  it.effect("Idempotency-Key on a plain POST (embed): replayed once-executed response, 422 on another body, concurrent duplicates execute once", () =>
    Effect.gen(function*() {
      const fake = yield* Fake
      const url = yield* baseUrl
      const token = yield* Effect.promise(() => userToken(bob))
      const post = (key: string, texts: ReadonlyArray<string>) =>
        Effect.promise(async () => {
          const r = await fetch(`${url}/functions/v1/embed`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": key },
            body: JSON.stringify({ texts })
          })
          return { status: r.status, replayed: r.headers.get("idempotent-replayed"), text: await r.text() }
        })
      const embeddingCalls = () => fake.requests.filter((r) => r.path.endsWith("/embeddings")).length
      const before = embeddingCalls()
      const results = yield* Effect.all(Array.from({ length: 5 }, () => post("embed-key-1", ["same text"])), { concurrency: 5 })
      assert.isTrue(results.every((r) => r.status === 200))
      assert.strictEqual(new Set(results.map((r) => r.text)).size, 1, "identical responses")
      assert.strictEqual(results.filter((r) => r.replayed === "true").length, 4)
      assert.strictEqual(embeddingCalls() - before, 1, "executed once")
      const again = yield* post("embed-key-1", ["same text"])
      assert.deepStrictEqual([again.status, again.replayed, again.text], [200, "true", results[0]!.text])
      const other = yield* post("embed-key-1", ["another text"])
      assert.strictEqual(other.status, 422)
      assert.include(other.text, "idempotency-key-reused")
      // Keys are per user: alice's identical key is her own.
      const aliceToken = yield* Effect.promise(() => userToken(alice))
      const alices = yield* Effect.promise(() => fetch(`${url}/functions/v1/embed`, {
        method: "POST",
        headers: { authorization: `Bearer ${aliceToken}`, "content-type": "application/json", "idempotency-key": "embed-key-1" },
        body: JSON.stringify({ texts: ["another text"] })
      }))
      assert.strictEqual(alices.status, 200)
      assert.isNull(alices.headers.get("idempotent-replayed"))
      const malformed = yield* post("bad key with spaces", ["x"])
      assert.strictEqual(malformed.status, 400)
    }))

  it.effect("the typed HttpApiClient calls embed with the caller's token; a missing token fails typed (401)", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const client = yield* makeCogoClient({ baseUrl: url, accessToken: yield* Effect.promise(() => userToken(alice)) })
      const result = yield* client.embed.embed({ payload: { texts: ["typed client"] } })
      assert.strictEqual(result.mode, "texts")
      const anonymous = yield* makeCogoClient({ baseUrl: url })
      const failure = yield* Effect.flip(anonymous.embed.embed({ payload: { texts: ["x"] } }))
      assert.strictEqual(failure._tag, "Unauthorized")
    }))
})
