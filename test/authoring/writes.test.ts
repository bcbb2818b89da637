import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { EdgeServerLive } from "../edge/server.ts"
import { alice, bob, call, carol, dave, rest, tree, userClient } from "./support.ts"

layer(EdgeServerLive(), { excludeTestServices: true })("PostgREST-compatible writes under RLS (supabase-js)", (it) => {
  it.effect("projects and members: create, owner membership, roles, last owner kept", () =>
    Effect.gen(function*() {
      const a = yield* userClient(alice)
      const b = yield* userClient(bob)
      const c = yield* userClient(carol)
      const d = yield* userClient(dave)

      // supabase.from('projects').insert({ name }).select() -> the caller owns it (owner_id defaults to auth.uid()).
      const created = yield* call(() => a.client.from("projects").insert({ name: "alice app" }).select().single())
      assert.isNull(created.error, JSON.stringify(created.error))
      assert.strictEqual(created.status, 201)
      const project = created.data as { id: string; owner_id: string; version: number }
      assert.strictEqual(project.owner_id, alice)
      assert.strictEqual(project.version, 1)
      const owners = yield* call(() => a.client.from("project_members").select("user_id, role").eq("project_id", project.id))
      assert.deepStrictEqual(owners.data, [{ user_id: alice, role: "owner" }])

      // Someone else's owner_id is refused by RLS (403 in PostgREST's shape).
      const forged = yield* call(() => b.client.from("projects").insert({ name: "forged", owner_id: alice }))
      assert.strictEqual(forged.status, 403)
      assert.strictEqual(forged.error?.code, "42501")

      // The owner adds an editor and a viewer (bulk insert); a non-owner cannot add members.
      const added = yield* call(() =>
        a.client.from("project_members").insert([
          { project_id: project.id, user_id: bob, role: "editor" },
          { project_id: project.id, user_id: carol, role: "viewer" }
        ], { count: "exact" })
      )
      assert.isNull(added.error, JSON.stringify(added.error))
      assert.strictEqual(added.count, 2)
      const sneaky = yield* call(() => b.client.from("project_members").insert({ project_id: project.id, user_id: dave, role: "owner" }))
      assert.strictEqual(sneaky.status, 403)
      const badRole = yield* call(() => a.client.from("project_members").insert({ project_id: project.id, user_id: dave, role: "admin" }))
      assert.strictEqual(badRole.status, 400)
      assert.strictEqual(badRole.error?.code, "23514")

      // The last owner cannot be removed or demoted; with a second owner, the first may leave.
      const removeLast = yield* call(() => a.client.from("project_members").delete().eq("project_id", project.id).eq("user_id", alice))
      assert.strictEqual(removeLast.status, 409)
      assert.strictEqual(removeLast.error?.code, "PT409")
      assert.include(removeLast.error?.message ?? "", "owner")
      const demoteLast = yield* call(() => a.client.from("project_members").update({ role: "editor" }).eq("project_id", project.id).eq("user_id", alice))
      assert.strictEqual(demoteLast.status, 409)
      const promoted = yield* call(() =>
        a.client.from("project_members").update({ role: "owner" }).eq("project_id", project.id).eq("user_id", bob).select("role")
      )
      assert.deepStrictEqual(promoted.data, [{ role: "owner" }])
      const demoted = yield* call(() =>
        b.client.from("project_members").update({ role: "editor" }).eq("project_id", project.id).eq("user_id", alice).select("role")
      )
      assert.deepStrictEqual(demoted.data, [{ role: "editor" }])

      // A non-member sees nothing and changes nothing.
      const invisible = yield* call(() => d.client.from("projects").select("id").eq("id", project.id))
      assert.deepStrictEqual(invisible.data, [])
      const rename = yield* call(() => d.client.from("projects").update({ name: "mine now" }).eq("id", project.id).select())
      assert.deepStrictEqual(rename.data, [])
      // owner_id never changes through an update.
      const steal = yield* call(() => b.client.from("projects").update({ owner_id: bob }).eq("id", project.id))
      assert.strictEqual(steal.status, 403)
      // The viewer reads but cannot write.
      const viewerRead = yield* call(() => c.client.from("projects").select("name").eq("id", project.id).single())
      assert.deepStrictEqual(viewerRead.data, { name: "alice app" })
      const viewerRename = yield* call(() => c.client.from("projects").update({ name: "viewer was here" }).eq("id", project.id).select())
      assert.deepStrictEqual(viewerRename.data, [])
    }))

  it.effect("pages and components: insert, upsert, update with a version, delete; validation; viewer refused", () =>
    Effect.gen(function*() {
      const a = yield* userClient(alice)
      const b = yield* userClient(bob)
      const c = yield* userClient(carol)
      const project = (yield* call(() => a.client.from("projects").insert({ name: "content" }).select("id").single())).data as { id: string }
      yield* call(() =>
        a.client.from("project_members").insert([{ project_id: project.id, user_id: bob, role: "editor" }, { project_id: project.id, user_id: carol, role: "viewer" }])
      )

      const inserted = yield* call(() =>
        b.client.from("components").insert({ project_id: project.id, name: "Button", definition: { tree: tree("OK") } }).select("id, name, version, updated_by").single()
      )
      assert.isNull(inserted.error, JSON.stringify(inserted.error))
      const component = inserted.data as { id: string; version: number; updated_by: string }
      assert.strictEqual(component.version, 1)
      assert.strictEqual(component.updated_by, bob)

      // Upsert (merge-duplicates on the primary key) updates and bumps the version.
      const upserted = yield* call(() =>
        b.client.from("components").upsert({ id: component.id, project_id: project.id, name: "Button 2", definition: { tree: tree("Go") } }).select("name, version")
      )
      assert.deepStrictEqual(upserted.data, [{ name: "Button 2", version: 2 }])
      const ignored = yield* call(() =>
        b.client.from("components").upsert({ id: component.id, project_id: project.id, name: "ignored" }, { ignoreDuplicates: true }).select("name")
      )
      assert.deepStrictEqual(ignored.data, [])

      // Optimistic concurrency: the version edited as a filter; a stale one changes nothing.
      const edit = yield* call(() => a.client.from("components").update({ name: "Primary" }).eq("id", component.id).eq("version", 2).select("name, version"))
      assert.deepStrictEqual(edit.data, [{ name: "Primary", version: 3 }])
      const stale = yield* call(() => b.client.from("components").update({ name: "Stale" }).eq("id", component.id).eq("version", 2).select())
      assert.deepStrictEqual(stale.data, [])
      // ... or as If-Match: 412 when the row moved on, 200 + ETag when not.
      const staleIfMatch = yield* rest(b, `/rest/v1/components?id=eq.${component.id}`, { method: "PATCH", body: { name: "Stale" }, headers: { "if-match": "\"2\"" } })
      assert.strictEqual(staleIfMatch.status, 412)
      assert.strictEqual((staleIfMatch.json as { code: string }).code, "PGRST412")
      const fresh = yield* rest(b, `/rest/v1/components?id=eq.${component.id}`, {
        method: "PATCH",
        body: { name: "Fresh" },
        headers: { "if-match": "\"3\"", prefer: "return=representation", accept: "application/vnd.pgrst.object+json" }
      })
      assert.strictEqual(fresh.status, 200)
      assert.strictEqual(fresh.headers.get("etag"), "\"4\"")
      assert.strictEqual((fresh.json as { name: string }).name, "Fresh")

      // Server-owned columns and unknown columns are refused.
      const version = yield* call(() => b.client.from("components").update({ version: 99 }).eq("id", component.id))
      assert.strictEqual(version.status, 400)
      assert.strictEqual(version.error?.code, "428C9")
      const unknown = yield* call(() => b.client.from("components").update({ "name\"; DROP TABLE x; --": 1 }).eq("id", component.id))
      assert.strictEqual(unknown.status, 400)
      assert.strictEqual(unknown.error?.code, "PGRST204")

      // Invalid COGO UI JSON: 400 naming the path.
      const invalid = yield* call(() =>
        b.client.from("components").update({ definition: { tree: { type: "Column", children: [{ type: "Text", data: 42 }] } } }).eq("id", component.id)
      )
      assert.strictEqual(invalid.status, 400)
      assert.include(invalid.error?.message ?? "", "definition.tree")
      assert.include(invalid.error?.details ?? "", "definition.tree")
      const badTokens = yield* call(() => b.client.from("themes").insert({ project_id: project.id, name: "t", tokens: { tokens: [{ id: 1 }] } }))
      assert.strictEqual(badTokens.status, 400)
      assert.include(badTokens.error?.message ?? "", "tokens.tokens.0")

      // PATCH/DELETE without a filter: 400; the viewer is refused (zero rows / RLS 403 on insert).
      const unfiltered = yield* call(() => b.client.from("components").delete().neq("name", "x").select())
      assert.isNull(unfiltered.error)
      const noFilter = yield* rest(b, "/rest/v1/components", { method: "DELETE" })
      assert.strictEqual(noFilter.status, 400)
      assert.strictEqual((noFilter.json as { code: string }).code, "21000")
      const viewerInsert = yield* call(() => c.client.from("pages").insert({ project_id: project.id, name: "nope" }))
      assert.strictEqual(viewerInsert.status, 403)

      // Delete with a count.
      const page = yield* call(() => b.client.from("pages").insert({ project_id: project.id, name: "Home", route: "/" }).select("id").single())
      const deleted = yield* call(() => b.client.from("pages").delete({ count: "exact" }).eq("id", (page.data as { id: string }).id))
      assert.strictEqual(deleted.status, 204)
      assert.strictEqual(deleted.count, 1)
    }))
})
