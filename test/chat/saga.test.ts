import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { readSse, type SseFrame } from "../support/sseClient.ts"
import { toolResults } from "../support/FakeOpenAI.ts"
import { eventually } from "../support/eventually.ts"
import { ChatToolsLive, endpoints, Fake, makeProject, NodeChat, rest, settled, textOf, toolParts } from "./support.ts"

const tree = (data: string) => ({ tree: { type: "Text", data } })
const autoApprove = { chatTools: { approval: "auto" } }

/** Live (not deleted) canonical entities of a project, by kind. */
const liveEntities = (projectId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const db = yield* Database
    const rows = yield* db.withRole(DbRole.agent, sql<{ entity_type: string; name: string }>`
      SELECT entity_type, state->>'name' AS name FROM cogo.project_entities
      WHERE project_id = ${projectId} AND NOT deleted AND entity_type IN ('page', 'component') ORDER BY entity_type, name`)
    return rows.map((r) => `${r.entity_type}:${r.name}`)
  })

const stepStates = (projectId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const db = yield* Database
    const rows = yield* db.withRole(DbRole.agent, sql<{ tool: string; state: string }>`
      SELECT tool, state FROM cogo.chat_tool_steps WHERE project_id = ${projectId} ORDER BY step_index`)
    return rows.map((r) => `${r.tool}:${r.state}`)
  })

const chunksOf = (frames: ReadonlyArray<SseFrame>) =>
  frames.filter((f) => f.data !== "[DONE]").map((f) => JSON.parse(f.data) as { type: string; [k: string]: unknown })

layer(ChatToolsLive(), { excludeTestServices: true, timeout: "60 seconds" })("chat turns are sagas (real ai client)", (it) => {
  it.effect("a denied step changes nothing, and undoes the approved step before it", () =>
    Effect.gen(function*() {
      const fake = yield* Fake
      const { url, chat: api, aliceToken } = yield* endpoints
      const { projectId } = yield* makeProject()
      fake.scriptChat(
        { kind: "tools", calls: [{ name: "create_page", arguments: { name: "Checkout" } }] },
        { kind: "tools", calls: [{ name: "create_component", arguments: { name: "Pay button", definition: tree("Pay") } }] }
      )
      const chat = new NodeChat({ api, token: aliceToken, projectId })
      yield* Effect.promise(() => chat.sendMessage({ text: "add a checkout page with a pay button" }))
      yield* settled(chat, "the first approval request")
      yield* Effect.promise(async () => chat.addToolApprovalResponse({ id: toolParts(chat)[0]!.approval!.id, approved: true }))
      yield* eventually("the second approval request", Effect.sync(() => chat.status === "ready" && toolParts(chat)[1]?.state === "approval-requested"))
      assert.deepStrictEqual(yield* liveEntities(projectId), ["page:Checkout", "page:Home"], "the approved page was applied")
      yield* Effect.promise(async () => chat.addToolApprovalResponse({ id: toolParts(chat)[1]!.approval!.id, approved: false, reason: "not now" }))
      yield* eventually("the denial", Effect.sync(() => chat.status === "ready" && toolParts(chat)[1]?.state === "output-denied"))
      yield* eventually("the undo message", Effect.sync(() => textOf(chat).includes("You denied create_component (not now)")))
      assert.include(textOf(chat), "undid the 1 change(s)")
      assert.deepStrictEqual(yield* liveEntities(projectId), ["page:Home"], "the denied step wrote nothing and the approved one was undone")
      assert.deepStrictEqual(yield* stepStates(projectId), ["create_page:compensated", "create_component:denied"])
      yield* eventually("the undo reaches /rest/v1", Effect.map(rest(url, aliceToken, `pages?project_id=eq.${projectId}`), (pages) => pages.length === 1))
      assert.strictEqual(fake.requests.filter((r) => r.path === "/v1/chat/completions").length, 2, "the model was not called after the denial")
    }))

  it.effect("a new message instead of an approval answer undoes the waiting turn", () =>
    Effect.gen(function*() {
      const fake = yield* Fake
      fake.reset()
      const { chat: api, aliceToken } = yield* endpoints
      const { projectId } = yield* makeProject()
      fake.scriptChat(
        { kind: "tools", calls: [{ name: "create_page", arguments: { name: "Promo" } }] },
        { kind: "tools", calls: [{ name: "rename", arguments: { kind: "page", id: "00000000-0000-4000-8000-000000000000", name: "x" } }] },
        { kind: "stream", deltas: ["OK, ", "something else."] }
      )
      const chat = new NodeChat({ api, token: aliceToken, projectId })
      yield* Effect.promise(() => chat.sendMessage({ text: "add a promo page" }))
      yield* settled(chat, "the first approval request")
      yield* Effect.promise(async () => chat.addToolApprovalResponse({ id: toolParts(chat)[0]!.approval!.id, approved: true }))
      yield* eventually("the second approval request", Effect.sync(() => chat.status === "ready" && toolParts(chat)[1]?.state === "approval-requested"))
      assert.deepStrictEqual(yield* liveEntities(projectId), ["page:Home", "page:Promo"])
      yield* Effect.promise(() => chat.sendMessage({ text: "actually, do something else" }))
      yield* eventually("the new answer", Effect.sync(() => chat.status === "ready" && textOf(chat).includes("something else.")))
      assert.include(textOf(chat), "The previous turn's approvals were not answered. I undid the 1 change(s)")
      assert.deepStrictEqual(yield* liveEntities(projectId), ["page:Home"])
      assert.deepStrictEqual(yield* stepStates(projectId), ["create_page:compensated", "rename:denied"])
    }))

  it.effect("a failing third step compensates the first two, in reverse; resuming by Last-Event-ID replays the tool steps exactly", () =>
    Effect.gen(function*() {
      const fake = yield* Fake
      fake.reset()
      const { chat: api, aliceToken } = yield* endpoints
      const { projectId } = yield* makeProject(autoApprove)
      fake.scriptChat(
        { kind: "tools", calls: [{ name: "create_component", arguments: { name: "Badge", definition: tree("New") } }] },
        { kind: "tools", calls: [{ name: "create_page", arguments: { name: "Sale" } }] },
        {
          kind: "tools",
          calls: (body) => {
            const badge = toolResults(body)[0] as { changed: ReadonlyArray<{ id: string }> }
            // A patch whose `test` fails: the step is rejected.
            return [{ name: "update_component", arguments: { id: badge.changed[0]!.id, patch: [{ op: "test", path: "/tree/data", value: "Old" }] } }]
          }
        }
      )
      const headers = { authorization: `Bearer ${aliceToken}`, "content-type": "application/json" }
      const body = JSON.stringify({ id: "sale-chat", projectId, messages: [{ id: "u1", role: "user", parts: [{ type: "text", text: "make a sale page" }] }] })
      // Read part of the stream, drop the connection, resume after the last frame seen.
      const part = yield* Effect.promise(() => readSse(api, { method: "POST", headers, body }, (frames) => chunksOf(frames).some((c) => c.type === "tool-output-available")))
      const runId = part.headers.get("x-cogo-stream-id")!
      const rest1 = yield* Effect.promise(() =>
        readSse(`${api}/${runId}/stream`, { headers: { ...headers, "last-event-id": part.frames.at(-1)!.id! } }, (frames) => frames.at(-1)?.data === "[DONE]"))
      const whole = yield* Effect.promise(() => readSse(`${api}/${runId}/stream`, { headers }, (frames) => frames.at(-1)?.data === "[DONE]"))
      assert.deepStrictEqual([...part.frames, ...rest1.frames].map((f) => f.id), whole.frames.map((f) => f.id), "exactly the missed frames")
      const chunks = chunksOf(whole.frames)
      const types = chunks.map((c) => c.type)
      for (const type of ["tool-input-start", "tool-input-delta", "tool-input-available", "tool-output-available", "tool-output-error"]) assert.include(types, type)
      assert.notInclude(types, "tool-approval-request", "the project pre-approves its tools")
      const sagaEnd = chunks.filter((c) => c.type === "data-saga").at(-1) as unknown as { data: { state: string; undone: ReadonlyArray<string> } }
      assert.deepStrictEqual(sagaEnd.data, { ...sagaEnd.data, state: "compensated", undone: ["create_page", "create_component"] }, "undone in reverse")
      assert.deepStrictEqual(yield* liveEntities(projectId), ["page:Home"])
      assert.deepStrictEqual(yield* stepStates(projectId), ["create_component:compensated", "create_page:compensated", "update_component:failed"])
    }))

  it.effect("abort mid-turn compensates the applied steps", () =>
    Effect.gen(function*() {
      const fake = yield* Fake
      fake.reset()
      const { chat: api, aliceToken } = yield* endpoints
      const { projectId } = yield* makeProject(autoApprove)
      fake.scriptChat(
        { kind: "tools", calls: [{ name: "create_component", arguments: { name: "Card", definition: tree("Card") } }] },
        { kind: "tools", calls: [{ name: "create_page", arguments: { name: "Cards" } }] },
        { kind: "slow", delayMs: 10_000 }
      )
      const chat = new NodeChat({ api, token: aliceToken, projectId, id: "abort-chat" })
      const sending = chat.sendMessage({ text: "build a cards page" })
      yield* eventually("two applied steps", Effect.map(stepStates(projectId), (s) => s.length === 2))
      assert.deepStrictEqual(yield* liveEntities(projectId), ["component:Card", "page:Cards", "page:Home"])
      yield* Effect.promise(() => chat.stop())
      const aborted = yield* Effect.promise(() =>
        fetch(`${api}/abort-chat/abort`, { method: "POST", headers: { authorization: `Bearer ${aliceToken}` } }).then((r) => r.json()))
      assert.deepStrictEqual(aborted, { aborted: true })
      yield* Effect.promise(() => sending)
      yield* eventually("the undo", Effect.map(stepStates(projectId), (s) => s.every((state) => state.endsWith(":compensated"))))
      assert.deepStrictEqual(yield* liveEntities(projectId), ["page:Home"])
      // The stream (resumed after the client stopped) says what happened.
      const replay = yield* Effect.promise(() =>
        readSse(`${api}/abort-chat/stream`, { headers: { authorization: `Bearer ${aliceToken}` } }, (frames) => frames.at(-1)?.data === "[DONE]"))
      const types = chunksOf(replay.frames).map((c) => c.type)
      assert.include(types, "data-saga")
      assert.strictEqual(types.at(-1), "abort")
    }))

  it.effect("abort while a turn waits for approval undoes it", () =>
    Effect.gen(function*() {
      const fake = yield* Fake
      fake.reset()
      const { chat: api, aliceToken } = yield* endpoints
      const { projectId } = yield* makeProject()
      fake.scriptChat(
        { kind: "tools", calls: [{ name: "create_page", arguments: { name: "Blog" } }] },
        { kind: "tools", calls: [{ name: "delete_page", arguments: { id: "00000000-0000-4000-8000-000000000000" } }] }
      )
      const chat = new NodeChat({ api, token: aliceToken, projectId, id: "waiting-chat" })
      yield* Effect.promise(() => chat.sendMessage({ text: "add a blog" }))
      yield* settled(chat, "the first approval request")
      yield* Effect.promise(async () => chat.addToolApprovalResponse({ id: toolParts(chat)[0]!.approval!.id, approved: true }))
      yield* eventually("the second approval request", Effect.sync(() => chat.status === "ready" && toolParts(chat)[1]?.state === "approval-requested"))
      assert.deepStrictEqual(yield* liveEntities(projectId), ["page:Blog", "page:Home"])
      const abort = () =>
        Effect.promise(() => fetch(`${api}/waiting-chat/abort`, { method: "POST", headers: { authorization: `Bearer ${aliceToken}` } }).then((r) => r.json()))
      assert.deepStrictEqual(yield* abort(), { aborted: true })
      assert.deepStrictEqual(yield* liveEntities(projectId), ["page:Home"])
      assert.deepStrictEqual(yield* stepStates(projectId), ["create_page:compensated", "delete_page:denied"])
      assert.deepStrictEqual(yield* abort(), { aborted: false }, "nothing waits any more")
    }))
})
