/**
 * The projectors' column contract, written out by hand: each entity state field lands in the column of the
 * same meaning in its `public` table. The expected rows below are literal values, not derived from the code's
 * field-to-column mapping or its decoders, so a projector that writes a wrong value (a page's `route` from
 * its `name`, a swapped flag) fails here.
 */
import { assert, layer } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import { ProjectCommands } from "../../src/services/cqrs/ProjectCommands.ts"
import { ProjectionWorker } from "../../src/projection/ProjectionWorker.ts"
import { projectionLayer } from "./support.ts"

const owner = "c0000000-0000-4000-8000-0000000000aa"
const project = "c0000000-0000-4000-8000-000000000001"
const page = "c0000000-0000-4000-8000-000000000002"
const projectPage = "c0000000-0000-4000-8000-000000000003"
const component = "c0000000-0000-4000-8000-000000000004"
const flow = "c0000000-0000-4000-8000-000000000005"
const symbol = "c0000000-0000-4000-8000-000000000006"
const theme = "c0000000-0000-4000-8000-000000000007"
const asset = "c0000000-0000-4000-8000-000000000008"

layer(projectionLayer(), { excludeTestServices: true })("projector column contract", (it) => {
  it.effect("every field of every entity lands in its own column with its own value", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const sql = yield* PgClient.PgClient
      yield* commands.upsert("project", { id: project, name: "Shop", description: "the shop app", ownerId: owner, settings: { locale: "de" } })
      yield* commands.upsert("page", { id: page, projectId: project, name: "Home page", route: "/home", definition: { type: "Column", children: [] } })
      yield* commands.upsert("project_page", { id: projectPage, projectId: project, pageId: page, position: 3, isHome: true })
      yield* commands.upsert("component", { id: component, projectId: project, name: "Button", kind: "component_set", definition: { type: "Text" }, properties: { size: "lg" } })
      yield* commands.upsert("action_flow", { id: flow, projectId: project, name: "On tap", trigger: { event: "tap" }, definition: { steps: [1] } })
      yield* commands.upsert("symbol", { id: symbol, projectId: project, name: "Logo", componentId: component, definition: { ref: "logo" } })
      yield* commands.upsert("theme", { id: theme, projectId: project, name: "Dark", tokens: { primary: "#000000" }, isDefault: true })
      yield* commands.upsert("asset", {
        id: asset, projectId: project, name: "hero.png", kind: "image", mimeType: "image/png", url: "https://cdn.example/hero.png",
        sizeBytes: 2048, contentHash: "sha256:abc", metadata: { width: 640 }
      })
      yield* (yield* ProjectionWorker).drain

      const one = (query: string) => Effect.map(sql.unsafe<Record<string, unknown>>(query), (rows) => rows[0])
      assert.deepStrictEqual(yield* one(`SELECT id, name, description, owner_id, settings FROM public.projects WHERE id = '${project}'`), {
        id: project, name: "Shop", description: "the shop app", owner_id: owner, settings: { locale: "de" }
      })
      assert.deepStrictEqual(yield* one(`SELECT id, project_id, name, route, definition FROM public.pages WHERE id = '${page}'`), {
        id: page, project_id: project, name: "Home page", route: "/home", definition: { type: "Column", children: [] }
      })
      assert.deepStrictEqual(yield* one(`SELECT id, project_id, page_id, position, is_home FROM public.project_pages WHERE id = '${projectPage}'`), {
        id: projectPage, project_id: project, page_id: page, position: 3, is_home: true
      })
      assert.deepStrictEqual(yield* one(`SELECT id, project_id, name, kind, definition, properties FROM public.components WHERE id = '${component}'`), {
        id: component, project_id: project, name: "Button", kind: "component_set", definition: { type: "Text" }, properties: { size: "lg" }
      })
      assert.deepStrictEqual(yield* one(`SELECT id, project_id, name, trigger, definition FROM public.action_flows WHERE id = '${flow}'`), {
        id: flow, project_id: project, name: "On tap", trigger: { event: "tap" }, definition: { steps: [1] }
      })
      assert.deepStrictEqual(yield* one(`SELECT id, project_id, name, component_id, definition FROM public.symbols WHERE id = '${symbol}'`), {
        id: symbol, project_id: project, name: "Logo", component_id: component, definition: { ref: "logo" }
      })
      assert.deepStrictEqual(yield* one(`SELECT id, project_id, name, tokens, is_default FROM public.themes WHERE id = '${theme}'`), {
        id: theme, project_id: project, name: "Dark", tokens: { primary: "#000000" }, is_default: true
      })
      assert.deepStrictEqual(
        yield* one(`SELECT id, project_id, name, kind, mime_type, url, size_bytes::int AS size_bytes, content_hash, metadata FROM public.assets WHERE id = '${asset}'`),
        {
          id: asset, project_id: project, name: "hero.png", kind: "image", mime_type: "image/png", url: "https://cdn.example/hero.png",
          size_bytes: 2048, content_hash: "sha256:abc", metadata: { width: 640 }
        }
      )
      // Projected rows are the projection's own writes: no user is recorded as their editor.
      const editors = yield* sql<{ readonly n: number }>`
        SELECT count(*)::int AS n FROM (
          SELECT updated_by FROM public.pages UNION ALL SELECT updated_by FROM public.components UNION ALL SELECT updated_by FROM public.themes
        ) e WHERE updated_by IS NOT NULL`
      assert.strictEqual(editors[0]!.n, 0)
    }))
})
