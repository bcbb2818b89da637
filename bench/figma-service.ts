/*
 * `npm run bench -- figma-service [nodes]`: the figma endpoints over real HTTP against the whole service
 * (MainLive, embedded PGlite in memory unless DATABASE_URL is set), with a generated document of `nodes`
 * nodes (default 3,000):
 * - figma-compat, sequential and 4 concurrent clients, against the in-process `convertFigma` baseline;
 * - figma-plugin import end to end: signed POST -> job -> project commands -> projection -> public rows.
 */
import { ConfigProvider, Effect, Layer, Result } from "effect"
import { HttpServer } from "effect/http"
import { SqlClient } from "effect/sql/SqlClient"
import type { JobId } from "../src/domain/jobs/Job.ts"
import { figmaPluginSignature } from "../src/edge/figma/signature.ts"
import { convertFigma } from "../src/services/figma/convert/index.ts"
import { MainLive } from "../src/layers/Main.ts"
import { JobQueue } from "../src/services/jobs/JobQueue.ts"
import { countNodes, generateFigmaFile } from "../test/fixtures/figma/generate.ts"
import { fmt, printTable, summarize } from "./_table.ts"

const secret = "bench-only-figma-plugin-secret"

const timed = async (f: () => Promise<void>): Promise<number> => {
  const start = performance.now()
  await f()
  return performance.now() - start
}

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const target = Number(args[0] ?? "3000")
  const document = generateFigmaFile(target)
  const nodes = countNodes(document)
  const body = JSON.stringify(document)
  const env: Record<string, string> = {
    HOST: "127.0.0.1", PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "Error", FIGMA_PLUGIN_SECRET: secret,
    JOBS_POLL_INTERVAL: "100 millis", PROJECTION_POLL_MS: "100",
    ...(process.env["DATABASE_URL"] === undefined ? { COGO_DATA_DIR: ":memory:" } : { DATABASE_URL: process.env["DATABASE_URL"] })
  }
  const program = Effect.gen(function*() {
    const server = yield* HttpServer.HttpServer
    const jobs = yield* JobQueue
    const sql = yield* SqlClient
    if (server.address._tag === "UnixPathAddress") throw new Error("expected a TCP address")
    const root = `http://127.0.0.1:${server.address.port}`
    const compat = async () => {
      const response = await fetch(`${root}/functions/v1/figma-compat`, { method: "POST", body, headers: { "content-type": "application/json" } })
      if (response.status !== 200) throw new Error(`figma-compat answered ${response.status}`)
      await response.arrayBuffer()
    }

    const rows: Array<Array<string>> = []
    const baseline: Array<number> = []
    for (let i = 0; i < 21; i++) {
      const ms = yield* Effect.promise(() => timed(async () => {
        const converted = convertFigma(JSON.parse(body), "figma-to-cogo")
        if (Result.isFailure(converted)) throw new Error("baseline failed")
        JSON.stringify(converted.success)
      }))
      if (i > 0) baseline.push(ms)
    }
    const base = summarize(baseline)
    rows.push(["in-process parse + convert + stringify (baseline)", "1", fmt(base.p50), fmt(base.p99), fmt(1000 / base.p50), fmt(nodes / base.p50 * 1000, 0), "1.00"])

    yield* Effect.promise(compat)
    const sequential: Array<number> = []
    for (let i = 0; i < 20; i++) sequential.push(yield* Effect.promise(() => timed(compat)))
    const seq = summarize(sequential)
    rows.push(["figma-compat over HTTP", "1", fmt(seq.p50), fmt(seq.p99), fmt(1000 / seq.p50), fmt(nodes / seq.p50 * 1000, 0), fmt(seq.p50 / base.p50)])

    const concurrent: Array<number> = []
    const wall = yield* Effect.promise(() => timed(async () => {
      await Promise.all(Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 10; i++) concurrent.push(await timed(compat))
      }))
    }))
    const con = summarize(concurrent)
    rows.push(["figma-compat over HTTP", "4", fmt(con.p50), fmt(con.p99), fmt(40 / wall * 1000), fmt(40 * nodes / wall * 1000, 0), fmt(con.p50 / base.p50)])

    const imports: Array<number> = []
    let entities = 0
    for (let i = 0; i < 5; i++) {
      const projectId = crypto.randomUUID()
      const payload = JSON.stringify({ projectId, userId: crypto.randomUUID(), fileKey: "BENCH", document })
      const ms = yield* Effect.promise(() => timed(async () => {
        const timestamp = String(Math.floor(Date.now() / 1000))
        const response = await fetch(`${root}/functions/v1/figma-plugin`, {
          method: "POST",
          body: payload,
          headers: { "content-type": "application/json", "x-cogo-timestamp": timestamp, "x-cogo-signature": `v1=${figmaPluginSignature(secret, timestamp, payload)}` }
        })
        if (response.status !== 202) throw new Error(`figma-plugin answered ${response.status}: ${await response.text()}`)
        const { jobId } = await response.json() as { jobId: JobId }
        const job = await Effect.runPromise(jobs.awaitTerminal(jobId))
        if (job.state !== "succeeded") throw new Error(`import job ${job.state}: ${JSON.stringify(job.lastError)}`)
        // Projected: no pending outbox row of the project is left.
        for (;;) {
          const [pending] = await Effect.runPromise(sql<{ n: string }>`
            SELECT count(*) AS n FROM cogo.project_updates WHERE project_id = ${projectId} AND status = 'pending'`)
          if (Number(pending?.n ?? 1) === 0) break
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
      }))
      const [written] = yield* sql<{ n: string }>`SELECT count(*) AS n FROM cogo.project_updates WHERE project_id = ${projectId}`
      entities = Number(written?.n ?? 0)
      imports.push(ms)
    }
    const imp = summarize(imports)
    rows.push([`figma-plugin import to public.* (${entities} entities)`, "1", fmt(imp.p50), fmt(imp.p99), fmt(1000 / imp.p50), fmt(nodes / imp.p50 * 1000, 0), fmt(imp.p50 / base.p50)])

    printTable(`figma service, ${nodes}-node document (${(body.length / 2 ** 20).toFixed(2)} MiB), ${process.env["DATABASE_URL"] === undefined ? "embedded PGlite" : "PostgreSQL"}`,
      ["operation", "clients", "p50 ms", "p99 ms", "docs/s", "nodes/s", "x baseline p50"], rows)
  })
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(MainLive.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env)))))
    yield* Effect.provide(program, context)
  })))
}
