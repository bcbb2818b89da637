/**
 * `npm run bench -- sse [subscribers...]`: N SSE subscribers (default 1000 5000 10000, in a child process) on
 * one realtime project stream of the real service; 20 events published 250 ms apart; delivery latency
 * (commit to client parse) p50/p99, and server memory per connection (RSS and heap growth / N).
 * Baseline in the same run: 1 subscriber. Goal: 10k subscribers with p99 < 100 ms on 2 cores.
 * `server CPU us/delivery`: the service process's CPU time (user + system) from the first publish to the last
 * delivery, divided by subscribers x events: what one delivered frame costs, much less noisy than latency on a
 * shared machine. (All subscribers are the dev user, so the per-user connection cap is lifted for this run.)
 * The subscribers are spread over `SSE_CLIENTS` client processes (default 2), so that one client's parsing of
 * 10k sockets in a single thread is not what the latency measures.
 *
 * `npm run bench -- sse idle [connections]`: N (default 50,000) idle subscribers on one project stream, from
 * 4 client processes on 127.0.0.2-5 (one source address has ~28k ephemeral ports); the server's RSS and heap
 * growth per connection. Raises this process's open-file limit with `prlimit` when it is below N + 1,000.
 *
 * `npm run bench -- sse unread [connections]`: the bounds (issue 11). N (default 2,000) connections from one
 * user that never read, with the default caps; 600 events of 15 KB on their project (9 MB per connection);
 * accepted / refused, server RSS growth against a control burst on an unwatched project, bytes buffered,
 * and how many accepted connections were ended with `overflow`. Clients run in the same process (unread
 * fetch bodies: their bytes wait in the kernel's socket buffers, not in the heap).
 */
import { type ChildProcess, execFileSync, fork } from "node:child_process"
import { writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
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
  readonly latencies?: ReadonlyArray<number>
}

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN

const events = 20

/** A full GC before each memory reading, also without `--expose-gc` (`npm run bench` does not pass it). */
setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void

/** The client child (bench/_sse-client.ts) and a way to wait for its `ready` / `done` report. */
const spawnClients = (streamUrl: string, connections: number, expected: number, localAddress?: string) => {
  const child: ChildProcess = fork(new URL("./_sse-client.ts", import.meta.url),
    [streamUrl, String(connections), String(expected), ...(localAddress === undefined ? [] : [localAddress])], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
  const messages: Array<ClientReport> = []
  child.on("message", (m: ClientReport) => messages.push(m))
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
  return { child, next }
}

const benchEnv = {
  COGO_AUTH_MODE: "dev",
  COGO_REALTIME_BUFFER: "256",
  COGO_REALTIME_MAX_CONNECTIONS_PER_USER: "100000",
  COGO_REALTIME_MAX_CONNECTIONS: "100000"
}

const newProject = (service: Awaited<ReturnType<typeof startService>>) =>
  Effect.runPromise(Effect.provide(Effect.gen(function*() {
    const sql = yield* SqlClient
    const db = yield* Database
    const rows = yield* db.withRole(DbRole.projector, sql<{ id: string }>`
      INSERT INTO public.projects (name, owner_id) VALUES ('bench', ${devUserId}) RETURNING id`)
    return rows[0]!.id
  }), service.context))

const backendName = () => process.env["DATABASE_URL"] === undefined ? "embedded PGlite" : "PostgreSQL"

/**
 * With `SSE_CPU_PROFILE=<file>`, a CPU profile of the service process over the delivery phase only (first
 * publish to last delivery), without the connect phase: open it in Chrome DevTools or speedscope.
 */
const profileDelivery = async () => {
  const file = process.env["SSE_CPU_PROFILE"]
  if (file === undefined) return async (_size: number) => {}
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.start")
  return async (size: number) => {
    const { profile } = await session.post("Profiler.stop")
    writeFileSync(file.replace(/(\.cpuprofile)?$/, `-${size}.cpuprofile`), JSON.stringify(profile))
    session.disconnect()
  }
}

/**
 * Raises this process's open-file limit so the server can hold `needed` sockets (needs CAP_SYS_RESOURCE above
 * the hard limit); returns the limit it has.
 */
const raiseFileLimit = (needed: number): number => {
  const current = Number(execFileSync("sh", ["-c", "ulimit -n"]).toString().trim())
  if (current >= needed) return current
  try {
    execFileSync("prlimit", ["--pid", String(process.pid), `--nofile=${needed}:${needed}`], { stdio: "ignore" })
    return needed
  } catch {
    return current
  }
}

const idle = async (requested: number): Promise<void> => {
  const limit = raiseFileLimit(requested + 1000)
  // Without the privilege to raise it, as many as the limit allows (the figure per connection still holds).
  const connections = Math.min(requested, limit - 1000)
  if (connections < requested) console.error(`open-file limit ${limit}: measuring ${connections} connections, not ${requested} (run as root or with \`ulimit -n ${requested + 1000}\`)`)
  const service = await startService(benchEnv)
  const projectId = await newProject(service)
  const streamUrl = `${service.url}/functions/v1/realtime/projects/${projectId}`
  const clientCount = 4
  gc()
  const before = process.memoryUsage()
  const start = performance.now()
  const clients = Array.from({ length: clientCount }, (_, i) =>
    spawnClients(streamUrl, Math.floor(connections / clientCount) + (i < connections % clientCount ? 1 : 0), 0, `127.0.0.${i + 2}`))
  const ready = await Promise.all(clients.map((c) => c.next("ready", 1_800_000)))
  const connectSeconds = (performance.now() - start) / 1000
  const connected = ready.reduce((n, r) => n + (r.connected ?? 0), 0)
  await new Promise((r) => setTimeout(r, 2000))
  gc()
  const after = process.memoryUsage()
  const open = await Effect.runPromise(Effect.provide(Effect.map(Effect.service(Realtime), (r) => r.subscriberCount()), service.context))
  for (const c of clients) c.child.kill("SIGKILL")
  printTable(
    `Realtime idle subscribers on one project stream (${backendName()}); server process memory growth / connections` +
      (connections < requested ? ` (${requested} requested; open-file limit ${limit})` : ""),
    ["connections", "connected", "server subscribers", "connect s", "RSS MiB", "RSS KiB/conn", "heap KiB/conn"],
    [[String(connections), String(connected), String(open), fmt(connectSeconds), mib(after.rss - before.rss),
      fmt((after.rss - before.rss) / connections / 1024, 1), fmt((after.heapUsed - before.heapUsed) / connections / 1024, 1)]]
  )
  await service.close()
}

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
    gc()
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
    `Realtime bounds: ${connections} unread connections from one user, 600 x 15 KB events (${backendName()})`,
    ["accepted", "refused 429", "RSS MiB: connect", "burst (watched)", "burst (control)", "buffered MiB", "ended with overflow"],
    [[String(accepted.length), String(refused), mib(afterConnect - start), mib(afterBurst - afterConnect), mib(controlDelta), mib(buffered),
      `${overflowed.filter(Boolean).length}/${accepted.length}`]]
  )
  await service.close()
}

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  if (args[0] === "unread") return unread(Number(args[1] ?? 2000))
  if (args[0] === "idle") return idle(Number(args[1] ?? 50_000))
  const sizes = args.length > 0 ? args.map(Number) : [1000, 5000, 10000]
  const rows: Array<Array<string>> = []
  for (const size of [1, ...sizes]) {
    // A fresh service per size, so each size starts from the same state (memory figures are growth / N).
    const service = await startService(benchEnv)
    const inService = <A, E>(effect: Effect.Effect<A, E, Database | EventBus | SqlClient | Realtime>) =>
      Effect.runPromise(Effect.provide(effect, service.context))
    const projectId = await newProject(service)
    const streamUrl = `${service.url}/functions/v1/realtime/projects/${projectId}`
    gc()
    const before = process.memoryUsage()
    const clientCount = Math.min(size, Number(process.env["SSE_CLIENTS"] ?? 2))
    const clients = Array.from({ length: clientCount }, (_, i) =>
      spawnClients(streamUrl, Math.floor(size / clientCount) + (i < size % clientCount ? 1 : 0), events))
    const connectStart = performance.now()
    const ready = await Promise.all(clients.map((c) => c.next("ready", 300_000)))
    const connectSeconds = (performance.now() - connectStart) / 1000
    gc()
    const after = process.memoryUsage()
    const stopProfile = await profileDelivery()
    const cpuStart = process.cpuUsage()
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
    const late = setTimeout(() => {
      for (const { child } of clients) if (child.connected) child.send({ type: "report" })
    }, 20_000)
    const done = await Promise.all(clients.map((c) => c.next("done", 40_000)))
    const cpu = process.cpuUsage(cpuStart)
    await stopProfile(size)
    clearTimeout(late)
    for (const { child } of clients) child.kill("SIGKILL")
    const latencies = done.flatMap((d) => d.latencies ?? []).sort((a, b) => a - b)
    // Wait for the server to notice the disconnects before the next size.
    for (let i = 0; i < 200; i++) {
      if (await inService(Effect.map(Effect.service(Realtime), (r) => r.subscriberCount())) === 0) break
      await new Promise((r) => setTimeout(r, 50))
    }
    rows.push([
      String(size),
      String(ready.reduce((n, r) => n + (r.connected ?? 0), 0)),
      fmt(connectSeconds),
      `${latencies.length}/${size * events}`,
      fmt(percentile(latencies, 50)),
      fmt(percentile(latencies, 99)),
      fmt(latencies.at(-1) ?? Number.NaN),
      fmt((after.rss - before.rss) / size / 1024, 1),
      fmt((after.heapUsed - before.heapUsed) / size / 1024, 1),
      fmt((cpu.user + cpu.system) / (size * events), 1)
    ])
    await service.close()
  }
  printTable(
    `Realtime SSE fan-out: ${events} events on one project stream (${backendName()}), subscribers over ${process.env["SSE_CLIENTS"] ?? 2} client processes; first row = 1-subscriber baseline`,
    ["subscribers", "connected", "connect s", "delivered", "p50 ms", "p99 ms", "max ms", "RSS KiB/conn", "heap KiB/conn", "server CPU us/delivery"],
    rows
  )
}
