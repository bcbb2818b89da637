import { assert, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { Realtime } from "../../src/services/realtime/Realtime.ts"
import { readSse } from "../support/sseClient.ts"
import { toolResults } from "../support/FakeOpenAI.ts"
import { eventually } from "../support/eventually.ts"
import { ChatToolsLive, endpoints, Fake, makeProject, NodeChat, rest, settled, textOf, toolParts } from "./support.ts"

const button = { tree: { type: "Container", color: "#14b8a6ff", child: { type: "Text", data: "Buy" } } }

layer(ChatToolsLive(), { excludeTestServices: true, timeout: "60 seconds" })("chat acts with approval (real ai client)", (it) => {
  it.effect("a turn that adds a component to a page: approved step by step, visible in /rest/v1 and on the realtime stream", () =>
    Effect.gen(function*() {
      const fake = yield* Fake
      const sql = yield* SqlClient
      const db = yield* Database
      const { url, chat: api, aliceToken } = yield* endpoints
      const { projectId, homeId } = yield* makeProject()
      const live = yield* Effect.promise(() =>
        readSse(`${url}/functions/v1/realtime/projects/${projectId}`, { headers: { authorization: `Bearer ${aliceToken}` } }, (frames) =>
          frames.some((f) => f.data.includes("projection.applied") && f.data.includes("link_component") === false) &&
          frames.filter((f) => f.data.includes("chat.tool_applied")).length >= 2)).pipe(Effect.forkChild)
      // A stream without Last-Event-ID starts at the live tail: it must be registered before the turn writes.
      const realtime = yield* Realtime
      yield* eventually("the realtime stream registered", Effect.sync(() => realtime.subscriberCount() === 1))
      fake.scriptChat(
        { kind: "tools", text: "I'll create the button.", calls: [{ name: "create_component", arguments: { name: "Primary button", definition: button } }] },
        {
          kind: "tools",
          calls: (body) => {
            const created = toolResults(body).at(-1) as { changed: ReadonlyArray<{ id: string }> }
            return [{ name: "link_component", arguments: { pageId: homeId, componentId: created.changed[0]!.id } }]
          }
        },
        { kind: "stream", deltas: ["Added ", "a teal ", "primary button ", "to Home."] }
      )
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
      const chat = new NodeChat({ api, token: aliceToken, projectId, traceparent: `00-${traceId}-00f067aa0ba902b7-01` })
      yield* Effect.promise(() => chat.sendMessage({ text: "add a teal primary button to the Home page" }))
      yield* settled(chat, "the first approval request")
      const first = toolParts(chat)
      assert.strictEqual(first.length, 1)
      assert.strictEqual(first[0]!.toolName, "create_component")
      assert.strictEqual(first[0]!.state, "approval-requested")
      assert.deepStrictEqual((first[0]!.input as { definition: unknown }).definition, button, "the input streamed in deltas arrived whole")
      // Nothing is written before the approval.
      const before = yield* db.withRole(DbRole.agent, sql<{ n: number }>`
        SELECT count(*)::int AS n FROM cogo.project_entities WHERE project_id = ${projectId} AND entity_type = 'component'`)
      assert.strictEqual(before[0]!.n, 0)

      yield* Effect.promise(async () => chat.addToolApprovalResponse({ id: first[0]!.approval!.id, approved: true }))
      yield* eventually("the second approval request", Effect.sync(() => chat.status === "ready" && toolParts(chat).length === 2 && toolParts(chat)[1]!.state === "approval-requested"))
      const [created, link] = toolParts(chat)
      assert.strictEqual(created!.state, "output-available")
      const componentId = (created!.output as { changed: ReadonlyArray<{ id: string; kind: string }> }).changed[0]!.id
      assert.strictEqual(link!.toolName, "link_component")

      yield* Effect.promise(async () => chat.addToolApprovalResponse({ id: link!.approval!.id, approved: true }))
      yield* eventually("the final answer", Effect.sync(() => chat.status === "ready" && textOf(chat).includes("Added a teal primary button to Home.")))
      assert.strictEqual(toolParts(chat)[1]!.state, "output-available")
      assert.isUndefined(chat.error)

      // Visible through /rest/v1 as alice, once projected: the component, and the page's tree places it.
      yield* eventually("the component and the linked page in /rest/v1", Effect.gen(function*() {
        const components = yield* rest(url, aliceToken, `components?project_id=eq.${projectId}`)
        const pages = yield* rest(url, aliceToken, `pages?id=eq.${homeId}`)
        const tree = (pages[0]?.["definition"] as { tree?: { children?: ReadonlyArray<{ type: string; symbolId?: string }> } } | undefined)?.tree
        return components.length === 1 && components[0]!["name"] === "Primary button" &&
          tree?.children?.some((c) => c.type === "SymbolInstance" && c.symbolId === componentId) === true
      }))
      // On the project's realtime stream: the applied steps with the chat run as their cause, then the projection.
      const events = (yield* Fiber.join(live)).frames.map((f) => JSON.parse(f.data) as { kind: string; payload: { cause?: { chatRunId: string }; tool?: string } })
      const applied = events.filter((e) => e.kind === "chat.tool_applied")
      assert.deepStrictEqual(applied.map((e) => e.payload.tool), ["create_component", "link_component"])
      assert.isTrue(applied.every((e) => typeof e.payload.cause?.chatRunId === "string"))
      assert.isTrue(events.some((e) => e.kind === "projection.applied"))
      // Every step recorded with the user, run and trace.
      const steps = yield* db.withRole(DbRole.agent, sql<{ tool: string; state: string; user_id: string; run_id: string; traceparent: string | null }>`
        SELECT tool, state, user_id, run_id, traceparent FROM cogo.chat_tool_steps WHERE project_id = ${projectId} ORDER BY step_index`)
      assert.deepStrictEqual(steps.map((s) => [s.tool, s.state]), [["create_component", "applied"], ["link_component", "applied"]])
      assert.isTrue(steps.every((s) => s.user_id === "a11ce000-0000-4000-8000-0000000000c1"))
      // One trace from the chat requests through each tool call to the outbox rows the projection applies.
      assert.isTrue(steps.every((s) => s.traceparent?.split("-")[1] === traceId), "the steps continue the request's trace")
      const updates = yield* db.withRole(DbRole.agent, sql<{ aggregate_type: string; traceparent: string | null }>`
        SELECT aggregate_type, traceparent FROM cogo.project_updates WHERE project_id = ${projectId} AND aggregate_type IN ('component', 'page') AND aggregate_id IN (${componentId}::uuid, ${homeId}::uuid) ORDER BY id DESC LIMIT 2`)
      assert.strictEqual(updates.length, 2)
      assert.isTrue(updates.every((u) => u.traceparent?.split("-")[1] === traceId), "the outbox rows carry the trace on to the projection")
      // The model was offered the write tools (alice owns the project).
      const offered = (fake.requests.find((r) => r.path === "/v1/chat/completions")!.body["tools"] as ReadonlyArray<{ function: { name: string } }>).map((t) => t.function.name)
      assert.include(offered, "create_component")
      assert.include(offered, "list_pages")
    }))
})
