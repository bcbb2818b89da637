/**
 * The embedded backend's template data directory (src/services/platform/embedded/template.ts): a fresh data
 * directory is a copy of a migrated template instead of initdb + migrations. Real PGlite, real files; each
 * test uses its own cache directory and a copy of migrations/, never the service's cache.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { EmbeddedPostgres } from "../../src/services/platform/EmbeddedPostgres.ts"
import { ensureTemplate, seedDataDir, templatePath, type TemplateOptions } from "../../src/services/platform/embedded/template.ts"
import { Migrations, migrationsDir } from "../../src/services/platform/Migrations.ts"
import { hasRealPostgres } from "../support/TestDatabase.ts"

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cogo-template-"))
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))

const freshOptions = (name: string): TemplateOptions => {
  const migrations = path.join(scratch, name, "migrations")
  fs.cpSync(migrationsDir, migrations, { recursive: true })
  return { cacheDir: path.join(scratch, name, "cache"), migrationsDir: migrations }
}
const sqlFiles = (dir: string) => fs.readdirSync(dir).filter((f) => f.endsWith(".sql")).length

/** Opens `dataDir` as the service does (lock, seed, worker, sql-pg) and runs `body` against it. */
const withDatabase = <A>(dataDir: string, templates: TemplateOptions, body: Effect.Effect<A, unknown, PgClient.PgClient | Migrations>) =>
  Effect.runPromise(Effect.scoped(body.pipe(
    Effect.provide(Migrations.layer({ run: true }).pipe(Layer.provideMerge(
      Layer.unwrap(Effect.map(Effect.service(EmbeddedPostgres), (embedded) =>
        PgClient.layer({ stream: embedded.connect, ssl: false, prepare: false, username: "postgres", database: "postgres", maxConnections: 2 })
      )).pipe(Layer.provide(EmbeddedPostgres.layer(dataDir, { templates })))
    )))
  )))

const state = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const migrations = yield* Migrations
  yield* sql`INSERT INTO cogo.caches (namespace, key, value) VALUES ('t', 'k', '{"v": 1}'::jsonb)`
  const rows = yield* sql<{ value: string }>`SELECT value::text AS value FROM cogo.caches WHERE namespace = 't'`
  const tables = yield* sql<{ name: string }>`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'cogo'`
  return { applied: migrations.applied, count: migrations.count, rows: rows.map((r) => r.value), tables: tables.map((t) => t.name) }
})

// The embedded backend's own machinery: it runs in the embedded run of the suite, not again in the PostgreSQL one.
describe.skipIf(hasRealPostgres)("embedded template data directory", () => {
  it("concurrent first starts build one template; fresh data dirs (and :memory:) made from it have every migration and work", async () => {
    const options = freshOptions("concurrent")
    const [a, b] = [path.join(scratch, "concurrent", "a"), path.join(scratch, "concurrent", "b")]
    // An interrupted earlier copy (no PG_VERSION yet) counts as fresh and is copied over.
    fs.mkdirSync(path.join(b, "global"), { recursive: true })
    const seeded = await Effect.runPromise(Effect.all([seedDataDir(a, options), seedDataDir(b, options)], { concurrency: 2 }))
    expect(seeded).toEqual([true, true])
    expect(fs.readdirSync(options.cacheDir)).toEqual([path.basename(templatePath(options))])
    expect(fs.existsSync(path.join(templatePath(options), "PG_VERSION"))).toBe(true)

    for (const dataDir of [a, b]) {
      const result = await withDatabase(dataDir, options, state)
      expect(result.applied).toEqual([]) // the migrator finds nothing to do
      expect(result.count).toBe(sqlFiles(options.migrationsDir))
      expect(result.rows).toEqual(['{"v": 1}'])
      expect(result.tables).toContain("project_updates")
    }
    // An in-memory database starts from the template's tarball, as migrated and as usable.
    const memory = await withDatabase(":memory:", options, state)
    expect(memory.applied).toEqual([])
    expect(memory.count).toBe(sqlFiles(options.migrationsDir))
    expect(memory.rows).toEqual(['{"v": 1}'])
    // The data written to one copy is in neither the template nor the other copy.
    const again = path.join(scratch, "concurrent", "c")
    const third = await withDatabase(again, options, state)
    expect(third.rows).toEqual(['{"v": 1}'])
    // An initialized data dir is left alone (its rows survive a restart).
    expect(await Effect.runPromise(seedDataDir(a, options))).toBe(false)
    const reopened = await withDatabase(a, options, Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      return yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM cogo.caches`
    }))
    expect(reopened[0]!.n).toBe(1)
  }, 300_000)

  it("a template made for other migrations is not used, and a half-made one is ignored", async () => {
    const options = freshOptions("stale")
    const old = await Effect.runPromise(ensureTemplate(options))
    // Unused for an hour: pruned by the next build (one in use is touched at every use and kept).
    const anHourAgo = new Date(Date.now() - 3_600_000)
    fs.utimesSync(old, anHourAgo, anHourAgo)
    // A build that died leaves a temporary directory; it must never be taken for the template.
    fs.writeFileSync(path.join(options.migrationsDir, "9999_extra.sql"), "CREATE TABLE IF NOT EXISTS cogo.template_extra (id int);\n")
    const current = templatePath(options)
    expect(current).not.toBe(old)
    fs.mkdirSync(`${current}.tmp-crashed`, { recursive: true })
    fs.writeFileSync(path.join(`${current}.tmp-crashed`, "PG_VERSION"), "17\n")

    const dataDir = path.join(scratch, "stale", "data")
    const result = await withDatabase(dataDir, options, state)
    expect(result.applied).toEqual([])
    expect(result.count).toBe(sqlFiles(options.migrationsDir))
    expect(result.tables).toContain("template_extra")
    // The stale template is pruned; the crashed build is young, so it is left for its owner.
    expect(fs.existsSync(old)).toBe(false)
    expect(fs.existsSync(`${current}.tmp-crashed`)).toBe(true)
    expect(fs.existsSync(path.join(current, "PG_VERSION"))).toBe(true)
  }, 300_000)

  it("without a usable cache (here a file where the directory should be) the database is made with initdb", async () => {
    const options = freshOptions("nocache")
    fs.mkdirSync(path.dirname(options.cacheDir), { recursive: true })
    fs.writeFileSync(options.cacheDir, "not a directory")
    const result = await withDatabase(path.join(scratch, "nocache", "data"), options, state)
    expect(result.applied.length).toBe(sqlFiles(options.migrationsDir)) // the service's migrator did the work
    expect(result.rows).toEqual(['{"v": 1}'])
  }, 300_000)
})
