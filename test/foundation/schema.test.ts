import { assert, describe, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as fs from "node:fs"
import * as path from "node:path"
import { splitSqlStatements } from "../../src/domain/platform/SqlScript.ts"
import { Migrations, migrationsDir } from "../../src/services/platform/Migrations.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"

const publicTables = ["projects", "project_members", "pages", "project_pages", "components", "action_flows", "symbols", "themes", "assets"]
const cogoTables = ["jobs", "job_events", "bus_events", "project_updates", "vectors", "knowledge", "evidence", "caches"]

describe("SQL script splitting", () => {
  it("splits on semicolons outside quotes, comments and dollar bodies", () => {
    const statements = splitSqlStatements(`
      -- a comment; with a semicolon
      CREATE TABLE a (x text DEFAULT 'it''s; fine');
      /* block; comment */ DO $do$ BEGIN PERFORM 1; END $do$;
      SELECT "odd;name" FROM a;
    `)
    assert.strictEqual(statements.length, 3)
    assert.match(statements[1]!, /^\/\* block; comment \*\/ DO \$do\$ BEGIN PERFORM 1; END \$do\$$/)
    assert.strictEqual(statements[2], `SELECT "odd;name" FROM a`)
  })
})

layer(TestDatabaseLive(), { excludeTestServices: true })("migrations", (it) => {
  it.effect("apply on start, then a second run applies nothing", () =>
    Effect.gen(function*() {
      const state = yield* Migrations
      const files = fs.readdirSync(migrationsDir).filter((f) => f.endsWith(".sql"))
      assert.strictEqual(state.count, files.length)
      const again = yield* Effect.service(Migrations).pipe(Effect.provide(Migrations.layer({ run: true })))
      assert.deepStrictEqual(again.applied, [])
      assert.strictEqual(again.count, files.length)
    }))

  it.effect("every migration file is itself re-runnable (Supabase may already have parts of it)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      for (const file of fs.readdirSync(migrationsDir).filter((f) => f.endsWith(".sql")).sort()) {
        const statements = splitSqlStatements(fs.readFileSync(path.join(migrationsDir, file), "utf8"))
        for (const statement of statements) yield* sql.unsafe(statement)
      }
      const rows = yield* sql<{ n: number }>`SELECT count(*)::int AS n FROM public.projects`
      assert.strictEqual(rows[0]!.n, 0)
    }))

  it.effect("both schemas have their tables; RLS is on for every public table", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const rows = yield* sql<{ schema: string; name: string; rls: boolean }>`
        SELECT n.nspname AS schema, c.relname AS name, c.relrowsecurity AS rls
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname IN ('public', 'cogo')`
      const byName = new Map(rows.map((r) => [`${r.schema}.${r.name}`, r]))
      for (const t of publicTables) assert.isTrue(byName.get(`public.${t}`)?.rls, `RLS on public.${t}`)
      for (const t of cogoTables) assert.isTrue(byName.has(`cogo.${t}`), `cogo.${t} exists`)
    }))

  it.effect("anon and authenticated have no privilege on any cogo table", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const rows = yield* sql<{ role: string; name: string }>`
        SELECT r.rolname AS role, c.relname AS name
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN (VALUES ('anon'), ('authenticated')) AS r(rolname)
        WHERE n.nspname = 'cogo' AND c.relkind = 'r'
          AND (has_table_privilege(r.rolname, c.oid, 'SELECT') OR has_table_privilege(r.rolname, c.oid, 'INSERT')
            OR has_table_privilege(r.rolname, c.oid, 'UPDATE') OR has_table_privilege(r.rolname, c.oid, 'DELETE'))`
      assert.deepStrictEqual(rows, [])
      const schemaUsage = yield* sql<{ usage: boolean }>`SELECT has_schema_privilege('authenticated', 'cogo', 'USAGE') AS usage`
      assert.isFalse(schemaUsage[0]!.usage)
    }))

  it.effect("pgvector: nearest neighbour by cosine distance over the HNSW index", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const unit = (i: number) => Array.from({ length: 384 }, (_, k) => (k === i ? 1 : k === i + 1 ? 0.5 : 0))
      for (let i = 0; i < 20; i++) {
        yield* sql`INSERT INTO cogo.vectors (source_type, source_id, content, content_hash, embedding, model)
          VALUES ('doc', ${`d${i}`}, ${`content ${i}`}, ${`h${i}`}, ${JSON.stringify(unit(i))}::vector, 'test')`
      }
      const query = JSON.stringify(Array.from({ length: 384 }, (_, k) => (k === 7 ? 0.9 : k === 8 ? 0.6 : 0)))
      const rows = yield* sql<{ sourceId: string; distance: number }>`
        SELECT source_id AS "sourceId", embedding <=> ${query}::vector AS distance
        FROM cogo.vectors ORDER BY embedding <=> ${query}::vector LIMIT 3`
      assert.strictEqual(rows[0]!.sourceId, "d7")
      assert.isBelow(rows[0]!.distance, 0.01)
      assert.isTrue(rows[0]!.distance <= rows[1]!.distance && rows[1]!.distance <= rows[2]!.distance)
    }))
})
