/**
 * Plugin tokens and project access (src/services/auth/PluginTokens.ts) as a service over a real migrated
 * database, written from the contract in its header: a token is `cogo_pt_` + 32 random bytes (base64url),
 * only its SHA-256 is stored, it acts for one project until revoked or expired; access is the member role,
 * else owner by `owner_id` (or the canonical owner before projection), `none` for someone else's project and
 * `missing` when no project has the id. Kept fast (one database per file) so mutation testing can run it.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Option } from "effect"
import { canEdit, isPluginToken, pluginTokenHash, PluginTokens } from "../../src/services/auth/PluginTokens.ts"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"

const alice = "a11ce000-0000-4000-8000-000000000001"
const bob = "b0b00000-0000-4000-8000-000000000002"
const carol = "ca401000-0000-4000-8000-000000000003"
const dave = "da4e0000-0000-4000-8000-000000000004"
const hour = 3_600_000

const TestLayer = PluginTokens.layer.pipe(Layer.provideMerge(TestDatabaseLive()))

describe("plugin token helpers", () => {
  it("recognises plugin tokens by their prefix only", () => {
    assert.isTrue(isPluginToken("cogo_pt_abc"))
    assert.isFalse(isPluginToken("eyJhbGciOiJIUzI1NiJ9.x.y"))
    assert.isFalse(isPluginToken("xcogo_pt_abc"))
  })

  it("hashes with hex SHA-256 (known answer from sha256sum)", () => {
    assert.strictEqual(pluginTokenHash("cogo_pt_known-answer"), "e6c140c9a8fc3fc54b4dd56a2d74ffc80749df7fe3c71c0aafa4414b6075838f")
  })

  it("only owners and editors may edit", () => {
    assert.deepStrictEqual((["owner", "editor", "viewer", "none", "missing"] as const).map(canEdit), [true, true, false, false, false])
  })
})

layer(TestLayer, { excludeTestServices: true })("plugin tokens over the database", (it) => {
  const project = (owner: string) =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const db = yield* Database
      const [row] = yield* db.withRole(DbRole.projector, sql<{ id: string }>`
        INSERT INTO public.projects (name, owner_id) VALUES ('tokens', ${owner}::uuid) RETURNING id`)
      return row!.id
    })

  it.effect("a created token is shown once, stored only as its hash, and acts for its project", () =>
    Effect.gen(function*() {
      const tokens = yield* PluginTokens
      const sql = yield* PgClient.PgClient
      const projectId = yield* project(alice)
      const expiresAt = new Date(Date.now() + hour)
      const { info, token } = yield* tokens.create({ projectId, name: "laptop", createdBy: alice, expiresAt })
      assert.match(token, /^cogo_pt_[A-Za-z0-9_-]{43}$/)
      assert.deepStrictEqual(
        { projectId: info.projectId, name: info.name, createdBy: info.createdBy, revokedAt: info.revokedAt, lastUsedAt: info.lastUsedAt },
        { projectId, name: "laptop", createdBy: alice, revokedAt: null, lastUsedAt: null }
      )
      assert.strictEqual(info.expiresAt, expiresAt.toISOString())
      const stored = yield* sql<{ token_hash: string }>`SELECT token_hash FROM cogo.plugin_tokens WHERE id = ${info.id}::uuid`
      assert.deepStrictEqual(stored.map((r) => r.token_hash), [pluginTokenHash(token)])

      assert.deepStrictEqual(yield* tokens.check(token), { _tag: "Valid", tokenId: info.id, projectId, createdBy: alice })
      const [used] = yield* tokens.list(projectId)
      assert.isNotNull(used!.lastUsedAt, "a valid use is recorded")
      assert.deepStrictEqual(yield* tokens.check(`${token}x`), { _tag: "Unknown" })
    }))

  it.effect("a revoked token is refused and stays revoked; an expired one is refused; neither records a use", () =>
    Effect.gen(function*() {
      const tokens = yield* PluginTokens
      const projectId = yield* project(alice)
      const revokedOne = yield* tokens.create({ projectId, name: "old", createdBy: alice, expiresAt: new Date(Date.now() + hour) })
      const revoked = yield* tokens.revoke(projectId, revokedOne.info.id)
      assert.isTrue(Option.isSome(revoked))
      const revokedAt = Option.getOrThrow(revoked).revokedAt
      assert.isNotNull(revokedAt)
      assert.deepStrictEqual(yield* tokens.check(revokedOne.token), { _tag: "Revoked", tokenId: revokedOne.info.id })
      // Revoking again keeps the first revocation time.
      assert.strictEqual(Option.getOrThrow(yield* tokens.revoke(projectId, revokedOne.info.id)).revokedAt, revokedAt)

      const expiredOne = yield* tokens.create({ projectId, name: "expired", createdBy: alice, expiresAt: new Date(Date.now() - 1000) })
      assert.deepStrictEqual(yield* tokens.check(expiredOne.token), { _tag: "Expired", tokenId: expiredOne.info.id })

      const listed = yield* tokens.list(projectId)
      assert.deepStrictEqual(listed.map((t) => [t.name, t.lastUsedAt]), [["expired", null], ["old", null]], "newest first, no uses")
    }))

  it.effect("a token can only be revoked through its own project; malformed ids match nothing", () =>
    Effect.gen(function*() {
      const tokens = yield* PluginTokens
      const mine = yield* project(alice)
      const other = yield* project(bob)
      const { info, token } = yield* tokens.create({ projectId: mine, name: "mine", createdBy: alice, expiresAt: new Date(Date.now() + hour) })
      assert.isTrue(Option.isNone(yield* tokens.revoke(other, info.id)))
      assert.isTrue(Option.isNone(yield* tokens.revoke(mine, "not-a-uuid")))
      assert.strictEqual((yield* tokens.check(token))._tag, "Valid")
      assert.deepStrictEqual(yield* tokens.list(other), [])
    }))

  it.effect("access: member role first, then owner, then none; missing only when no project has the id", () =>
    Effect.gen(function*() {
      const tokens = yield* PluginTokens
      const sql = yield* PgClient.PgClient
      const db = yield* Database
      const projectId = yield* project(alice)
      yield* db.withRole(DbRole.projector, sql`
        INSERT INTO public.project_members (project_id, user_id, role)
        VALUES (${projectId}::uuid, ${bob}::uuid, 'viewer'), (${projectId}::uuid, ${carol}::uuid, 'editor'),
               (${projectId}::uuid, ${dave}::uuid, 'owner')`)
      assert.strictEqual(yield* tokens.access(alice, projectId), "owner")
      assert.strictEqual(yield* tokens.access(alice.toUpperCase(), projectId), "owner")
      assert.strictEqual(yield* tokens.access(bob, projectId), "viewer")
      assert.strictEqual(yield* tokens.access(carol, projectId), "editor")
      assert.strictEqual(yield* tokens.access(dave, projectId), "owner", "a co-owner by membership, not by owner_id")
      assert.strictEqual(yield* tokens.access("d0000000-0000-4000-8000-000000000004", projectId), "none")
      assert.strictEqual(yield* tokens.access(alice, "e0000000-0000-4000-8000-000000000005"), "missing")
      assert.strictEqual(yield* tokens.access("not-a-uuid", projectId), "none")
      assert.strictEqual(yield* tokens.access(alice, "not-a-uuid"), "none")
    }))

  it.effect("access before projection: the canonical project's owner is owner, anyone else none; a deleted one is missing", () =>
    Effect.gen(function*() {
      const tokens = yield* PluginTokens
      const sql = yield* PgClient.PgClient
      const live = "f0000000-0000-4000-8000-000000000006"
      const deleted = "f0000000-0000-4000-8000-000000000007"
      yield* sql`
        INSERT INTO cogo.project_entities (entity_type, id, project_id, state, version, deleted) VALUES
          ('project', ${live}::uuid, ${live}::uuid, ${JSON.stringify({ ownerId: alice.toUpperCase() })}::jsonb, 1, false),
          ('project', ${deleted}::uuid, ${deleted}::uuid, ${JSON.stringify({ ownerId: alice })}::jsonb, 1, true)`
      assert.strictEqual(yield* tokens.access(alice, live), "owner")
      assert.strictEqual(yield* tokens.access(bob, live), "none")
      assert.strictEqual(yield* tokens.access(alice, deleted), "missing")
    }))
})
