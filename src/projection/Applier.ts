/**
 * Claims outbox updates and applies them to `public.*`, one transaction per batch under `DbRole.projector`.
 * This service composes the steps (see docs/projection.md):
 * - `claim.ts`: lock a few projects with due work, read their pending updates (a fresh snapshot);
 * - `apply.ts`: order, supersede, decode, check conflicts (`conflicts.ts`) and write `public.*`, set-based
 *   or one update at a time (failures: `retries.ts`);
 * - `bookkeeping.ts`: statuses, projection state, conflict records and bus events (`busEvents.ts`) in one
 *   statement, in the same transaction: a worker that dies mid-batch leaves nothing behind, and the next
 *   batch re-claims the same updates;
 * - `rebuild.ts`: replay of a project's applied updates; `tracing.ts`: spans in the traces a batch serves.
 */
import { Config, Context, Duration, Effect, Layer, Option } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { applyRows } from "./apply.ts"
import { finishBatch } from "./bookkeeping.ts"
import { claimBatch } from "./claim.ts"
import { projectionClient } from "./client.ts"
import { recordBatch } from "./ProjectionMetrics.ts"
import { rebuildProject } from "./rebuild.ts"
import { makeRetryDelay } from "./retries.ts"
import { type BatchSummary, emptySummary, summarize } from "./summary.ts"
import { traceApply, traceLinks } from "./tracing.ts"

export { type BatchSummary, madeProgress } from "./summary.ts"

export const applierConfig = Config.all({
  batchSize: Config.Int("PROJECTION_BATCH_SIZE").pipe(Config.withDefault(2000)),
  projectsPerBatch: Config.Int("PROJECTION_PROJECTS_PER_BATCH").pipe(Config.withDefault(16)),
  maxAttempts: Config.Int("PROJECTION_MAX_ATTEMPTS").pipe(Config.withDefault(5)),
  retryBaseMillis: Config.Int("PROJECTION_RETRY_BASE_MS").pipe(Config.withDefault(200)),
  retryCapMillis: Config.Int("PROJECTION_RETRY_CAP_MS").pipe(Config.withDefault(30_000))
})
export type ApplierConfig = typeof applierConfig extends Config.Config<infer A> ? A : never

export class ProjectionApplier extends Context.Service<ProjectionApplier, {
  /** Claims and applies one batch in its own transaction under the projector role. */
  readonly processBatch: Effect.Effect<BatchSummary, SqlError>
  /**
   * Rebuilds one project's `public.*` rows from its applied updates, holding the project's lock: deletes
   * the project's entity rows (the project row and its members stay) and projection state, then replays
   * (no conflict checks, statuses unchanged).
   */
  readonly rebuildProject: (projectId: string) => Effect.Effect<{ readonly replayed: number }, SqlError>
  /** The delay before retry number `attempt` (1-based), or none when the update should become a dead letter. */
  readonly retryDelay: (attempt: number) => Effect.Effect<Option.Option<Duration.Duration>>
}>()("cogo/ProjectionApplier") {
  static readonly layer = Layer.effect(
    ProjectionApplier,
    Effect.gen(function*() {
      const config = yield* applierConfig
      return yield* makeApplier(config)
    })
  )

  /** The applier with explicit configuration (tests, bench). */
  static readonly layerWith = (config: ApplierConfig) => Layer.effect(ProjectionApplier, makeApplier(config))
}

const makeApplier = (config: ApplierConfig) =>
  Effect.gen(function*() {
    const sql = yield* projectionClient
    const retryDelay = makeRetryDelay(config)

    /** One claim-apply-acknowledge transaction. */
    const batchIn = (mode: "set" | "isolated") =>
      sql.withTransaction(Effect.gen(function*() {
        // The claim's first statement switches the transaction to the projector role.
        const claim = yield* claimBatch(sql, config)
        if (claim.rows.length === 0) return emptySummary
        const rows = claim.rows
        return yield* Effect.scoped(Effect.gen(function*() {
          yield* traceApply(rows)
          const { decided, state, deferred } = yield* applyRows(sql, claim, mode === "set" ? { mode, replay: false } : { mode, retryDelay }).pipe(
            Effect.withSpan("Projection.applyBatch", { links: traceLinks(rows), attributes: { "cogo.batch.updates": rows.length, "cogo.batch.mode": mode } })
          )
          yield* finishBatch(sql, state, decided, deferred)
          return summarize(rows.length, decided, mode, claim.projects >= config.projectsPerBatch || rows.length >= config.batchSize)
        }))
      }))

    const processBatch = Effect.gen(function*() {
      const start = performance.now()
      // A set-based batch fails as a whole (one bad update aborts the transaction): redo it one by one.
      const summary = yield* batchIn("set").pipe(
        Effect.catchTag("SqlError", (error) =>
          Effect.logDebug("set-based projection batch failed; re-applying one update at a time", error).pipe(
            Effect.andThen(batchIn("isolated"))
          ))
      )
      if (summary.claimed > 0) yield* recordBatch(summary, (performance.now() - start) / 1000)
      return summary
    }).pipe(Effect.withSpan("Projection.processBatch"))

    return ProjectionApplier.of({
      processBatch,
      rebuildProject: (projectId) => rebuildProject(sql, projectId, config.batchSize),
      retryDelay
    })
  })
