/**
 * Vectors indexed without a project are the indexing user's own: user B indexing the same source id as user
 * A neither overwrites, shortens nor reads A's vectors; indexing into a project needs membership.
 * Real HTTP against the real service stack; the rows are checked in the database.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { IndexingAgent } from "../../src/services/agents/IndexingAgent.ts"
import { baseUrl, EdgeServerLive, userToken } from "../edge/server.ts"

const alice = "a11ce000-0000-4000-8000-0000000000a1"
const bob = "b0b00000-0000-4000-8000-0000000000b2"
const foreignProject = "0f0f0f0f-0000-4000-8000-0000000000ff"
const aliceText = "Alice plans the spring launch of the aurora theme with teal buttons and serif headings."
const bobText = "Bob writes about invoices."

layer(EdgeServerLive(), { excludeTestServices: true })("embed: per-user namespaces without a project", (it) => {
  const embed = (user: string, body: unknown) =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const token = yield* Effect.promise(() => userToken(user))
      return yield* Effect.promise(async () => {
        const response = await fetch(`${url}/functions/v1/embed`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(body)
        })
        return { status: response.status, body: await response.json() as Record<string, unknown> }
      })
    })

  it.effect("B can neither overwrite, shorten nor read A's vectors with the same source id", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const indexing = yield* IndexingAgent
      const long = Array.from({ length: 40 }, (_, i) => `Section ${i}: ${aliceText}`).join("\n")
      const a = yield* embed(alice, { documents: [{ sourceType: "doc", sourceId: "shared", text: aliceText }, { sourceType: "doc", sourceId: "long", text: long }] })
      assert.strictEqual(a.status, 200, JSON.stringify(a.body))
      const aliceChunks = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM cogo.vectors WHERE owner_id = ${alice} AND source_id = 'long'`
      assert.isAbove(aliceChunks[0]!.n, 1)

      const b = yield* embed(bob, { documents: [{ sourceType: "doc", sourceId: "shared", text: bobText }, { sourceType: "doc", sourceId: "long", text: bobText }] })
      assert.strictEqual(b.status, 200, JSON.stringify(b.body))
      assert.strictEqual(b.body["removed"], 0)

      const rows = yield* sql<{ readonly owner_id: string; readonly content: string }>`
        SELECT owner_id, content FROM cogo.vectors WHERE source_id = 'shared' AND project_id IS NULL ORDER BY owner_id`
      assert.deepStrictEqual(rows.map((r) => [r.owner_id, r.content]), [[alice, aliceText], [bob, bobText]])
      const stillLong = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM cogo.vectors WHERE owner_id = ${alice} AND source_id = 'long'`
      assert.strictEqual(stillLong[0]!.n, aliceChunks[0]!.n)

      // Searches see one scope only: Bob's search for Alice's words finds only Bob's text.
      const bobHits = yield* indexing.search({ ownerId: bob }, "spring launch aurora theme teal buttons", 10)
      assert.isTrue(bobHits.length > 0 && bobHits.every((hit) => hit.content === bobText), JSON.stringify(bobHits))
      const aliceHits = yield* indexing.search({ ownerId: alice }, "spring launch aurora theme teal buttons", 10)
      assert.isTrue(aliceHits.length > 0 && aliceHits.every((hit) => hit.content.includes("aurora")))
      const platformHits = yield* indexing.search(null, "spring launch aurora theme teal buttons", 10)
      assert.strictEqual(platformHits.length, 0)
    }))

  it.effect("indexing into a project needs editor membership", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const denied = yield* embed(bob, { projectId: foreignProject, documents: [{ sourceType: "doc", sourceId: "shared", text: bobText }] })
      assert.strictEqual(denied.status, 403)
      const rows = yield* sql<{ readonly n: number }>`SELECT count(*)::int AS n FROM cogo.vectors WHERE project_id = ${foreignProject}`
      assert.strictEqual(rows[0]!.n, 0)
    }))
})
