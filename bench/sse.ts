/**
 * `npm run bench -- sse [subscribers...]`: N SSE subscribers (default 1000 5000 10000, in a child process) on
 * one realtime project stream of the real service; 20 events published 250 ms apart; delivery latency
 * (commit to client parse) p50/p99, and server memory per connection (RSS and heap growth / N).
 * Baseline in the same run: 1 subscriber. Goal: 10k subscribers with p99 < 100 ms on 2 cores.
 * (All subscribers are the dev user, so the per-user connection cap is lifted for this run.)
 *
 * `npm run bench -- sse unread [connections]`: the bounds (issue 11). N (default 2,000) connections from one
 * user that never read, with the default caps; 600 events of 15 KB on their project (9 MB per connection);
 * accepted / refused, server RSS growth against a control burst on an unwatched project, bytes buffered,
 * and how many accepted connections were ended with `overflow`. Clients run in the same process (unread
 * fetch bodies: their bytes wait in the kernel's socket buffers, not in the heap).
 */
import { fork } from "node:child_process"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { devUserId } from "../src/services/auth/Auth.ts"
import { Database, DbRole } from "../src/services/platform/Database.ts"
import { EventBus } from "../src/services/platform/EventBus.ts"
import { Realtime } from "../src/services/realtime/Realtime.ts"
import { startService } from "./_edge.ts"
import { fmt, printTable } from "./_table.ts"

interface ClientReport {
  readonly type: "ready" | "done"
  readonly connected?: number
  readonly received?: number
  readonly p50?: number
  readonly p99?: number
  readonly max?: number
}

const events = 20

const mib = (bytes: number) => fmt(bytes / 1024 / 1024, 1)

const unread = async (connections: number): Promise<void> => {
  const service = await startService({ COGO_AUTH_MODE: "dev" })
  const inService = <A, E>(effect: Effect.Effect<A, E, Database | EventBus | SqlClient | Realtime>) =>
    Effect.runPromise(Effect.provide(effect, service.context))
  const project = () => inService(Effect.gen(function*() {
    const sql = yield* SqlClient
    const db = yield* Database
    const rows = yield* db.withRole(DbRole.projector, sql<{ id: string }>`
      INSERT INTO public.projects (name, owner_id) VALUES ('bench', ${devUserId}) RETURNING id`)
    return rows[0]!.id
  }))
  const payload = "x".repeat(15_000)
  const burst = (projectId: string) => inService(Effect.gen(function*() {
    const bus = yield* EventBus
    const db = yield* Database
    for (let batch = 0; batch < 12; batch++) {
      yield* db.withRole(DbRole.agent, Effect.forEach(Array.from({ length: 50 }, (_, i) => i), (i) =>
        bus.publish({ topic: "project", kind: "bench", projectId, payload: { n: batch * 50 + i, payload } }), { discard: true }))
    }
    yield* Effect.sleep("2 seconds")
  }))
  const rss = () => {
    global.gc?.()
    return process.memoryUsage().rss
  }
  const watched = await project()
  await burst(await project()) // warm-up
  const control = rss()
  await burst(await project())
  const controlDelta = rss() - control

  const start = rss()
  const opened: Array<{ readonly response: Response; readonly abort: () => void }> = []
  for (let i = 0; i < connections; i += 250) {
    opened.push(...await Promise.all(Array.from({ length: Math.min(250, connections - i) }, async () => {
      const controller = new AbortController()
      const response = await fetch(`${service.url}/functions/v1/realtime/projects/${watched}`, { signal: controller.signal })
      return { response, abort: () => controller.abort() }
    })))
  }
  const accepted = opened.filter((c) => c.response.status === 200)
  const refused = opened.filter((c) => c.response.status === 429).length
  await Promise.all(opened.filter((c) => c.response.status !== 200).map((c) => c.response.arrayBuffer()))
  const afterConnect = rss()
  await burst(watched)
  const afterBurst = rss()
  const buffered = await inService(Effect.map(Effect.service(Realtime), (r) => r.bufferedBytes()))
  const overflowed = await Promise.all(accepted.map(async (c) => {
    const text = await c.response.text()
    return text.includes("event: overflow")
  }))
  printTable(
    `Realtime bounds: ${connections} unread connections from one user, 600 x 15 KB events (${process.env["DATABASE_URL"] === undefined ? "embedded PGlite" : "PostgreSQL"})`,
    ["accepted", "refused 429", "RSS MiB: connect", "burst (watched)", "burst (control)", "buffered MiB", "ended with overflow"],
    [[String(accepted.length), String(refused), mib(afterConnect - start), mib(afterBurst - afterConnect), mib(controlDelta), mib(buffered),
      `${overflowed.filter(Boolean).length}/${accepted.length}`]]
  )
  await service.close()
}

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  if (args[0] === "unread") return unread(Number(args[1] ?? 2000))
  const sizes = args.length > 0 ? args.map(Number) : [1000, 5000, 10000]
  const rows: Array<Array<string>> = []
  for (const size of [1, ...sizes]) {
    // A fresh service per size, so each size starts from the same state (memory figures are growth / N).
    const service = await startService({
      COGO_AUTH_MODE: "dev",
      COGO_REALTIME_BUFFER: "256",
      COGO_REALTIME_MAX_CONNECTIONS_PER_USER: "100000",
      COGO_REALTIME_MAX_CONNECTIONS: "100000"
    })
    const inService = <A, E>(effect: Effect.Effect<A, E, Database | EventBus | SqlClient | Realtime>) =>
      Effect.runPromise(Effect.provide(effect, service.context))
    const projectId = await inService(Effect.gen(function*() {
      const sql = yield* SqlClient
      const db = yield* Database
      const rows = yield* db.withRole(DbRole.projector, sql<{ id: string }>`
        INSERT INTO public.projects (name, owner_id) VALUES ('bench', ${devUserId}) RETURNING id`)
      return rows[0]!.id
    }))
    const streamUrl = `${service.url}/functions/v1/realtime/projects/${projectId}`
    global.gc?.()
    const before = process.memoryUsage()
    const child = fork(new URL("./_sse-client.ts", import.meta.url), [streamUrl, String(size), String(events)], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    const messages: Array<ClientReport> = []
    const next = (type: ClientReport["type"], timeoutMs: number) =>
      new Promise<ClientReport>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${type} from the client in ${timeoutMs} ms`)), timeoutMs)
        const check = () => {
          const found = messages.find((m) => m.type === type)
          if (found !== undefined) {
            clearTimeout(timer)
            resolve(found)
          } else setTimeout(check, 20)
        }
        check()
      })
    child.on("message", (m: ClientReport) => messages.push(m))
    const connectStart = performance.now()
    const ready = await next("ready", 300_000)
    const connectSeconds = (performance.now() - connectStart) / 1000
    global.gc?.()
    const after = process.memoryUsage()
    await inService(Effect.gen(function*() {
      const bus = yield* EventBus
      const db = yield* Database
      for (let seq = 0; seq < events; seq++) {
        yield* db.withRole(DbRole.agent, bus.publish({
          topic: "project",
          kind: "bench",
          projectId,
          payload: { seq, sentAt: performance.timeOrigin + performance.now() }
        }))
        yield* Effect.sleep("250 millis")
      }
    }))
    // Every event reaches every subscriber, or after 20 s the client reports what it has.
    const late = setTimeout(() => child.connected && child.send({ type: "report" }), 20_000)
    const done = await next("done", 40_000)
    clearTimeout(late)
    child.kill("SIGKILL")
    // Wait for the server to notice the disconnects before the next size.
    for (let i = 0; i < 200; i++) {
      if (await inService(Effect.map(Effect.service(Realtime), (r) => r.subscriberCount())) === 0) break
      await new Promise((r) => setTimeout(r, 50))
    }
    rows.push([
      String(size),
      String(ready.connected),
      fmt(connectSeconds),
      `${done.received}/${size * events}`,
      fmt(done.p50 ?? Number.NaN),
      fmt(done.p99 ?? Number.NaN),
      fmt(done.max ?? Number.NaN),
      fmt((after.rss - before.rss) / size / 1024, 1),
      fmt((after.heapUsed - before.heapUsed) / size / 1024, 1)
    ])
    await service.close()
  }
  printTable(
    `Realtime SSE fan-out: ${events} events on one project stream (${process.env["DATABASE_URL"] === undefined ? "embedded PGlite" : "PostgreSQL"}); first row = 1-subscriber baseline`,
    ["subscribers", "connected", "connect s", "delivered", "p50 ms", "p99 ms", "max ms", "RSS KiB/conn", "heap KiB/conn"],
    rows
  )
}
