/** The two users of the `/rest/v1` read tests: a project each, with pages named "<alice|bob> <suffix>". */
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Database, DbRole } from "../../src/services/platform/Database.ts"

export const seedOwnedPages = (
  owners: { readonly alice: string; readonly bob: string },
  pages: ReadonlyArray<{ readonly suffix: string; readonly route: string }>
) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const db = yield* Database
    yield* db.withRole(DbRole.projector, Effect.gen(function*() {
      const projects = yield* sql<{ id: string; owner_id: string }>`
        INSERT INTO public.projects (name, owner_id) VALUES ('alice app', ${owners.alice}), ('bob app', ${owners.bob}) RETURNING id, owner_id`
      for (const project of projects) {
        const who = project.owner_id === owners.alice ? "alice" : "bob"
        for (const page of pages) {
          yield* sql`INSERT INTO public.pages (project_id, name, route) VALUES (${project.id}, ${`${who} ${page.suffix}`}, ${page.route})`
        }
      }
    }))
  })
