import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"

const userA = "00000000-0000-4000-8000-00000000000a"
const userB = "00000000-0000-4000-8000-00000000000b"
const projectA = "10000000-0000-4000-8000-00000000000a"
const projectB = "10000000-0000-4000-8000-00000000000b"

/** SQLSTATE of a failed statement (42501 = insufficient_privilege), or "ok". */
const sqlState = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Effect.as("ok"),
    Effect.catch((error) => {
      const text = JSON.stringify(error, Object.getOwnPropertyNames(error)) + String((error as { cause?: unknown }).cause)
      return Effect.succeed(/42501|permission denied|row-level security/i.test(text) ? "42501" : `other: ${text.slice(0, 300)}`)
    })
  )

layer(TestDatabaseLive(), { excludeTestServices: true })("RLS and CQRS grants", (it) => {
  // The projector is the only service role allowed to write public.*: it seeds both users' projects.
  const seed = Effect.gen(function*() {
    const db = yield* Database
    const sql = yield* SqlClient
    yield* db.withRole(DbRole.projector, Effect.gen(function*() {
      yield* sql`INSERT INTO public.projects (id, name, owner_id) VALUES (${projectA}, 'A', ${userA}), (${projectB}, 'B', ${userB})
        ON CONFLICT (id) DO NOTHING`
      yield* sql`INSERT INTO public.pages (project_id, name, definition)
        SELECT p, n, '{"type":"Column"}'::jsonb FROM (VALUES (${projectA}::uuid, 'a-home'), (${projectB}::uuid, 'b-home')) v(p, n)
        WHERE NOT EXISTS (SELECT 1 FROM public.pages)`
    }))
  })

  it.effect("a user reads only the projects, members and pages of projects they belong to", () =>
    Effect.gen(function*() {
      yield* seed
      const db = yield* Database
      const sql = yield* SqlClient
      const asA = <A, E, R>(e: Effect.Effect<A, E, R>) => db.asUser({ sub: userA }, e)
      const projects = yield* asA(sql<{ id: string }>`SELECT id FROM public.projects`)
      assert.deepStrictEqual(projects.map((p) => p.id), [projectA])
      const pages = yield* asA(sql<{ name: string }>`SELECT name FROM public.pages`)
      assert.deepStrictEqual(pages.map((p) => p.name), ["a-home"])
      const members = yield* asA(sql<{ user_id: string; role: string }>`SELECT user_id, role FROM public.project_members`)
      assert.deepStrictEqual(members, [{ user_id: userA, role: "owner" }])
      const asB = yield* db.asUser({ sub: userB }, sql<{ name: string }>`SELECT name FROM public.pages`)
      assert.deepStrictEqual(asB.map((p) => p.name), ["b-home"])
    }))

  it.effect("a user cannot write another user's project rows", () =>
    Effect.gen(function*() {
      yield* seed
      const db = yield* Database
      const sql = yield* SqlClient
      const insert = yield* sqlState(db.asUser({ sub: userA }, sql`INSERT INTO public.pages (project_id, name) VALUES (${projectB}, 'intruder')`))
      assert.strictEqual(insert, "42501")
      const updated = yield* db.asUser({ sub: userA }, sql`UPDATE public.pages SET name = 'hijacked' WHERE project_id = ${projectB} RETURNING id`)
      assert.strictEqual(updated.length, 0)
      const deleted = yield* db.asUser({ sub: userA }, sql`DELETE FROM public.projects WHERE id = ${projectB} RETURNING id`)
      assert.strictEqual(deleted.length, 0)
      const stolen = yield* sqlState(db.asUser({ sub: userA }, sql`INSERT INTO public.project_members (project_id, user_id, role) VALUES (${projectB}, ${userA}, 'owner')`))
      assert.strictEqual(stolen, "42501")
      const bPages = yield* db.withRole(DbRole.agent, sql<{ name: string }>`SELECT name FROM public.pages WHERE project_id = ${projectB}`)
      assert.deepStrictEqual(bPages.map((p) => p.name), ["b-home"])
    }))

  it.effect("a user's own edit bumps the row version and records the author", () =>
    Effect.gen(function*() {
      yield* seed
      const db = yield* Database
      const sql = yield* SqlClient
      const before = yield* db.withRole(DbRole.agent, sql<{ version: string; updated_by: string | null }>`SELECT version, updated_by FROM public.pages WHERE project_id = ${projectA}`)
      assert.strictEqual(before[0]!.updated_by, null)
      const after = yield* db.asUser({ sub: userA }, sql<{ version: string; updated_by: string }>`
        UPDATE public.pages SET name = 'a-home-2' WHERE project_id = ${projectA} RETURNING version, updated_by`)
      assert.strictEqual(Number(after[0]!.version), Number(before[0]!.version) + 1)
      assert.strictEqual(after[0]!.updated_by, userA)
    }))

  it.effect("the agents' role may write cogo.* but is refused on every public table", () =>
    Effect.gen(function*() {
      yield* seed
      const db = yield* Database
      const sql = yield* SqlClient
      const refused = yield* Effect.forEach([
        sql`INSERT INTO public.projects (name, owner_id) VALUES ('x', ${userA})`,
        sql`INSERT INTO public.pages (project_id, name) VALUES (${projectA}, 'x')`,
        sql`UPDATE public.pages SET name = 'x'`,
        sql`DELETE FROM public.components`,
        sql`INSERT INTO public.themes (project_id, name) VALUES (${projectA}, 'x')`
      ], (statement) => sqlState(db.withRole(DbRole.agent, statement)))
      assert.deepStrictEqual(refused, ["42501", "42501", "42501", "42501", "42501"])
      const allowed = yield* sqlState(db.withRole(DbRole.agent, sql`INSERT INTO cogo.caches (namespace, key, value) VALUES ('t', 'k', '1')`))
      assert.strictEqual(allowed, "ok")
    }))

  it.effect("end users cannot touch cogo at all", () =>
    Effect.gen(function*() {
      const db = yield* Database
      const sql = yield* SqlClient
      const read = yield* sqlState(db.asUser({ sub: userA }, sql`SELECT * FROM cogo.jobs`))
      assert.strictEqual(read, "42501")
      const write = yield* sqlState(db.asUser({ sub: userA }, sql`INSERT INTO cogo.bus_events (topic, kind) VALUES ('job', 'x')`))
      assert.strictEqual(write, "42501")
    }))
})
