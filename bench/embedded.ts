/**
 * The embedded backend: PGlite in a worker thread behind the wire-protocol bridge, against PGlite called
 * in-process (the baseline), in the same run. Shows (1) what the bridge costs per query and (2) what it
 * saves: the service's event loop keeps running while a long query executes. Then start-up (bench/_startup.ts).
 * `npm run bench -- embedded [bridge|startup [rounds]]` runs one part; no argument runs both.
 */
import { PGlite } from "@electric-sql/pglite"
import { vector } from "@electric-sql/pglite-pgvector"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer } from "effect"
import { EmbeddedPostgres } from "../src/services/platform/EmbeddedPostgres.ts"
import { runStartup } from "./_startup.ts"
import { fmt, printTable, summarize } from "./_table.ts"

const simpleQueries = 2_000
const heavyQuery = "SELECT sum(g) AS s FROM generate_series(1, 3000000) g"

const timeEach = async (count: number, run: () => Promise<unknown>) => {
  const samples: Array<number> = []
  const started = performance.now()
  for (let i = 0; i < count; i++) {
    const t = performance.now()
    await run()
    samples.push(performance.now() - t)
  }
  return { ...summarize(samples), perSecond: count / ((performance.now() - started) / 1000) }
}

/** Runs `heavy` while a 1 ms interval timer records the longest gap between its ticks (event-loop stall). */
const stallDuring = async (heavy: () => Promise<unknown>) => {
  let last = performance.now()
  let maxGap = 0
  const timer = setInterval(() => {
    const now = performance.now()
    maxGap = Math.max(maxGap, now - last)
    last = now
  }, 1)
  const t = performance.now()
  await heavy()
  const elapsed = performance.now() - t
  // Let a tick that was blocked by a synchronous query fire and record its gap.
  await new Promise((resolve) => setTimeout(resolve, 20))
  clearInterval(timer)
  return { elapsed, maxStall: maxGap }
}

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  if (args[0] !== "startup") await runBridge()
  if (args[0] !== "bridge") await runStartup(args[1] === undefined ? undefined : Number(args[1]))
}

const runBridge = async (): Promise<void> => {
  const direct = await PGlite.create("memory://", { extensions: { vector } })
  const directSimple = await timeEach(simpleQueries, () => direct.query("SELECT 1 AS x"))
  const directHeavy = await stallDuring(() => direct.query(heavyQuery))
  await direct.close()

  const bridged = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    const simple = yield* Effect.promise(() => timeEach(simpleQueries, () => Effect.runPromise(sql`SELECT 1 AS x`)))
    const heavy = yield* Effect.promise(() => stallDuring(() => Effect.runPromise(sql.unsafe(heavyQuery))))
    return { simple, heavy }
  }).pipe(Effect.provide(Layer.unwrap(Effect.map(Effect.service(EmbeddedPostgres), (embedded) =>
    PgClient.layer({ stream: embedded.connect, ssl: false, prepare: false, username: "postgres", database: "postgres", maxConnections: 4 })
  )).pipe(Layer.provide(EmbeddedPostgres.layer(":memory:")))))))

  printTable("embedded backend: worker-thread bridge vs in-process PGlite", [
    "path", "SELECT 1 p50 ms", "SELECT 1 p99 ms", "queries/s", "3M-row sum ms", "max event-loop stall ms"
  ], [
    ["in-process PGlite (baseline)", fmt(directSimple.p50, 3), fmt(directSimple.p99, 3), fmt(directSimple.perSecond, 0), fmt(directHeavy.elapsed, 0), fmt(directHeavy.maxStall, 1)],
    ["worker bridge + sql-pg (cogo)", fmt(bridged.simple.p50, 3), fmt(bridged.simple.p99, 3), fmt(bridged.simple.perSecond, 0), fmt(bridged.heavy.elapsed, 0), fmt(bridged.heavy.maxStall, 1)],
    ["ratio cogo / baseline", fmt(bridged.simple.p50 / directSimple.p50), fmt(bridged.simple.p99 / directSimple.p99), fmt(bridged.simple.perSecond / directSimple.perSecond), fmt(bridged.heavy.elapsed / directHeavy.elapsed), fmt(bridged.heavy.maxStall / directHeavy.maxStall, 3)]
  ])
}
