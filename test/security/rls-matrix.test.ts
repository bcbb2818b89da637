/**
 * Every RLS policy and grant on `public.*`, as a table: actor x table x operation -> allowed or refused. The
 * expectations are written from the requirement (viewers read, editors write content, owners manage members
 * and delete the project, non-members see nothing; agents and the service key only read; anon nothing; the
 * projector everything), not derived from the policies. Every attempt runs in its own transaction that is
 * rolled back, so the cells do not influence each other.
 */
import { assert, layer } from "@effect/vitest"
import { Data, Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"

const owner = "00000000-0000-4000-8000-0000000000a1"
const editor = "00000000-0000-4000-8000-0000000000a2"
const viewer = "00000000-0000-4000-8000-0000000000a3"
const stranger = "00000000-0000-4000-8000-0000000000a4"
const project = "20000000-0000-4000-8000-000000000001"
const page = "20000000-0000-4000-8000-000000000002"

type Actor = "owner" | "editor" | "viewer" | "stranger" | "agent" | "service" | "anon" | "projector"
type Operation = "select" | "insert" | "update" | "delete"
/** `rows` = statement ran and touched/saw at least one row; `none` = ran but RLS hid every row; `denied` = 42501. */
type Outcome = "rows" | "none" | "denied"

const users: Partial<Record<Actor, string>> = { owner, editor, viewer, stranger }
const roles: Partial<Record<Actor, string>> = { agent: DbRole.agent, service: "service_role", anon: "anon", projector: DbRole.projector }

/** One fresh row per content table, and the seeded row every operation targets. */
const insertOf: Record<string, string> = {
  pages: `INSERT INTO public.pages (project_id, name) VALUES ('${project}', 'new') RETURNING id`,
  project_pages: `INSERT INTO public.project_pages (project_id, page_id, position) VALUES ('${project}', (SELECT id FROM public.pages WHERE project_id = '${project}' AND name = 'extra' LIMIT 1), 9) RETURNING id`,
  components: `INSERT INTO public.components (project_id, name) VALUES ('${project}', 'new') RETURNING id`,
  action_flows: `INSERT INTO public.action_flows (project_id, name) VALUES ('${project}', 'new') RETURNING id`,
  symbols: `INSERT INTO public.symbols (project_id, name) VALUES ('${project}', 'new') RETURNING id`,
  themes: `INSERT INTO public.themes (project_id, name) VALUES ('${project}', 'new') RETURNING id`,
  assets: `INSERT INTO public.assets (project_id, name) VALUES ('${project}', 'new') RETURNING id`
}
const contentTables = Object.keys(insertOf)

const statement = (table: string, operation: Operation, actorId: string): string => {
  if (table === "projects") {
    switch (operation) {
      case "select": return `SELECT id FROM public.projects WHERE id = '${project}'`
      // A user may create a project only for themselves: the actor's own id as owner.
      case "insert": return `INSERT INTO public.projects (name, owner_id) VALUES ('mine', '${actorId}') RETURNING id`
      case "update": return `UPDATE public.projects SET name = 'renamed' WHERE id = '${project}' RETURNING id`
      case "delete": return `DELETE FROM public.projects WHERE id = '${project}' RETURNING id`
    }
  }
  if (table === "project_members") {
    switch (operation) {
      case "select": return `SELECT user_id FROM public.project_members WHERE project_id = '${project}' AND user_id = '${editor}'`
      case "insert": return `INSERT INTO public.project_members (project_id, user_id, role) VALUES ('${project}', '${stranger === actorId ? owner : stranger}'::uuid, 'viewer') ON CONFLICT DO NOTHING RETURNING user_id`
      case "update": return `UPDATE public.project_members SET role = 'owner' WHERE project_id = '${project}' AND user_id = '${viewer}' RETURNING user_id`
      case "delete": return `DELETE FROM public.project_members WHERE project_id = '${project}' AND user_id = '${editor}' RETURNING user_id`
    }
  }
  switch (operation) {
    case "select": return `SELECT id FROM public.${table} WHERE project_id = '${project}'`
    case "insert": return insertOf[table]!
    case "update": return `UPDATE public.${table} SET updated_at = now() WHERE project_id = '${project}' RETURNING id`
    case "delete": return `DELETE FROM public.${table} WHERE project_id = '${project}' RETURNING id`
  }
}

/** The requirement, written out: what each actor may do to each table. */
const expected = (actor: Actor, table: string, operation: Operation): Outcome => {
  switch (actor) {
    case "projector": return "rows"
    case "anon": return "denied"
    case "agent":
    case "service": return operation === "select" ? "rows" : "denied"
    case "stranger":
      // Anyone signed in may create their own project; otherwise a non-member sees and changes nothing.
      return table === "projects" && operation === "insert" ? "rows" : operation === "insert" ? "denied" : "none"
    case "viewer":
      if (operation === "select") return "rows"
      if (table === "projects" && operation === "insert") return "rows"
      return operation === "insert" ? "denied" : "none"
    case "editor":
      if (table === "project_members") return operation === "select" ? "rows" : operation === "insert" ? "denied" : "none"
      if (table === "projects" && operation === "delete") return "none"
      return "rows"
    case "owner": return "rows"
  }
}

class Rollback extends Data.TaggedError("Rollback")<{ readonly outcome: Outcome }> {}

layer(TestDatabaseLive(), { excludeTestServices: true })("RLS and grants matrix: actor x table x operation", (it) => {
  const seed = Effect.gen(function*() {
    const db = yield* Database
    const sql = yield* SqlClient
    yield* db.withRole(DbRole.projector, Effect.gen(function*() {
      yield* sql.unsafe(`INSERT INTO public.projects (id, name, owner_id) VALUES ('${project}', 'P', '${owner}') ON CONFLICT DO NOTHING`)
      yield* sql.unsafe(`INSERT INTO public.project_members (project_id, user_id, role) VALUES
        ('${project}', '${editor}', 'editor'), ('${project}', '${viewer}', 'viewer') ON CONFLICT DO NOTHING`)
      yield* sql.unsafe(`INSERT INTO public.pages (id, project_id, name) VALUES ('${page}', '${project}', 'home') ON CONFLICT DO NOTHING`)
      yield* sql.unsafe(`INSERT INTO public.pages (project_id, name) SELECT '${project}', 'extra' WHERE NOT EXISTS (SELECT 1 FROM public.pages WHERE name = 'extra')`)
      yield* sql.unsafe(`INSERT INTO public.project_pages (project_id, page_id) VALUES ('${project}', '${page}') ON CONFLICT DO NOTHING`)
      for (const table of ["components", "action_flows", "symbols", "themes", "assets"]) {
        yield* sql.unsafe(`INSERT INTO public.${table} (project_id, name) SELECT '${project}', 'seeded' WHERE NOT EXISTS (SELECT 1 FROM public.${table})`)
      }
    }))
  })

  /** Runs one cell in a transaction that is always rolled back; 42501 becomes `denied`. */
  const attempt = (actor: Actor, table: string, operation: Operation) =>
    Effect.gen(function*() {
      const db = yield* Database
      const sql = yield* SqlClient
      const run = Effect.gen(function*() {
        const rows = yield* sql.unsafe(statement(table, operation, users[actor] ?? owner))
        return yield* Effect.fail(new Rollback({ outcome: rows.length > 0 ? "rows" : "none" }))
      })
      const userId = users[actor]
      const scoped = userId !== undefined ? db.asUser({ sub: userId }, run) : db.withRole(roles[actor] as DbRole, run)
      return yield* scoped.pipe(
        Effect.as<Outcome>("rows"),
        Effect.catch((error): Effect.Effect<Outcome> => {
          if (error instanceof Rollback) return Effect.succeed(error.outcome)
          const text = JSON.stringify(error, Object.getOwnPropertyNames(error)) + String((error as { cause?: unknown }).cause)
          return /42501|permission denied|row-level security/i.test(text)
            ? Effect.succeed<Outcome>("denied")
            : Effect.die(new Error(`${actor} ${operation} ${table}: unexpected error ${text.slice(0, 400)}`))
        })
      )
    })

  const actors: ReadonlyArray<Actor> = ["owner", "editor", "viewer", "stranger", "agent", "service", "anon", "projector"]
  const operations: ReadonlyArray<Operation> = ["select", "insert", "update", "delete"]

  for (const table of ["projects", "project_members", ...contentTables]) {
    it.effect(`${table}: every actor and operation`, () =>
      Effect.gen(function*() {
        yield* seed
        const mismatches: Array<string> = []
        for (const actor of actors) {
          for (const operation of operations) {
            const outcome = yield* attempt(actor, table, operation)
            const want = expected(actor, table, operation)
            if (outcome !== want) mismatches.push(`${actor} ${operation} ${table}: got ${outcome}, want ${want}`)
          }
        }
        assert.deepStrictEqual(mismatches, [])
      }), 60_000)
  }
})
