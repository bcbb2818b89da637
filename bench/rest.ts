/**
 * `npm run bench -- rest [--rows N] [--concurrency C]`
 *
 * User writes through `/rest/v1` (the real service, in process: embedded PGlite by default, DATABASE_URL for
 * PostgreSQL): C concurrent clients each insert single components (POST, `Prefer: return=representation`)
 * and then patch them with their version (`PATCH ?id=eq.X&version=eq.V`), as the IDE does. Beside it, the
 * same statements in process (`Database.asUser` with the same claims, the same triggers and RLS), C fibers
 * at a time. Rows/s, p50/p99 per row and the HTTP/in-process ratio.
 *
 * `npm run bench -- rest reads [--rows N] [--concurrency C] [--warmup W] [--node-http | --fetch]`: IDE reads under RLS with a
 * user JWT, `GET /rest/v1/pages` (50 rows of one project), against the same SELECT run in-process as that user
 * (`Database.asUser`: BEGIN, set_config, SELECT, COMMIT) and against the one statement the service runs
 * (`cogo.rest_read`, migration 0025) called in-process. The HTTP client runs in a worker thread, as a remote
 * client would, so it does not share the server's event loop: by default a minimal keep-alive HTTP/1.1 client
 * on sockets, `--node-http` node:http's client (the fifth session's figures; about twice the client CPU on the
 * same 2 cores), `--fetch` fetch on the server's own event loop (the figures before issue 16). A second table
 * gives CPU per request of the server's thread, the client's and the in-process run (`process.threadCpuUsage`),
 * which a busy machine distorts less than req/s. Each path first serves W (1,000) warm-up requests.
 */
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as jose from "jose"
import { Database, DbRole, userClaimsSetting } from "../src/services/platform/Database.ts"
import { intOption } from "./_args.ts"
import { fmt, printTable, summarize } from "./_table.ts"
import { startService } from "./_edge.ts"

const secret = "bench-only-jwt-secret-with-at-least-32-characters"
const userId = "be000000-0000-4000-8000-0000000000b1"

/** Runs `task(i)` for i < n with `concurrency` workers; per-task milliseconds and the wall time. */
const measure = async (n: number, concurrency: number, task: (i: number) => Promise<void>) => {
  const samples: Array<number> = []
  let next = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < n) {
      const i = next++
      const t0 = performance.now()
      await task(i)
      samples.push(performance.now() - t0)
    }
  }))
  return { wallMs: performance.now() - started, ...summarize(samples) }
}

interface Measured {
  readonly wallMs: number
  readonly p50: number
  readonly p99: number
  /** CPU of the thread that ran the server (or the in-process calls), microseconds. */
  readonly serverCpuUs: number
  readonly clientCpuUs: number
}

const cpuUs = (usage: NodeJS.CpuUsage) => usage.user + usage.system

/** `measure` on this thread, with the thread's CPU time. */
const mainThread = async (n: number, concurrency: number, task: () => Promise<void>): Promise<Measured> => {
  const cpu0 = process.threadCpuUsage()
  const measured = await measure(n, concurrency, task)
  return { ...measured, serverCpuUs: cpuUs(process.threadCpuUsage(cpu0)), clientCpuUs: 0 }
}

const definition = (label: string) => ({ tree: { type: "Column", id: "root", children: [{ type: "Text", id: "t", data: label }] } })

/**
 * The HTTP load generator of the reads bench: `concurrency` keep-alive connections in a worker thread, as a
 * remote client would be, so the server's event loop does only the server's work. Each response's status is
 * checked and its body parsed and its row count checked. Two clients: node:http (`--node-http`), or by
 * default a minimal HTTP/1.1 client over one socket per connection (a fixed request, the response read by
 * its content-length), which costs the shared 2-core machine less CPU than node:http, as a load generator
 * such as wrk would. Answers per-request milliseconds, the wall time and the client thread's CPU.
 */
const clientWorkerSource = (kind: "node-http" | "socket") => `
const { parentPort, workerData } = require("node:worker_threads")
const { url, headers, concurrency, expectedRows } = workerData
const check = (status, body) => {
  if (status !== 200) throw new Error("GET " + status + " " + body)
  const rows = JSON.parse(body)
  if (rows.length !== expectedRows) throw new Error("expected " + expectedRows + " rows, got " + rows.length)
}
${kind === "node-http" ? `
const http = require("node:http")
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
const connect = async () => () => new Promise((resolve, reject) => {
  http.get(url, { agent, headers }, (response) => {
    const chunks = []
    response.on("data", (chunk) => chunks.push(chunk))
    response.on("end", () => {
      try { check(response.statusCode, Buffer.concat(chunks).toString()); resolve() } catch (error) { reject(error) }
    })
  }).on("error", reject)
})` : `
const net = require("node:net")
const target = new URL(url)
const request = Buffer.from("GET " + target.pathname + target.search + " HTTP/1.1\\r\\nhost: " + target.host + "\\r\\n" +
  Object.entries(headers).map(([name, value]) => name + ": " + value + "\\r\\n").join("") + "\\r\\n", "latin1")
const connect = () => new Promise((resolve, reject) => {
  const socket = net.connect(Number(target.port), target.hostname)
  socket.setNoDelay(true)
  let pending
  let buffer = Buffer.alloc(0)
  const fail = (error) => { const p = pending; pending = undefined; p?.reject(error) }
  socket.on("error", fail)
  socket.on("close", () => fail(new Error("connection closed")))
  socket.on("data", (chunk) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
    if (pending === undefined) return fail(new Error("unexpected bytes"))
    const headEnd = buffer.indexOf("\\r\\n\\r\\n")
    if (headEnd < 0) return
    const head = buffer.toString("latin1", 0, headEnd)
    const length = /\\r\\ncontent-length: *(\\d+)/i.exec(head)
    if (length === null) return fail(new Error("no content-length: " + head))
    const end = headEnd + 4 + Number(length[1])
    if (buffer.length < end) return
    const body = buffer.toString("utf8", headEnd + 4, end)
    buffer = buffer.subarray(end)
    const p = pending
    pending = undefined
    try { check(Number(head.slice(9, 12)), body); p.resolve() } catch (error) { p.reject(error) }
  })
  const get = () => new Promise((resolve, reject) => {
    pending = { resolve, reject }
    socket.write(request)
  })
  get.close = () => socket.destroy()
  socket.once("connect", () => resolve(get))
  socket.once("error", reject)
})`}
const cpuUs = (usage) => usage.user + usage.system
let connections = []
parentPort.on("message", async (n) => {
  try {
    // New connections for each run: the server closes keep-alive connections idle for 5 s (between runs).
    for (const get of connections) get.close?.()
    connections = await Promise.all(Array.from({ length: concurrency }, connect))
    const cpu0 = process.threadCpuUsage()
    const samples = []
    let next = 0
    const started = performance.now()
    await Promise.all(connections.map(async (get) => {
      while (next < n) {
        next++
        const t0 = performance.now()
        await get()
        samples.push(performance.now() - t0)
      }
    }))
    parentPort.postMessage({ samples, wallMs: performance.now() - started, clientCpuUs: cpuUs(process.threadCpuUsage(cpu0)) })
  } catch (error) {
    parentPort.postMessage({ error: String(error) })
  }
})`

const reads = async (args: ReadonlyArray<string>) => {
  const requests = intOption(args, "rows", 4000)
  const concurrency = intOption(args, "concurrency", 16)
  const warmup = intOption(args, "warmup", 1000)
  const sameProcessClient = args.includes("--fetch")
  const workerClient = args.includes("--node-http") ? "node-http" : "socket"
  const service = await startService({ SUPABASE_JWT_SECRET: secret, COGO_AUTH_MODE: "prod", PROJECTION_ENABLED: "false" })
  const { Worker } = await import("node:worker_threads")
  let client: InstanceType<typeof Worker> | undefined
  try {
    const token = await new jose.SignJWT({ sub: userId, role: "authenticated", aud: "authenticated" })
      .setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime("1h").sign(new TextEncoder().encode(secret))
    const inProcess = <A>(effect: Effect.Effect<A, unknown, SqlClient | Database>) => Effect.runPromise(Effect.provide(effect, service.context))
    const projectId = await inProcess(Effect.gen(function*() {
      const sql = yield* SqlClient
      const db = yield* Database
      return yield* db.withRole(DbRole.projector, Effect.gen(function*() {
        const [project] = yield* sql<{ id: string }>`INSERT INTO public.projects (name, owner_id) VALUES ('reads', ${userId}) RETURNING id`
        for (let i = 0; i < 50; i++) {
          yield* sql`INSERT INTO public.pages (project_id, name, route, definition) VALUES (${project!.id}, ${`page ${i}`}, ${`/p${i}`}, ${JSON.stringify(definition(`p${i}`))}::jsonb)`
        }
        return project!.id
      }))
    }))
    const url = `${service.url}/rest/v1/pages?select=id,name,route,version&project_id=eq.${projectId}&order=name`
    const headers = { authorization: `Bearer ${token}` }
    const worker = new Worker(clientWorkerSource(workerClient), { eval: true, workerData: { url, headers, concurrency, expectedRows: 50 } })
    client = worker
    const viaWorker = (n: number) =>
      new Promise<Measured>((resolve, reject) => {
        const cpu0 = process.threadCpuUsage()
        worker.once("message", (message: { samples?: Array<number>; wallMs?: number; clientCpuUs?: number; error?: string }) =>
          message.error === undefined
            ? resolve({ wallMs: message.wallMs!, ...summarize(message.samples!), serverCpuUs: cpuUs(process.threadCpuUsage(cpu0)), clientCpuUs: message.clientCpuUs! })
            : reject(new Error(message.error)))
        worker.postMessage(n)
      })
    const viaFetch = (n: number) => mainThread(n, concurrency, async () => {
      const response = await fetch(url, { headers })
      if (response.status !== 200) throw new Error(`GET pages: ${response.status} ${await response.text()}`)
      if ((await response.json() as Array<unknown>).length !== 50) throw new Error("expected 50 pages")
    })
    const http = sameProcessClient ? viaFetch : viaWorker
    const claims = { sub: userId, role: "authenticated", aud: "authenticated" }
    // The in-process baseline: the same SELECT as that user through Database.asUser, rows decoded into objects.
    const direct = () => inProcess(Effect.gen(function*() {
      const sql = yield* SqlClient
      const db = yield* Database
      const rows = yield* db.asUser(claims, sql`
        SELECT id, name, route, version::float8 AS version FROM public.pages WHERE project_id = ${projectId} ORDER BY name`)
      if (rows.length !== 50) throw new Error("expected 50 pages")
    }))
    // The same read as the service now runs it (issue 16): one statement through cogo.rest_read, body as JSON text.
    const readText = `SELECT count(*)::int, coalesce(json_agg(_r), '[]')::text FROM (SELECT "id", "name", "route", "version"
      FROM public.pages WHERE "project_id" = ($1->>0)::uuid ORDER BY "name" ASC) _r`
    const directOneStatement = () => inProcess(Effect.gen(function*() {
      const sql = yield* SqlClient
      const [read] = yield* sql<{ count: number }>`SELECT count FROM cogo.rest_read(${DbRole.authenticated}, ${userClaimsSetting(claims)}, ${readText}, ${
        JSON.stringify([projectId])
      }::jsonb)`
      if (read?.count !== 50) throw new Error("expected 50 pages")
    }))
    // Warm-up, the same for the three paths: until the JIT has compiled each path, round 1 measures compilation.
    await http(warmup)
    await mainThread(warmup, concurrency, direct)
    await mainThread(warmup, concurrency, directOneStatement)
    const results: Array<Array<string>> = []
    const cpu: Array<Array<string>> = []
    const perRequest = (us: number) => fmt(us / requests, 0)
    for (let round = 1; round <= 3; round++) {
      const h = await http(requests)
      const d = await mainThread(requests, concurrency, direct)
      const one = await mainThread(requests, concurrency, directOneStatement)
      const perSecond = (m: { wallMs: number }) => requests / (m.wallMs / 1000)
      results.push([
        String(round), fmt(perSecond(h), 0), fmt(h.p50), fmt(h.p99), fmt(perSecond(d), 0), fmt(d.p50), fmt(d.p99), fmt(perSecond(h) / perSecond(d)),
        fmt(perSecond(one), 0), fmt(perSecond(h) / perSecond(one))
      ])
      cpu.push([String(round), perRequest(h.serverCpuUs), sameProcessClient ? "(in server)" : perRequest(h.clientCpuUs), perRequest(d.serverCpuUs), fmt(d.serverCpuUs / h.serverCpuUs)])
    }
    printTable(
      `/rest/v1 reads under RLS (GET pages, 50 rows, user JWT), ${requests} requests x 3 rounds, ${concurrency} concurrent, ${
        process.env["DATABASE_URL"] === undefined ? "embedded PGlite" : "PostgreSQL"
      }, HTTP client: ${
        sameProcessClient ? "fetch on the server's event loop" : workerClient === "node-http" ? "node:http keep-alive in a worker thread" : "keep-alive sockets in a worker thread"
      }`,
      ["round", "HTTP req/s", "HTTP p50 ms", "HTTP p99 ms", "in-process req/s", "in-proc p50 ms", "in-proc p99 ms", "ratio", "in-process 1-statement req/s", "ratio vs 1-statement"],
      results
    )
    printTable(
      `CPU per request (process.threadCpuUsage; robust to a busy machine): the server's event loop vs the in-process run${
        sameProcessClient ? " (the fetch client shares the server's event loop)" : ""
      }`,
      ["round", "HTTP server µs/req", "HTTP client µs/req", "in-process µs/req", "CPU ratio"],
      cpu
    )
    console.log(`load average: ${(await import("node:fs")).readFileSync("/proc/loadavg", "utf8").trim()}`)
  } finally {
    await client?.terminate()
    await service.close()
  }
}

export const run = async (args: ReadonlyArray<string>) => {
  if (args[0] === "reads") return reads(args.slice(1))
  const rows = intOption(args, "rows", 2000)
  const concurrency = intOption(args, "concurrency", 16)
  const service = await startService({ SUPABASE_JWT_SECRET: secret, COGO_AUTH_MODE: "prod", PROJECTION_ENABLED: "false" })
  try {
    const token = await new jose.SignJWT({ sub: userId, role: "authenticated", aud: "authenticated" })
      .setProtectedHeader({ alg: "HS256" }).setIssuedAt().setExpirationTime("1h").sign(new TextEncoder().encode(secret))
    const inProcess = <A>(effect: Effect.Effect<A, unknown, SqlClient | Database>) => Effect.runPromise(Effect.provide(effect, service.context))
    const claims = { sub: userId, role: "authenticated", aud: "authenticated" }
    const [project] = await inProcess(Effect.gen(function*() {
      const sql = yield* SqlClient
      const db = yield* Database
      return yield* db.withRole(DbRole.projector, sql<{ id: string }>`INSERT INTO public.projects (name, owner_id) VALUES ('bench', ${userId}) RETURNING id`)
    }))
    const projectId = project!.id
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json", prefer: "return=representation" }
    const httpIds: Array<string> = []
    const call = async (path: string, method: string, body: unknown) => {
      const response = await fetch(`${service.url}${path}`, { method, headers, body: JSON.stringify(body) })
      if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`)
      return (await response.json()) as Array<{ id: string; version: number }>
    }
    const httpInsert = await measure(rows, concurrency, async (i) => {
      const [row] = await call("/rest/v1/components?select=id,version", "POST", { project_id: projectId, name: `c${i}`, definition: definition(`v${i}`) })
      httpIds[i] = row!.id
    })
    const httpPatch = await measure(rows, concurrency, async (i) => {
      await call(`/rest/v1/components?id=eq.${httpIds[i]}&version=eq.1&select=id,version`, "PATCH", { definition: definition(`w${i}`) })
    })

    const inIds: Array<string> = []
    const statement = <A extends object>(f: (sql: SqlClient) => Effect.Effect<ReadonlyArray<A>, unknown>) =>
      inProcess(Effect.gen(function*() {
        const sql = yield* SqlClient
        const db = yield* Database
        return yield* db.asUser(claims, f(sql))
      }))
    const directInsert = await measure(rows, concurrency, async (i) => {
      const [row] = await statement((sql) =>
        sql<{ id: string }>`INSERT INTO public.components (project_id, name, definition)
          VALUES (${projectId}::uuid, ${`d${i}`}::text, ${JSON.stringify(definition(`v${i}`))}::jsonb) RETURNING id, version::float8 AS version`)
      inIds[i] = row!.id
    })
    const directPatch = await measure(rows, concurrency, async (i) => {
      await statement((sql) =>
        sql`UPDATE public.components SET definition = ${JSON.stringify(definition(`w${i}`))}::jsonb
          WHERE id = ${inIds[i]!} AND version = ${"1"} RETURNING id, version::float8 AS version`)
    })

    const perSecond = (m: { wallMs: number }) => rows / (m.wallMs / 1000)
    const line = (name: string, http: Awaited<ReturnType<typeof measure>>, direct: Awaited<ReturnType<typeof measure>>) => [
      name,
      fmt(perSecond(http), 0), fmt(http.p50), fmt(http.p99),
      fmt(perSecond(direct), 0), fmt(direct.p50), fmt(direct.p99),
      fmt(perSecond(http) / perSecond(direct))
    ]
    printTable(
      `/rest/v1 single-row writes, ${rows} rows, ${concurrency} concurrent clients, ${process.env["DATABASE_URL"] === undefined ? "embedded PGlite" : "PostgreSQL"}`,
      ["write", "HTTP rows/s", "HTTP p50 ms", "HTTP p99 ms", "in-process rows/s", "in-proc p50 ms", "in-proc p99 ms", "ratio"],
      [line("insert", httpInsert, directInsert), line("patch (version-guarded)", httpPatch, directPatch)]
    )
  } finally {
    await service.close()
  }
}
