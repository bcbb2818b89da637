/**
 * Start-up of the embedded backend (issue 16, goal 5): `npm start` to "cogo ready" on a fresh data directory
 * and on a warm restart, and where a fresh start's database time goes, with the template data directory
 * (src/services/platform/embedded/template.ts) against the old way (initdb + every migration), in one run.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { EmbeddedPostgres } from "../src/services/platform/EmbeddedPostgres.ts"
import { defaultTemplateOptions, ensureTemplate, type TemplateOptions } from "../src/services/platform/embedded/template.ts"
import { Migrations } from "../src/services/platform/Migrations.ts"
import { processMillis } from "./_cpu.ts"
import { fmt, printTable } from "./_table.ts"

const root = path.resolve(import.meta.dirname, "..")

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Opens `dataDir` as the service does (seed or initdb, worker, pool, migrator) and closes it; returns ms. */
const openDatabase = (dataDir: string, templates: TemplateOptions | false) => {
  const started = performance.now()
  return Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    yield* Migrations
    return performance.now() - started
  }).pipe(Effect.provide(Migrations.layer({ run: true }).pipe(Layer.provide(
    Layer.unwrap(Effect.map(Effect.service(EmbeddedPostgres), (embedded) =>
      PgClient.layer({ stream: embedded.connect, ssl: false, prepare: false, username: "postgres", database: "postgres", maxConnections: 4 })
    )).pipe(Layer.provide(EmbeddedPostgres.layer(dataDir, { templates })))
  ))))))
}

/**
 * `npm start` (scripts/start.ts) until it logs "cogo ready"; then SIGTERM and wait for the exit. CPU time
 * is reported beside wall time because it barely moves with the machine's load.
 */
interface Start {
  readonly wallMs: number
  readonly startupMs: number
  readonly cpuMs: number
}

const npmStart = async (dataDir: string) => {
  const started = performance.now()
  const child = spawn(process.execPath, ["scripts/start.ts"], {
    cwd: root,
    env: { PATH: process.env["PATH"] ?? "", HOME: os.tmpdir(), HOST: "127.0.0.1", PORT: "0", METRICS_PORT: "0", LOG_FORMAT: "json", COGO_DATA_DIR: dataDir },
    stdio: ["ignore", "pipe", "pipe"]
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  let output = ""
  const ready = await new Promise<Start>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const match = /"cogo ready".*?"startupMs":(\d+)/.exec(output)
      if (match !== null) resolve({ wallMs: performance.now() - started, startupMs: Number(match[1]), cpuMs: child.pid === undefined ? Number.NaN : processMillis(child.pid) })
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    void exited.then(() => reject(new Error(`npm start exited before ready:\n${output}`)))
  })
  child.kill("SIGTERM")
  await exited
  return ready
}

export const runStartup = async (rounds = 3): Promise<void> => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cogo-bench-startup-"))
  try {
    // Database part, in process: the old way, the one-off template build, a fresh copy, a warm reopen.
    const templates: TemplateOptions = { ...defaultTemplateOptions(), cacheDir: path.join(scratch, "cache") }
    const initdb: Array<number> = []
    const build: Array<number> = []
    const seeded: Array<number> = []
    const warm: Array<number> = []
    const memoryBefore: Array<number> = []
    const memoryAfter: Array<number> = []
    for (let i = 0; i < rounds; i++) {
      initdb.push(await openDatabase(path.join(scratch, `initdb-${i}`), false))
      fs.rmSync(templates.cacheDir, { recursive: true, force: true })
      const t = performance.now()
      await Effect.runPromise(ensureTemplate(templates))
      build.push(performance.now() - t)
      seeded.push(await openDatabase(path.join(scratch, `seeded-${i}`), templates))
      warm.push(await openDatabase(path.join(scratch, `seeded-${i}`), templates))
      memoryBefore.push(await openDatabase(":memory:", false))
      memoryAfter.push(await openDatabase(":memory:", templates))
    }
    printTable(`embedded database open, median of ${rounds} (load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")})`, [
      "database", "ms", "ratio to before"
    ], [
      ["before: initdb + every migration", fmt(median(initdb), 0), "1.00"],
      ["template build (once per install / migration change)", fmt(median(build), 0), fmt(median(build) / median(initdb))],
      ["after: copy of the template, migrator finds nothing", fmt(median(seeded), 0), fmt(median(seeded) / median(initdb))],
      ["warm reopen (existing data directory)", fmt(median(warm), 0), fmt(median(warm) / median(initdb))],
      [":memory: before: initdb + every migration", fmt(median(memoryBefore), 0), "1.00"],
      [":memory: after: the template's tarball", fmt(median(memoryAfter), 0), fmt(median(memoryAfter) / median(memoryBefore))]
    ])

    // The goal, as a user meets it: `npm start` (bundle already built, template in the real cache).
    await Effect.runPromise(ensureTemplate(defaultTemplateOptions()))
    await npmStart(path.join(scratch, "npm-warmup")) // builds dist/ when the sources changed
    const fresh: Array<Start> = []
    const restart: Array<Start> = []
    for (let i = 0; i < rounds; i++) {
      const dataDir = path.join(scratch, `npm-${i}`)
      fresh.push(await npmStart(dataDir))
      restart.push(await npmStart(dataDir))
    }
    const row = (name: string, xs: ReadonlyArray<Start>, goal: number) => {
      const startup = median(xs.map((x) => x.startupMs))
      return [
        name, fmt(startup, 0), fmt(Math.max(...xs.map((x) => x.startupMs)), 0), fmt(median(xs.map((x) => x.wallMs)), 0),
        fmt(median(xs.map((x) => x.cpuMs)), 0), `< ${fmt(goal, 0)}`, startup < goal ? "met" : "NOT met"
      ]
    }
    printTable(`npm start to "cogo ready", ${rounds} rounds (load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")})`, [
      "start", "startupMs p50", "startupMs max", "wall ms p50", "CPU ms p50", "goal ms", "goal"
    ], [
      row("first start, fresh data directory", fresh, 5_000),
      row("warm restart", restart, 2_000)
    ])
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true })
  }
}
