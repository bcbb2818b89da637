import { assert, layer } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { ProjectCommands } from "../../src/services/cqrs/ProjectCommands.ts"
import { baseUrl, EdgeServerLive } from "../edge/server.ts"
import { readSse } from "../support/sseClient.ts"
import { alice, bob, call, carol, tree, type User, userClient } from "./support.ts"

interface Component {
  readonly id: string
  readonly name: string
  readonly version: number
  readonly updated_by: string | null
  readonly definition: { readonly tree: { readonly children: ReadonlyArray<{ readonly data?: string }> } }
}

/** Polls the component as `user` until `done` holds (the projection worker applies asynchronously). */
const until = (user: User, id: string, done: (c: Component) => boolean) =>
  Effect.gen(function*() {
    const read = yield* call(() => user.client.from("components").select("id, name, version, updated_by, definition").eq("id", id).maybeSingle())
    const component = read.data as Component | null
    if (component === null || !done(component)) return yield* Effect.fail("not yet" as const)
    return component
  }).pipe(Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo({ times: 200 }))), Effect.orDie)

interface Frame {
  readonly kind: string
  readonly payload: Record<string, unknown>
}

/** The project's stream replayed from the start (Last-Event-ID: 0) until `stop`. */
const replay = (user: User, projectId: string, stop: (frames: ReadonlyArray<Frame>) => boolean) =>
  Effect.gen(function*() {
    const url = yield* baseUrl
    const read = yield* Effect.promise(() =>
      readSse(`${url}/functions/v1/realtime/projects/${projectId}`, { headers: { authorization: `Bearer ${user.token}`, "last-event-id": "0" } }, (frames) =>
        stop(frames.filter((f) => f.event === "project").map((f) => JSON.parse(f.data) as Frame)), 20_000)
    )
    return read.frames.filter((f) => f.event === "project").map((f) => JSON.parse(f.data) as Frame)
  })

layer(EdgeServerLive(), { excludeTestServices: true })("the agent-vs-user conflict loop over HTTP and the realtime stream", (it) => {
  it.effect("a user edit, an agent re-import, the conflict on the stream, listed, merged, read back; then 'theirs'", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const a = yield* userClient(alice)
      const b = yield* userClient(bob)
      const c = yield* userClient(carol)

      // Agent side: a project owned by alice and an imported component (what the Figma import writes).
      const project = yield* commands.upsert("project", { name: "imported", description: null, ownerId: alice, settings: {} })
      const componentId = "c0000000-0000-4000-8000-00000000c001"
      const imported = (label: string) => ({ source: "figma", figmaNodeId: "1:2", tree: tree(label) })
      yield* commands.upsert("component", { id: componentId, projectId: project.id, name: "Button", kind: "component", definition: imported("v1"), properties: {} })
      const v1 = yield* until(a, componentId, () => true)
      yield* call(() => a.client.from("project_members").insert([{ project_id: project.id, user_id: bob, role: "editor" }, { project_id: project.id, user_id: carol, role: "viewer" }]))

      // The user edits the name (a field the agent will not touch), with the version read.
      const edited = yield* call(() => b.client.from("components").update({ name: "Primary button" }).eq("id", componentId).eq("version", v1.version).select("version"))
      assert.deepStrictEqual(edited.data, [{ version: v1.version + 1 }])

      // The agent re-imports a changed tree, not based on the user's version: a conflict, not an overwrite.
      yield* commands.upsert("component", { id: componentId, projectId: project.id, name: "Button", kind: "component", definition: imported("v2"), properties: {} })
      const onStream = yield* replay(c, project.id, (frames) => frames.some((f) => f.kind === "projection.conflict"))
      const conflictEvent = onStream.find((f) => f.kind === "projection.conflict")!
      assert.strictEqual(conflictEvent.payload["aggregateId"], componentId)
      assert.strictEqual(conflictEvent.payload["userId"], bob)
      // The user's edit was announced too (table, id, version, editor, operation).
      const edit = onStream.find((f) => f.kind === "edit.update" && f.payload["table"] === "components")
      assert.deepStrictEqual(edit?.payload, { table: "components", id: componentId, version: v1.version + 1, userId: bob, operation: "update" })
      const untouched = yield* until(a, componentId, () => true)
      assert.strictEqual(untouched.name, "Primary button")
      assert.strictEqual(untouched.definition.tree.children[0]?.data, "v1")

      // Members list it under RLS; a non-member sees nothing; a viewer cannot resolve.
      const listed = yield* call(() => c.client.from("project_conflicts").select("id, aggregate_id, kind, status, user_id, agent_state").eq("project_id", project.id))
      assert.isNull(listed.error, JSON.stringify(listed.error))
      const conflict = (listed.data as Array<{ id: number; status: string; kind: string; agent_state: { name: string } }>)[0]!
      assert.strictEqual(listed.data?.length, 1)
      assert.strictEqual(conflict.status, "open")
      assert.strictEqual(conflict.kind, "edited_by_user")
      assert.strictEqual(conflict.agent_state.name, "Button")
      const stranger = yield* userClient("5e000000-0000-4000-8000-0000000000e5")
      const hidden = yield* call(() => stranger.client.from("project_conflicts").select("id"))
      assert.deepStrictEqual(hidden.data, [])
      const strangerResolve = yield* call(() => stranger.client.rpc("resolve_conflict", { conflict_id: conflict.id, choice: "theirs" }))
      assert.strictEqual(strangerResolve.status, 404)
      const viewerResolve = yield* call(() => c.client.rpc("resolve_conflict", { conflict_id: conflict.id, choice: "theirs" }))
      assert.strictEqual(viewerResolve.status, 403)
      const badChoice = yield* call(() => b.client.rpc("resolve_conflict", { conflict_id: conflict.id, choice: "both" }))
      assert.strictEqual(badChoice.status, 400)

      // Merge: the user's name and the agent's tree (no overlapping field).
      const merged = yield* call(() => b.client.rpc("resolve_conflict", { conflict_id: conflict.id, choice: "merge" }))
      assert.isNull(merged.error, JSON.stringify(merged.error))
      assert.strictEqual((merged.data as { choice: string }).choice, "merge")
      const result = yield* until(b, componentId, () => true)
      assert.strictEqual(result.name, "Primary button")
      assert.strictEqual(result.definition.tree.children[0]?.data, "v2")
      assert.strictEqual(result.updated_by, bob)
      const again = yield* call(() => b.client.rpc("resolve_conflict", { conflict_id: conflict.id, choice: "mine" }))
      assert.strictEqual(again.status, 409)
      const resolvedRow = yield* call(() => a.client.from("project_conflicts").select("status, resolution, resolved_by").eq("id", conflict.id).single())
      assert.deepStrictEqual(resolvedRow.data, { status: "resolved", resolution: "merge", resolved_by: bob })
      const afterMerge = yield* replay(a, project.id, (frames) => frames.some((f) => f.kind === "conflict.resolved"))
      assert.strictEqual(afterMerge.find((f) => f.kind === "conflict.resolved")?.payload["resolvedBy"], bob)

      // The row is still the user's: the next agent update conflicts again; 'theirs' hands it back to the projection.
      yield* commands.upsert("component", { id: componentId, projectId: project.id, name: "Button", kind: "component", definition: imported("v3"), properties: {} })
      yield* replay(a, project.id, (frames) => frames.filter((f) => f.kind === "projection.conflict").length >= 2)
      const second = yield* call(() => a.client.from("project_conflicts").select("id").eq("status", "open").single())
      const theirs = yield* call(() => a.client.rpc("resolve_conflict", { conflict_id: (second.data as { id: number }).id, choice: "theirs" }))
      assert.isNull(theirs.error, JSON.stringify(theirs.error))
      const projected = yield* until(a, componentId, (row) => row.updated_by === null)
      assert.strictEqual(projected.name, "Button")
      assert.strictEqual(projected.definition.tree.children[0]?.data, "v3")
    }))
})
