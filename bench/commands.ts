/**
 * `npm run bench -- commands [--seconds S] [--rounds R] [--writers 1,16] [--backend postgres|embedded|both] [--pages P]`
 *
 * Single-command transactions through `ProjectCommands` (one page upsert per `upsert` call, each its own
 * transaction), on real PostgreSQL (BENCH_DATABASE_URL, default the local test server; a fresh database is
 * created and dropped) and on the embedded PGlite backend. W writer fibers run closed loops; each writer
 * cycles over P pages of its own (the first pass inserts them, later passes update them), spread over 50
 * projects. Latency is the call's wall time (p50 / p99). The commands and the baseline alternate in R rounds
 * of S seconds each, so that a machine whose load drifts treats both alike.
 *
 * Raw baseline, in the same process, on the same pool, with the same writers: the same two rows per command
 * written with plain SQL, one transaction per command (BEGIN; upsert of the `cogo.project_entities` row,
 * its version bumped under the row lock; INSERT of the `cogo.project_updates` row with that seq; COMMIT):
 * no validation, no role, no notification. Ratio = commands/s / raw commands/s.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer } from "effect"
import { toStored, upsert } from "../src/domain/cqrs/ProjectUpdate.ts"
import { Outbox } from "../src/services/cqrs/Outbox.ts"
import { ProjectCommands } from "../src/services/cqrs/ProjectCommands.ts"
import { fmt, printTable, summarize } from "./_table.ts"
import { perBackend, platform } from "./_backends.ts"

interface Options {
  readonly seconds: number
  readonly rounds: number
  readonly writers: ReadonlyArray<number>
  readonly pages: number
  readonly backends: ReadonlyArray<"postgres" | "embedded">
}

const parseOptions = (args: ReadonlyArray<string>): Options => {
  const value = (name: string) => {
    const index = args.indexOf(`--${name}`)
    return index < 0 ? undefined : args[index + 1]
  }
  const positive = (raw: string, name: string) => {
    const parsed = Number(raw)
    if (!Number.isInteger(parsed) || parsed <= 0) throw new Error(`--${name} takes positive integers`)
    return parsed
  }
  const backend = value("backend") ?? "both"
  if (!["postgres", "embedded", "both"].includes(backend)) throw new Error("--backend must be postgres, embedded or both")
  return {
    seconds: positive(value("seconds") ?? "2", "seconds"),
    rounds: positive(value("rounds") ?? "3", "rounds"),
    writers: (value("writers") ?? "1,16").split(",").map((w) => positive(w, "writers")),
    pages: positive(value("pages") ?? "64", "pages"),
    backends: backend === "both" ? ["postgres", "embedded"] : [backend as "postgres" | "embedded"]
  }
}

const projects = 50
const owner = "0000c000-0000-4000-8000-000000000001"
const projectId = (p: number) => `0000c001-0000-4000-8000-${p.toString(16).padStart(12, "0")}`
/** A page id per (run, writer, slot): every run writes pages of its own. */
const pageId = (run: number, writer: number, slot: number) =>
  `0000c002-${run.toString(16).padStart(4, "0")}-4000-8000-${(writer * 65_536 + slot).toString(16).padStart(12, "0")}`


const pageState = (run: number, writer: number, slot: number, n: number) => ({
  id: pageId(run, writer, slot),
  projectId: projectId((writer * 7 + slot) % projects),
  name: `page ${writer}/${slot}`,
  route: `/w${writer}/p${slot}`,
  definition: { n, nodes: [{ type: "text", value: `hello ${n}` }] }
})

/** One command of writer `writer` (its n-th, on its page slot `slot`). */
export type Command<R> = (writer: number, slot: number, n: number) => Effect.Effect<unknown, unknown, R>

/**
 * Runs each variant's W closed-loop writers for `seconds`, the variants in turn, `rounds` times; per variant
 * the commands per second over all its rounds and the latency percentiles.
 */
export const alternate = <R>(variants: ReadonlyArray<Command<R>>, writers: number, options: Pick<Options, "seconds" | "rounds" | "pages">) =>
  Effect.gen(function*() {
    const totals = variants.map(() => ({ latencies: new Array<number>(), seconds: 0 }))
    for (let round = 0; round < options.rounds; round++) {
      for (const [index, command] of variants.entries()) {
        const total = totals[index]!
        const start = performance.now()
        const deadline = start + options.seconds * 1000
        yield* Effect.forEach(Array.from({ length: writers }, (_, w) => w), (writer) =>
          Effect.gen(function*() {
            for (let n = round * 1_000_000; performance.now() < deadline; n++) {
              const began = performance.now()
              yield* command(writer, n % options.pages, n)
              total.latencies.push(performance.now() - began)
            }
          }), { concurrency: writers, discard: true })
        total.seconds += (performance.now() - start) / 1000
      }
    }
    return totals.map((total) => ({ perSecond: total.latencies.length / total.seconds, ...summarize(total.latencies) }))
  })

/** Page upserts through `ProjectCommands` (each a transaction of its own). */
export const viaCommands = (run: number) =>
  Effect.map(Effect.service(ProjectCommands), (commands): Command<never> => (writer, slot, n) =>
    commands.upsert("page", pageState(run, writer, slot, n)))

/** The same two rows per command with plain SQL, one transaction each (see the header). */
export const raw = (run: number) =>
  Effect.map(Effect.service(PgClient.PgClient), (sql): Command<never> => (writer, slot, n) => {
    const state = pageState(run, writer, slot, n)
    const stored = toStored(upsert("page", state))
    return sql.withTransaction(Effect.gen(function*() {
      const [entity] = yield* sql<{ version: string }>`
        INSERT INTO cogo.project_entities AS e (entity_type, id, project_id, state, version, deleted, updated_at)
        VALUES ('page', ${state.id}, ${state.projectId}, ${JSON.stringify(state)}::jsonb, 1, false, now())
        ON CONFLICT (entity_type, id) DO UPDATE SET state = excluded.state, version = e.version + 1, updated_at = now()
        RETURNING version`
      yield* sql`
        INSERT INTO cogo.project_updates (aggregate_type, aggregate_id, project_id, seq, update_type, schema_version, payload)
        VALUES ('page', ${state.id}, ${state.projectId}, ${entity!.version}, ${stored.updateType}, ${stored.schemaVersion}, ${JSON.stringify(stored.payload)}::jsonb)`
    }))
  })

/** The 50 projects the pages belong to. */
export const createProjects = Effect.flatMap(Effect.service(ProjectCommands), (commands) =>
  commands.write(Array.from({ length: projects }, (_, p) => ({
    _tag: "upsert" as const, kind: "project" as const, state: { id: projectId(p), name: `bench ${p}`, description: null, ownerId: owner, settings: {} }
  }))))

const benchBackend = (backend: "postgres" | "embedded", env: Record<string, string>, options: Options) =>
  Effect.gen(function*() {
    yield* createProjects
    // Warm-up: prepared statements, JIT; each measurement below writes pages of its own (`run`).
    yield* alternate([yield* raw(0), yield* viaCommands(1)], 4, { ...options, seconds: 1, rounds: 1 })
    const rows: Array<ReadonlyArray<string>> = []
    for (const [index, writers] of options.writers.entries()) {
      const [baseline, measured] = yield* alternate([yield* raw(2 + 2 * index), yield* viaCommands(3 + 2 * index)], writers, options)
      rows.push([
        backend, fmt(writers, 0), fmt(measured!.perSecond, 0), fmt(measured!.p50), fmt(measured!.p99),
        fmt(baseline!.perSecond, 0), fmt(baseline!.p99), fmt(measured!.perSecond / baseline!.perSecond)
      ])
    }
    return rows
  }).pipe(Effect.provide(ProjectCommands.layer.pipe(Layer.provideMerge(Outbox.layer))), Effect.scoped, Effect.provide(platform(env)))

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const options = parseOptions(args)
  const rows = await perBackend("commands", options.backends, (backend, env) => benchBackend(backend, env, options))
  printTable(
    `project commands: single-command transactions, closed loops, ${options.rounds} x ${options.seconds} s per variant (alternating) and row`,
    ["backend", "writers", "commands/s", "p50 ms", "p99 ms", "raw baseline commands/s", "raw p99 ms", "ratio"],
    rows
  )
}
