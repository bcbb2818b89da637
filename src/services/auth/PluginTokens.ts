/**
 * Per-project plugin tokens and the project access checks of the Figma plugin's uploads.
 *
 * A project owner creates a token (name, expiry) for the Figma plugin, lists and revokes them. A token is
 * `cogo_pt_` + 32 random bytes (base64url); only its SHA-256 is stored (cogo.plugin_tokens), so it is shown
 * once, at creation. A token acts for ONE project: it can upload into that project while it is neither revoked
 * nor expired, and it can never create a project. Tokens are looked up by hash (a unique index), so a guessed
 * token costs one indexed read and matches nothing.
 *
 * `access(userId, projectId)` is the role a user holds on a project: the `public.project_members` role, else
 * owner when `public.projects.owner_id` (or, before projection, the canonical project's `ownerId`) is the user;
 * `none` for a project that exists without them; `missing` when no project has the id (an upload may then
 * create it for that user).
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Option } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { createHash, randomBytes } from "node:crypto"
import { isUuid } from "../../domain/platform/Uuid.ts"
import { Database, DbRole } from "../platform/Database.ts"

export const pluginTokenPrefix = "cogo_pt_"

/** True when a bearer credential is a plugin token (not a JWT). */
export const isPluginToken = (credential: string): boolean => credential.startsWith(pluginTokenPrefix)

/** Hex SHA-256 of a token: what is stored and looked up. */
export const pluginTokenHash = (token: string): string => createHash("sha256").update(token).digest("hex")

export type ProjectAccess = "owner" | "editor" | "viewer" | "none" | "missing"

/** Roles that may write into a project (import, plugin upload). */
export const canEdit = (access: ProjectAccess): boolean => access === "owner" || access === "editor"

/** A token as listed (never the secret). */
export interface PluginTokenInfo {
  readonly id: string
  readonly projectId: string
  readonly name: string
  readonly createdBy: string
  readonly createdAt: string
  readonly expiresAt: string
  readonly revokedAt: string | null
  readonly lastUsedAt: string | null
}

/** What a presented token resolves to. `Valid` acts for `projectId`; the others are refused. */
export type TokenCheck =
  | { readonly _tag: "Valid"; readonly tokenId: string; readonly projectId: string; readonly createdBy: string }
  | { readonly _tag: "Revoked" | "Expired"; readonly tokenId: string }
  | { readonly _tag: "Unknown" }

interface TokenRow {
  readonly id: string
  readonly project_id: string
  readonly name: string
  readonly created_by: string
  readonly created_at: Date
  readonly expires_at: Date
  readonly revoked_at: Date | null
  readonly last_used_at: Date | null
}

const toInfo = (row: TokenRow): PluginTokenInfo => ({
  id: row.id,
  projectId: row.project_id,
  name: row.name,
  createdBy: row.created_by,
  createdAt: row.created_at.toISOString(),
  expiresAt: row.expires_at.toISOString(),
  revokedAt: row.revoked_at === null ? null : row.revoked_at.toISOString(),
  lastUsedAt: row.last_used_at === null ? null : row.last_used_at.toISOString()
})

const tokenColumns = "id, project_id, name, created_by, created_at, expires_at, revoked_at, last_used_at"

export class PluginTokens extends Context.Service<PluginTokens, {
  /** The role `userId` holds on `projectId` (see above). */
  readonly access: (userId: string, projectId: string) => Effect.Effect<ProjectAccess, SqlError>
  /** Creates a token (the caller checked that the user owns the project); the secret is returned once. */
  readonly create: (input: {
    readonly projectId: string
    readonly name: string
    readonly createdBy: string
    readonly expiresAt: Date
  }) => Effect.Effect<{ readonly info: PluginTokenInfo; readonly token: string }, SqlError>
  /** The project's tokens, newest first (revoked and expired ones included, marked). */
  readonly list: (projectId: string) => Effect.Effect<ReadonlyArray<PluginTokenInfo>, SqlError>
  /** Revokes one of the project's tokens; None when the project has no such token. */
  readonly revoke: (projectId: string, tokenId: string) => Effect.Effect<Option.Option<PluginTokenInfo>, SqlError>
  /** Resolves a presented token (and records its use when valid). */
  readonly check: (token: string) => Effect.Effect<TokenCheck, SqlError>
}>()("cogo/PluginTokens") {
  static readonly layer = Layer.effect(
    PluginTokens,
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const database = yield* Database
      const asAgent = <A, E, R>(effect: Effect.Effect<A, E, R>) => database.withRole(DbRole.agent, effect)

      const access = Effect.fn("PluginTokens.access")(function*(userId: string, projectId: string) {
        if (!isUuid(userId) || !isUuid(projectId)) return "none" as const
        const rows = yield* asAgent(sql<{
          readonly member_role: string | null
          readonly owner_id: string | null
          readonly canonical_owner: string | null
          readonly canonical_live: boolean
        }>`
          SELECT
            (SELECT role FROM public.project_members WHERE project_id = ${projectId}::uuid AND user_id = ${userId}::uuid) AS member_role,
            (SELECT owner_id::text FROM public.projects WHERE id = ${projectId}::uuid) AS owner_id,
            (SELECT state->>'ownerId' FROM cogo.project_entities
              WHERE entity_type = 'project' AND id = ${projectId}::uuid AND NOT deleted) AS canonical_owner,
            EXISTS (SELECT 1 FROM cogo.project_entities
              WHERE entity_type = 'project' AND id = ${projectId}::uuid AND NOT deleted) AS canonical_live`)
        const row = rows[0]
        const user = userId.toLowerCase()
        if (row === undefined) return "missing" as const
        if (row.member_role === "owner" || row.member_role === "editor" || row.member_role === "viewer") return row.member_role
        if (row.owner_id?.toLowerCase() === user || row.canonical_owner?.toLowerCase() === user) return "owner" as const
        return row.owner_id !== null || row.canonical_live ? "none" as const : "missing" as const
      })

      const create = Effect.fn("PluginTokens.create")(function*(input: {
        readonly projectId: string
        readonly name: string
        readonly createdBy: string
        readonly expiresAt: Date
      }) {
        const token = `${pluginTokenPrefix}${randomBytes(32).toString("base64url")}`
        const rows = yield* asAgent(sql<TokenRow>`
          INSERT INTO cogo.plugin_tokens (project_id, name, token_hash, created_by, expires_at)
          VALUES (${input.projectId}::uuid, ${input.name}, ${pluginTokenHash(token)}, ${input.createdBy}::uuid, ${input.expiresAt})
          RETURNING ${sql.unsafe(tokenColumns)}`)
        return { info: toInfo(rows[0]!), token }
      })

      const list = Effect.fn("PluginTokens.list")(function*(projectId: string) {
        const rows = yield* asAgent(sql<TokenRow>`
          SELECT ${sql.unsafe(tokenColumns)} FROM cogo.plugin_tokens
          WHERE project_id = ${projectId}::uuid ORDER BY created_at DESC, id`)
        return rows.map(toInfo)
      })

      const revoke = Effect.fn("PluginTokens.revoke")(function*(projectId: string, tokenId: string) {
        if (!isUuid(tokenId)) return Option.none()
        const rows = yield* asAgent(sql<TokenRow>`
          UPDATE cogo.plugin_tokens SET revoked_at = coalesce(revoked_at, now())
          WHERE id = ${tokenId}::uuid AND project_id = ${projectId}::uuid
          RETURNING ${sql.unsafe(tokenColumns)}`)
        return Option.map(Option.fromNullishOr(rows[0]), toInfo)
      })

      const check = Effect.fn("PluginTokens.check")(function*(token: string) {
        // Uses are recorded at most once a minute per token (no write per upload burst).
        const rows = yield* asAgent(sql<TokenRow & { readonly expired: boolean }>`
          WITH found AS (
            SELECT ${sql.unsafe(tokenColumns)}, expires_at <= now() AS expired
            FROM cogo.plugin_tokens WHERE token_hash = ${pluginTokenHash(token)}
          ), used AS (
            UPDATE cogo.plugin_tokens t SET last_used_at = now()
            FROM found
            WHERE t.id = found.id AND found.revoked_at IS NULL AND NOT found.expired
              AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute')
          )
          SELECT * FROM found`)
        const row = rows[0]
        if (row === undefined) return { _tag: "Unknown" } as const satisfies TokenCheck
        if (row.revoked_at !== null) return { _tag: "Revoked", tokenId: row.id } as const satisfies TokenCheck
        if (row.expired) return { _tag: "Expired", tokenId: row.id } as const satisfies TokenCheck
        return { _tag: "Valid", tokenId: row.id, projectId: row.project_id, createdBy: row.created_by } as const satisfies TokenCheck
      })

      return PluginTokens.of({ access, create, list, revoke, check })
    })
  )
}
