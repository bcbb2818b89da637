/**
 * Members resolve the conflicts the projection recorded when an agent update met a newer user edit
 * (`public.project_conflicts`, migration 0015; policy in docs/projection.md). One transaction per
 * resolution, which starts as the caller (role `authenticated` + claims: the conflict must be visible to
 * them and they must be an editor of its project) and then switches to `cogo_agent` to write cogo.*:
 * - `mine`: the user's row stays as it is (and user-owned: a later agent update conflicts again);
 * - `theirs`: the agent's current canonical state goes to the outbox with the public row's version as its
 *   base, so the projection applies it (the row is the projector's again); a deleted canonical entity is
 *   deleted likewise;
 * - `merge`: a field-level three-way merge (src/domain/authoring/Merge.ts) of the last state the projector
 *   applied (base), the public row (mine) and the canonical state (theirs), written as the user with the
 *   version read (a concurrent edit makes it refuse); overlapping fields refuse with their paths.
 * The choice is recorded with who made it for the conflict and the older open conflicts of the same entity,
 * and announced as `conflict.resolved` on the project's realtime stream.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Option, Schema } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { type Json, threeWayMerge } from "../../domain/authoring/Merge.ts"
import type { EntityKind } from "../../domain/cqrs/ProjectUpdate.ts"
import type { EntityCommand, ProjectCommandError } from "../cqrs/ProjectCommands.ts"
import { ProjectCommands } from "../cqrs/ProjectCommands.ts"
import { Database, DbRole, type JwtClaims } from "../platform/Database.ts"
import { EventBus } from "../platform/EventBus.ts"

export const ResolutionChoice = Schema.Literals(["mine", "theirs", "merge"])
export type ResolutionChoice = typeof ResolutionChoice.Type

/** Why a resolution was refused: 404 not visible, 403 not an editor, 409 already resolved / overlap / moved on. */
export class ResolutionRefused extends Schema.TaggedError<ResolutionRefused>()("ResolutionRefused", {
  status: Schema.Number,
  reason: Schema.Literals(["not_found", "forbidden", "resolved", "overlap", "changed", "no_base", "gone"]),
  message: Schema.String,
  paths: Schema.optionalKey(Schema.Array(Schema.String))
}) {}

export interface Resolution {
  readonly conflictId: number
  readonly choice: ResolutionChoice
  readonly resolvedBy: string
  /** merge: the public version the merged row got. */
  readonly version?: number
  /** theirs: the outbox update that carries the agent's state. */
  readonly updateId?: number
}

const tableOf = (kind: string) => `public."${kind}s"`
const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
const asObject = (value: unknown): Record<string, Json> =>
  typeof value === "object" && value !== null && !Array.isArray(value) ? value as Record<string, Json> : {}

export class Conflicts extends Context.Service<Conflicts, {
  readonly resolve: (
    claims: JwtClaims,
    conflictId: number,
    choice: ResolutionChoice
  ) => Effect.Effect<Resolution, ResolutionRefused | ProjectCommandError | SqlError>
}>()("cogo/Conflicts") {
  static readonly layer = Layer.effect(
    Conflicts,
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const db = yield* Database
      const commands = yield* ProjectCommands
      const bus = yield* EventBus

      const refuse = (status: number, reason: ResolutionRefused["reason"], message: string, paths?: ReadonlyArray<string>) =>
        Effect.fail(new ResolutionRefused({ status, reason, message, ...(paths === undefined ? {} : { paths }) }))

      const switchRole = (role: DbRole) => sql`SELECT set_config('role', ${role}, true)`

      /** The public row of the entity, as JSON, locked. */
      const publicRow = (kind: string, id: string) =>
        Effect.map(
          sql<{ row: Record<string, Json> }>`SELECT to_jsonb(t) AS row FROM ${sql.unsafe(tableOf(kind))} t WHERE id = ${id} FOR UPDATE`,
          (rows) => rows[0]?.row
        )

      /** Writes the merged state as the user (still the user's transaction role), guarded by the version read. */
      const writeMerged = (kind: string, id: string, version: number, state: Record<string, Json>) =>
        Effect.gen(function*() {
          const columns = Object.keys(state).map(snake).filter((column) => column !== "id" && column !== "project_id")
          const list = columns.map((column) => `"${column}"`).join(", ")
          const row = Object.fromEntries(Object.entries(state).map(([key, value]) => [snake(key), value]))
          const updated = yield* sql<{ version: string }>`
            UPDATE ${sql.unsafe(tableOf(kind))} t SET (${sql.unsafe(list)}) = (
              SELECT ${sql.unsafe(list)} FROM jsonb_populate_record(NULL::${sql.unsafe(tableOf(kind))}, ${JSON.stringify(row)}::jsonb))
            WHERE id = ${id} AND version = ${version}
            RETURNING version`
          return updated[0] === undefined ? undefined : Number(updated[0].version)
        })

      const resolve = Effect.fn("Conflicts.resolve")(function*(claims: JwtClaims, conflictId: number, choice: ResolutionChoice) {
        return yield* db.asUser(claims, Effect.gen(function*() {
          const found = yield* sql<{
            project_id: string
            aggregate_type: EntityKind
            aggregate_id: string
            update_id: string
            status: string
            editor: boolean
          }>`
            SELECT project_id, aggregate_type, aggregate_id, update_id, status, public.is_project_member(project_id, 'editor') AS editor
            FROM public.project_conflicts WHERE id = ${conflictId}`
          const conflict = found[0]
          if (conflict === undefined) return yield* refuse(404, "not_found", `no conflict ${conflictId} in your projects`)
          if (!conflict.editor) return yield* refuse(403, "forbidden", "only the project's owners and editors resolve conflicts")
          if (conflict.status !== "open") return yield* refuse(409, "resolved", `conflict ${conflictId} is already resolved`)
          const kind = conflict.aggregate_type
          const id = conflict.aggregate_id
          const row = yield* publicRow(kind, id)
          let version: number | undefined = undefined
          // From here on the service reads and writes cogo.* (and the outbox) as the agent role, in the same
          // transaction; only the merged row is written as the user again.
          yield* switchRole(DbRole.agent)
          const canonical = yield* commands.get(kind, id)
          const gone = Option.isNone(canonical) || canonical.value.deleted
          let updateId: number | undefined = undefined

          if (choice === "merge") {
            if (row === undefined) return yield* refuse(409, "gone", "the row was deleted: keep the deletion (mine) or take the agent's state (theirs)")
            if (gone) return yield* refuse(409, "gone", "the agent deleted the entity: keep yours (mine) or take the deletion (theirs)")
            const theirs = asObject(canonical.value.state)
            const bases = yield* sql<{ payload: Json }>`
              SELECT CASE WHEN schema_version = 1 THEN payload ELSE payload -> 'state' END AS payload FROM cogo.project_updates
              WHERE aggregate_id = ${id} AND aggregate_type = ${kind} AND status = 'applied' AND update_type LIKE '%.upserted'
              ORDER BY seq DESC LIMIT 1`
            if (bases[0] === undefined) return yield* refuse(409, "no_base", "no projected state to merge from: choose mine or theirs")
            const mine = Object.fromEntries(Object.keys(theirs).map((key) => [key, row[snake(key)] ?? null]))
            const merged = threeWayMerge(bases[0].payload, mine, theirs)
            if (merged._tag === "Overlap") {
              return yield* refuse(409, "overlap", "both sides changed the same fields: choose mine or theirs", merged.paths.map((path) => path.join(".")))
            }
            yield* switchRole(DbRole.authenticated)
            version = yield* writeMerged(kind, id, Number(row["version"]), asObject(merged.value))
            if (version === undefined) return yield* refuse(409, "changed", "the row changed meanwhile: re-read and resolve again")
            yield* switchRole(DbRole.agent)
          }

          // Both sides deleted it: nothing to write.
          if (choice === "theirs" && !(gone && row === undefined)) {
            const base = row === undefined ? 0 : Number(row["version"])
            const command = gone
              ? { _tag: "delete", kind, id, baseVersion: base, origin: "conflict-resolution" }
              : { _tag: "upsert", kind, state: canonical.value.state, baseVersion: base, origin: "conflict-resolution" }
            const [written] = yield* commands.write([command as EntityCommand])
            updateId = written?.updateId
          }
          const recorded = yield* sql<{ conflict_id: string }>`
            INSERT INTO cogo.conflict_resolutions (conflict_id, choice, resolved_by, result_version, update_id)
            SELECT c.id, ${choice}, ${claims.sub}, ${version ?? null}, ${updateId ?? null}
            FROM cogo.projection_conflicts c
            WHERE c.aggregate_id = ${id} AND c.aggregate_type = ${kind} AND c.id <= ${conflictId}
              AND NOT EXISTS (SELECT 1 FROM cogo.conflict_resolutions r WHERE r.conflict_id = c.id)
            ON CONFLICT (conflict_id) DO NOTHING
            RETURNING conflict_id`
          if (!recorded.some((r) => Number(r.conflict_id) === conflictId)) {
            return yield* refuse(409, "resolved", `conflict ${conflictId} is already resolved`)
          }
          const resolution: Resolution = {
            conflictId,
            choice,
            resolvedBy: claims.sub,
            ...(version === undefined ? {} : { version }),
            ...(updateId === undefined ? {} : { updateId })
          }
          yield* bus.publish({
            topic: "project",
            kind: "conflict.resolved",
            projectId: conflict.project_id,
            payload: { ...resolution, aggregateType: kind, aggregateId: id, resolved: recorded.map((r) => Number(r.conflict_id)) }
          })
          return resolution
        }))
      })

      return Conflicts.of({ resolve })
    })
  )
}
