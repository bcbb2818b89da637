import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { EdgeServerLive } from "../edge/server.ts"
import { eventually } from "../support/eventually.ts"
import { ChatToolsLive, endpoints, Fake, makeProject, NodeChat, settled, textOf, toolParts } from "./support.ts"

const componentCount = (projectId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const db = yield* Database
    const rows = yield* db.withRole(DbRole.agent, sql<{ n: number }>`
      SELECT count(*)::int AS n FROM cogo.project_entities WHERE project_id = ${projectId} AND entity_type = 'component'`)
    return rows[0]!.n
  })

layer(ChatToolsLive(), { excludeTestServices: true, timeout: "60 seconds" })("chat acts as the user", (it) => {
  it.effect("a viewer gets read tools only: a write the model attempts fails and changes nothing", () =>
    Effect.gen(function*() {
      const fake = yield* Fake
      const { chat: api, bobToken } = yield* endpoints
      const { projectId } = yield* makeProject()
      fake.scriptChat(
        { kind: "tools", calls: [{ name: "list_pages", arguments: {} }, { name: "create_component", arguments: { name: "X", definition: { tree: { type: "Text", data: "x" } } } }] },
        { kind: "stream", deltas: ["You can only read this project."] }
      )
      const chat = new NodeChat({ api, token: bobToken, projectId })
      yield* Effect.promise(() => chat.sendMessage({ text: "add a component" }))
      yield* settled(chat, "the answer")
      yield* eventually("the answer text", Effect.sync(() => textOf(chat).includes("You can only read this project.")))
      const [listed, write] = toolParts(chat)
      assert.strictEqual(listed!.state, "output-available")
      assert.deepStrictEqual((listed!.output as ReadonlyArray<{ name: string }>).map((p) => p.name), ["Home"])
      assert.strictEqual(write!.state, "output-error")
      assert.include(write!.errorText!, "needs the editor role")
      assert.strictEqual(yield* componentCount(projectId), 0)
      const offered = (fake.requests.find((r) => r.path === "/v1/chat/completions")!.body["tools"] as ReadonlyArray<{ function: { name: string } }>).map((t) => t.function.name)
      assert.include(offered, "list_pages")
      assert.include(offered, "search_knowledge")
      assert.notInclude(offered, "create_component")
      assert.notInclude(offered, "set_theme_tokens")
    }))
})

layer(EdgeServerLive(), { excludeTestServices: true, timeout: "60 seconds" })("chat without a model", (it) => {
  it.effect("answers from knowledge and says that acting needs a model; nothing plans or changes", () =>
    Effect.gen(function*() {
      const { chat: api, aliceToken } = yield* endpoints
      const { projectId } = yield* makeProject()
      const chat = new NodeChat({ api, token: aliceToken, projectId })
      yield* Effect.promise(() => chat.sendMessage({ text: "add a teal primary button to the Home page" }))
      yield* settled(chat, "the offline answer")
      assert.include(textOf(chat), "Offline mode")
      assert.include(textOf(chat), "Changing the project needs a language model")
      assert.strictEqual(toolParts(chat).length, 0)
      assert.strictEqual(yield* componentCount(projectId), 0)
    }))
})
