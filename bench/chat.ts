/**
 * `npm run bench -- chat [requests]`: time to first token (TTFT) of a chat through the chat-gateway edge proxy
 * (web `fetch` handler) + the service, against the same local OpenAI-compatible server called directly with
 * the `openai` SDK (the baseline, same process, interleaved). Overhead = via - direct (p50/p99 of the paired
 * differences). Goal: < 5 ms p50. Then IDE reads: `GET /rest/v1/pages` under RLS, requests/s at concurrency
 * 16, against the same query run in-process as the user (`Database.asUser`).
 *
 * `npm run bench -- chat frames [runs] [deltas]`: the cost per SSE frame of a long reply (default 20 runs of
 * 1,000 deltas): the whole reply through the service (POST to `[DONE]`, frames persisted to `cogo.chat_frames`
 * in batches) against the same stream read directly with the `openai` SDK; (via - direct) / frames.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import OpenAI from "openai"
import { makeProxyHandler } from "../src/edge/proxy/proxy.ts"
import { devUserId } from "../src/services/auth/Auth.ts"
import { Database, DbRole } from "../src/services/platform/Database.ts"
import { startFakeOpenAI } from "../test/support/FakeOpenAI.ts"
import { chatBenchEnv, startService } from "./_edge.ts"
import { fmt, printTable, summarize } from "./_table.ts"

const deltas = ["Hello", " from", " the", " fake", " model", "."]

const firstTokenDirect = async (client: OpenAI) => {
  const started = performance.now()
  const stream = await client.chat.completions.create({ model: "fake", messages: [{ role: "user", content: "hi" }], stream: true })
  let first: number | undefined
  for await (const chunk of stream) {
    if (first === undefined && (chunk.choices[0]?.delta?.content ?? "") !== "") first = performance.now() - started
  }
  return first!
}

const firstTokenViaGateway = async (gateway: (request: Request) => Promise<Response>, i: number) => {
  const started = performance.now()
  const response = await gateway(new Request("https://edge.example/functions/v1/chat-gateway", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ id: `bench-${i}`, messages: [{ id: "m", role: "user", parts: [{ type: "text", text: "hi" }] }] })
  }))
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let text = ""
  let first: number | undefined
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    text += value
    if (first === undefined && text.includes(`"type":"text-delta"`)) first = performance.now() - started
  }
  if (first === undefined) throw new Error(`no text-delta in ${text.slice(0, 300)}`)
  return first
}

const throughput = async (concurrency: number, seconds: number, call: () => Promise<void>) => {
  const deadline = performance.now() + seconds * 1000
  let done = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      await call()
      done++
    }
  }))
  return done / seconds
}

const readAll = async (response: Response) => {
  const text = await response.text()
  if (!text.includes("data: [DONE]")) throw new Error(`no [DONE] in ${text.slice(-300)}`)
  return text.split("\n\n").filter((frame) => frame.startsWith("id: ")).length
}

/** The cost per frame of long replies: the service's whole stream against the model's, paired per run. */
const frameCost = async (runs: number, deltaCount: number) => {
  const fake = await startFakeOpenAI()
  fake.setDefaultChat({ kind: "stream", deltas: Array.from({ length: deltaCount }, (_, i) => ` w${i}`) })
  const service = await startService(chatBenchEnv(fake))
  const client = new OpenAI({ baseURL: fake.baseUrl, apiKey: fake.apiKey })
  const direct = async () => {
    const started = performance.now()
    const stream = await client.chat.completions.create({ model: "fake", messages: [{ role: "user", content: "hi" }], stream: true })
    for await (const _ of stream) { /* drain */ }
    return performance.now() - started
  }
  let frames = 0
  const via = async (i: number) => {
    const started = performance.now()
    const response = await fetch(`${service.url}/functions/v1/chat`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: `frames-${i}`, messages: [{ id: "m", role: "user", parts: [{ type: "text", text: "hi" }] }] })
    })
    frames = await readAll(response)
    return performance.now() - started
  }
  for (let i = 0; i < 3; i++) {
    await direct()
    await via(-i - 1)
  }
  const perFrame: Array<number> = []
  const whole: Array<number> = []
  const cpuPerFrame: Array<number> = []
  const cpuMicros = () => {
    const usage = process.cpuUsage()
    return usage.user + usage.system
  }
  for (let i = 0; i < runs; i++) {
    const cpuDirect = cpuMicros()
    const d = await direct()
    const cpuVia = cpuMicros()
    const v = await via(i)
    // The service runs in this process: its CPU per frame, less the model stream's own (read directly).
    cpuPerFrame.push((cpuMicros() - cpuVia - (cpuVia - cpuDirect)) / frames)
    whole.push(v)
    perFrame.push(((v - d) / frames) * 1000)
  }
  // Let the last batches land before closing.
  await new Promise((resolve) => setTimeout(resolve, 200))
  const [sw, sf, sc] = [summarize(whole), summarize(perFrame), summarize(cpuPerFrame)]
  printTable(`Chat frame cost, ${runs} replies of ${frames} frames (${process.env["DATABASE_URL"] === undefined ? "embedded PGlite" : "PostgreSQL"})`,
    ["measure", "p50", "p99", "max"], [
      ["whole reply via the service, ms", fmt(sw.p50), fmt(sw.p99), fmt(sw.max)],
      ["extra per frame over the model's stream, µs", fmt(sf.p50, 1), fmt(sf.p99, 1), fmt(sf.max, 1)],
      ["extra CPU per frame (this process: service + its database), µs", fmt(sc.p50, 1), fmt(sc.p99, 1), fmt(sc.max, 1)]
    ])
  await service.close()
  await fake.close()
}

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  if (args[0] === "frames") return frameCost(Number(args[1] ?? 20), Number(args[2] ?? 1000))
  const requests = Number(args[0] ?? 200)
  const fake = await startFakeOpenAI()
  fake.setDefaultChat({ kind: "stream", deltas })
  const service = await startService({
    COGO_AUTH_MODE: "dev",
    OPENAI_BASE_URL: fake.baseUrl,
    OPENAI_API_KEY: fake.apiKey,
    COGO_CHAT_RATE_BURST: "1000000",
    COGO_CHAT_RATE_PER_MINUTE: "1000000"
  })
  const client = new OpenAI({ baseURL: fake.baseUrl, apiKey: fake.apiKey })
  const gateway = makeProxyHandler({ serviceUrl: service.url, functionName: "chat-gateway" })
  // Warm-up (JIT, connections, breaker state).
  for (let i = 0; i < 20; i++) {
    await firstTokenDirect(client)
    await firstTokenViaGateway(gateway, i)
  }
  // The service without the proxy: fetch straight to its chat-gateway route.
  const serviceOnly = (request: Request) => {
    const url = new URL(request.url)
    return fetch(`${service.url}${url.pathname}`, { method: request.method, headers: request.headers, body: request.body, duplex: "half" } as RequestInit)
  }
  const direct: Array<number> = []
  const via: Array<number> = []
  const noProxy: Array<number> = []
  const overhead: Array<number> = []
  for (let i = 0; i < requests; i++) {
    const d = await firstTokenDirect(client)
    const v = await firstTokenViaGateway(gateway, i)
    noProxy.push(await firstTokenViaGateway(serviceOnly, i))
    direct.push(d)
    via.push(v)
    overhead.push(v - d)
  }
  const [sd, sv, so, sn] = [summarize(direct), summarize(via), summarize(overhead), summarize(noProxy)]
  printTable(`Chat time to first token, ${requests} sequential requests (${process.env["DATABASE_URL"] === undefined ? "embedded PGlite" : "PostgreSQL"})`,
    ["path", "p50 ms", "p99 ms", "max ms"], [
      ["direct: openai SDK -> local OpenAI-compatible server (baseline)", fmt(sd.p50), fmt(sd.p99), fmt(sd.max)],
      ["edge proxy -> chat-gateway -> chat -> LLM", fmt(sv.p50), fmt(sv.p99), fmt(sv.max)],
      ["service only (no edge proxy) -> chat-gateway -> chat -> LLM", fmt(sn.p50), fmt(sn.p99), fmt(sn.max)],
      ["overhead (paired difference)", fmt(so.p50), fmt(so.p99), fmt(so.max)]
    ])

  // IDE reads under RLS.
  const projectId = await Effect.runPromise(Effect.provide(Effect.gen(function*() {
    const sql = yield* SqlClient
    const db = yield* Database
    return yield* db.withRole(DbRole.projector, Effect.gen(function*() {
      const [project] = yield* sql<{ id: string }>`INSERT INTO public.projects (name, owner_id) VALUES ('reads', ${devUserId}) RETURNING id`
      for (let i = 0; i < 50; i++) {
        yield* sql`INSERT INTO public.pages (project_id, name, route, definition) VALUES (${project!.id}, ${`page ${i}`}, ${`/p${i}`}, ${JSON.stringify({ widgets: i })}::jsonb)`
      }
      return project!.id
    }))
  }), service.context))
  const readUrl = `${service.url}/rest/v1/pages?select=id,name,route,version&project_id=eq.${projectId}&order=name`
  const httpReads = await throughput(16, 3, async () => {
    const response = await fetch(readUrl)
    if (response.status !== 200) throw new Error(`status ${response.status}`)
    await response.arrayBuffer()
  })
  const inProcessReads = await throughput(16, 3, () =>
    Effect.runPromise(Effect.provide(Effect.gen(function*() {
      const sql = yield* SqlClient
      const db = yield* Database
      yield* db.asUser({ sub: devUserId, role: "authenticated" }, sql`
        SELECT id, name, route, version::float8 AS version FROM public.pages WHERE project_id = ${projectId} ORDER BY name`)
    }), service.context)))
  printTable("IDE reads under RLS (50 rows, concurrency 16, 3 s each)", ["path", "requests/s", "ratio"], [
    ["in-process Database.asUser query (baseline)", fmt(inProcessReads, 0), "1.00"],
    ["GET /rest/v1/pages (auth + PostgREST subset + RLS)", fmt(httpReads, 0), fmt(httpReads / inProcessReads)]
  ])
  await service.close()
  await fake.close()
}
