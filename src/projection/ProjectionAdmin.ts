/**
 * Operating the projection: dead letters (list, retry), recorded conflicts (list) and rebuilds of
 * `public.*` from the outbox. Used by the ProjectionApi endpoints and `npm run projection:rebuild`.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Schema } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { Database, DbRole } from "../services/platform/Database.ts"
import { Notifications } from "../services/platform/Notifications.ts"
import { ProjectionApplier } from "./Applier.ts"
import { outboxRowIdentity } from "./rows.ts"

export const DeadLetter = Schema.Struct({
  id: Schema.Number,
  aggregateType: Schema.String,
  aggregateId: Schema.String,
  projectId: Schema.String,
  seq: Schema.Number,
  updateType: Schema.String,
  schemaVersion: Schema.Number,
  attempts: Schema.Number,
  lastError: Schema.NullOr(Schema.String),
  createdAt: Schema.String
})
export type DeadLetter = typeof DeadLetter.Type

export const ProjectionConflict = Schema.Struct({
  id: Schema.Number,
  updateId: Schema.Number,
  aggregateType: Schema.String,
  aggregateId: Schema.String,
  projectId: Schema.String,
  kind: Schema.Literals(["edited_by_user", "deleted_by_user"]),
  publicVersion: Schema.NullOr(Schema.Number),
  baseVersion: Schema.NullOr(Schema.Number),
  userId: Schema.NullOr(Schema.String),
  createdAt: Schema.String
})
export type ProjectionConflict = typeof ProjectionConflict.Type

export class DeadLetterNotFound extends Schema.TaggedError<DeadLetterNotFound>()("DeadLetterNotFound", {
  id: Schema.Number
}) {}

export interface ListOptions {
  readonly projectId?: string | undefined
  readonly afterId?: number | undefined
  readonly limit?: number | undefined
}

const iso = (value: Date | string) => value instanceof Date ? value.toISOString() : new Date(value).toISOString()
const numberOrNull = (value: string | number | null) => value === null ? null : Number(value)

export class ProjectionAdmin extends Context.Service<ProjectionAdmin, {
  readonly listDeadLetters: (options: ListOptions) => Effect.Effect<ReadonlyArray<DeadLetter>, SqlError>
  /** Puts a dead letter back in the queue with a fresh retry budget. */
  readonly retryDeadLetter: (id: number) => Effect.Effect<void, DeadLetterNotFound | SqlError>
  readonly listConflicts: (options: ListOptions) => Effect.Effect<ReadonlyArray<ProjectionConflict>, SqlError>
  /** Rebuilds `public.*` of one project, or of every project in the outbox. */
  readonly rebuild: (projectId?: string) => Effect.Effect<ReadonlyArray<{ readonly projectId: string; readonly replayed: number }>, SqlError>
}>()("cogo/ProjectionAdmin") {
  static readonly layer = Layer.effect(
    ProjectionAdmin,
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const database = yield* Database
      const notifications = yield* Notifications
      const applier = yield* ProjectionApplier

      const listDeadLetters = Effect.fn("ProjectionAdmin.listDeadLetters")(function*(options: ListOptions) {
        const rows = yield* sql<{
          id: string; aggregate_type: string; aggregate_id: string; project_id: string; seq: string; update_type: string
          schema_version: number; attempts: number; last_error: string | null; created_at: Date
        }>`
          SELECT u.id, u.aggregate_type, u.aggregate_id, u.project_id, u.seq, u.update_type, u.schema_version, u.attempts, u.last_error, u.created_at
          FROM cogo.project_updates_open o JOIN cogo.project_updates u ON u.id = o.id
          WHERE o.dead AND u.status = 'dead' AND o.id > ${options.afterId ?? 0}
            ${options.projectId === undefined ? sql`` : sql`AND o.project_id = ${options.projectId}`}
          ORDER BY o.id LIMIT ${options.limit ?? 100}`
        return rows.map((row): DeadLetter => ({
          ...outboxRowIdentity(row),
          attempts: row.attempts,
          lastError: row.last_error,
          createdAt: iso(row.created_at)
        }))
      })

      const retryDeadLetter = Effect.fn("ProjectionAdmin.retryDeadLetter")(function*(id: number) {
        const rows = yield* database.withRole(DbRole.projector, Effect.gen(function*() {
          const updated = yield* sql<{ id: string }>`
            UPDATE cogo.project_updates SET status = 'pending', attempts = 0, next_attempt_at = NULL
            WHERE id = ${id} AND status = 'dead' RETURNING id`
          if (updated.length > 0) yield* notifications.notify("outbox", "retry")
          return updated
        }))
        if (rows.length === 0) return yield* new DeadLetterNotFound({ id })
      })

      const listConflicts = Effect.fn("ProjectionAdmin.listConflicts")(function*(options: ListOptions) {
        const rows = yield* sql<{
          id: string; update_id: string; aggregate_type: string; aggregate_id: string; project_id: string; kind: ProjectionConflict["kind"]
          public_version: string | null; base_version: string | null; user_id: string | null; created_at: Date
        }>`
          SELECT id, update_id, aggregate_type, aggregate_id, project_id, kind, public_version, base_version, user_id, created_at
          FROM cogo.projection_conflicts
          WHERE id > ${options.afterId ?? 0}
            ${options.projectId === undefined ? sql`` : sql`AND project_id = ${options.projectId}`}
          ORDER BY id LIMIT ${options.limit ?? 100}`
        return rows.map((row): ProjectionConflict => ({
          id: Number(row.id),
          updateId: Number(row.update_id),
          aggregateType: row.aggregate_type,
          aggregateId: row.aggregate_id,
          projectId: row.project_id,
          kind: row.kind,
          publicVersion: numberOrNull(row.public_version),
          baseVersion: numberOrNull(row.base_version),
          userId: row.user_id,
          createdAt: iso(row.created_at)
        }))
      })

      const rebuild = Effect.fn("ProjectionAdmin.rebuild")(function*(projectId?: string) {
        const projects = projectId === undefined
          ? (yield* sql<{ project_id: string }>`SELECT DISTINCT project_id FROM cogo.project_updates ORDER BY project_id`).map((r) => r.project_id)
          : [projectId]
        return yield* Effect.forEach(projects, (id) =>
          Effect.map(applier.rebuildProject(id), ({ replayed }) => ({ projectId: id, replayed })))
      })

      return ProjectionAdmin.of({ listDeadLetters, retryDeadLetter, listConflicts, rebuild })
    })
  )
}
