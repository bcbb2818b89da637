/**
 * Retention: prunes what grows with traffic, on the leader only, every `COGO_RETENTION_INTERVAL` (1 min).
 *
 * | table | pruned | age key (default) |
 * |---|---|---|
 * | `cogo.bus_events` | older than the age (realtime replay from a pruned id answers `reset`) | `COGO_RETAIN_BUS_EVENTS` (7 d) |
 * | `cogo.jobs` (+ their `job_events`) | finished (succeeded, dead, cancelled) longer ago than the age | `COGO_RETAIN_FINISHED_JOBS` (14 d) |
 * | `cogo.job_events` | older than the age (events of long-running jobs) | `COGO_RETAIN_JOB_EVENTS` (14 d) |
 * | `cogo.project_updates` | superseded, or applied with a newer applied update of the same aggregate (a rebuild replays the latest state only) | `COGO_RETAIN_OUTBOX` (7 d) |
 * | `cogo.idempotency_keys` | expired | (their own `expires_at`) |
 * | `cogo.rate_buckets` | idle (full again) | `COGO_RETAIN_RATE_BUCKETS` (1 h) |
 * | `cogo.chat_runs` (+ their `chat_frames`) | finished, or silent (no heartbeat), longer ago than the age | `COGO_CHAT_RETENTION` (10 min) |
 *
 * Deletes run in batches of `COGO_RETENTION_BATCH` (1,000) rows, one short transaction each, oldest first,
 * with a pause between batches: they lock only old rows nothing else touches, so claims, appends and reads
 * never wait on them.
 */
import { Config, Duration, Effect, Layer, Metric, Schedule } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Database, DbRole } from "./Database.ts"
import { whenLeader } from "./Leader.ts"

const retentionConfig = Config.all({
  interval: Config.Duration("COGO_RETENTION_INTERVAL").pipe(Config.withDefault(Duration.minutes(1))),
  batch: Config.Int("COGO_RETENTION_BATCH").pipe(Config.withDefault(1000)),
  pause: Config.Duration("COGO_RETENTION_PAUSE").pipe(Config.withDefault(Duration.millis(20))),
  busEvents: Config.Duration("COGO_RETAIN_BUS_EVENTS").pipe(Config.withDefault(Duration.days(7))),
  finishedJobs: Config.Duration("COGO_RETAIN_FINISHED_JOBS").pipe(Config.withDefault(Duration.days(14))),
  jobEvents: Config.Duration("COGO_RETAIN_JOB_EVENTS").pipe(Config.withDefault(Duration.days(14))),
  outbox: Config.Duration("COGO_RETAIN_OUTBOX").pipe(Config.withDefault(Duration.days(7))),
  rateBuckets: Config.Duration("COGO_RETAIN_RATE_BUCKETS").pipe(Config.withDefault(Duration.hours(1))),
  chatRuns: Config.Duration("COGO_CHAT_RETENTION").pipe(Config.withDefault(Duration.minutes(10)))
})

/** Rows deleted by one pass, per table. */
type RetentionReport = Readonly<Record<"busEvents" | "jobs" | "jobEvents" | "outbox" | "idempotencyKeys" | "rateBuckets" | "chatRuns", number>>

const pruned = Metric.counter("retention_rows_deleted_total", { description: "Rows deleted by retention", incremental: true })

/** Prunes on the configured schedule while this replica leads (a background duty; it provides nothing). */
export const RetentionLive = Layer.effectDiscard(
  Effect.gen(function*() {
    const config = yield* retentionConfig
    const sql = yield* SqlClient
    const db = yield* Database
    const seconds = (age: Duration.Duration) => Duration.toMillis(age) / 1000
    const n = config.batch

    // Each statement deletes at most one batch and returns how many rows it deleted.
    const statements = {
      // The watermark moves in the same statement as the delete, so a replay never misses a deletion.
      busEvents: sql<{ n: string }>`
        WITH gone AS (
          DELETE FROM cogo.bus_events WHERE id IN (
            SELECT id FROM cogo.bus_events WHERE created_at < now() - make_interval(secs => ${seconds(config.busEvents)}) ORDER BY created_at LIMIT ${n})
          RETURNING id),
        mark AS (
          UPDATE cogo.retention_state SET pruned_through = greatest(pruned_through, (SELECT max(id) FROM gone)), updated_at = now()
          WHERE name = 'bus_events' AND EXISTS (SELECT 1 FROM gone))
        SELECT count(*) AS n FROM gone`,
      jobs: sql<{ n: string }>`
        WITH gone AS (
          DELETE FROM cogo.jobs WHERE id IN (
            SELECT id FROM cogo.jobs WHERE finished_at < now() - make_interval(secs => ${seconds(config.finishedJobs)})
              AND state IN ('succeeded', 'dead', 'cancelled') ORDER BY finished_at LIMIT ${n})
          RETURNING id),
        events AS (DELETE FROM cogo.job_events WHERE job_id IN (SELECT id FROM gone))
        SELECT count(*) AS n FROM gone`,
      jobEvents: sql<{ n: string }>`
        WITH gone AS (
          DELETE FROM cogo.job_events WHERE id IN (
            SELECT id FROM cogo.job_events WHERE created_at < now() - make_interval(secs => ${seconds(config.jobEvents)}) ORDER BY created_at LIMIT ${n})
          RETURNING 1)
        SELECT count(*) AS n FROM gone`,
      outbox: sql<{ n: string }>`
        WITH gone AS (
          DELETE FROM cogo.project_updates WHERE id IN (
            SELECT u.id FROM cogo.project_updates u
            WHERE u.status IN ('applied', 'superseded') AND u.applied_at < now() - make_interval(secs => ${seconds(config.outbox)})
              AND (u.status = 'superseded' OR EXISTS (
                SELECT 1 FROM cogo.project_updates later
                WHERE later.aggregate_id = u.aggregate_id AND later.aggregate_type = u.aggregate_type
                  AND later.seq > u.seq AND later.status = 'applied'))
              -- Primary-key order (no index names applied_at, migration 0023), up to the first young row.
              AND u.id < coalesce((SELECT y.id FROM cogo.project_updates y
                WHERE y.created_at >= now() - make_interval(secs => ${seconds(config.outbox)}) ORDER BY y.id LIMIT 1), 9223372036854775807)
            ORDER BY u.id LIMIT ${n})
          RETURNING 1)
        SELECT count(*) AS n FROM gone`,
      idempotencyKeys: sql<{ n: string }>`
        WITH gone AS (
          DELETE FROM cogo.idempotency_keys WHERE ctid IN (
            SELECT ctid FROM cogo.idempotency_keys WHERE expires_at < now() ORDER BY expires_at LIMIT ${n})
          RETURNING 1)
        SELECT count(*) AS n FROM gone`,
      rateBuckets: sql<{ n: string }>`
        WITH gone AS (
          DELETE FROM cogo.rate_buckets WHERE key IN (
            SELECT key FROM cogo.rate_buckets WHERE updated_at < now() - make_interval(secs => ${seconds(config.rateBuckets)}) LIMIT ${n})
          RETURNING 1)
        SELECT count(*) AS n FROM gone`,
      // A run's frames go with it (ON DELETE CASCADE); `created_at` bounds the scan, the rest picks ended runs.
      chatRuns: sql<{ n: string }>`
        WITH gone AS (
          DELETE FROM cogo.chat_runs WHERE id IN (
            SELECT id FROM cogo.chat_runs WHERE created_at < now() - make_interval(secs => ${seconds(config.chatRuns)})
              AND coalesce(finished_at, heartbeat_at) < now() - make_interval(secs => ${seconds(config.chatRuns)})
            ORDER BY created_at LIMIT ${n})
          RETURNING 1)
        SELECT count(*) AS n FROM gone`
    } as const

    const pruneTable = (table: keyof typeof statements) =>
      Effect.gen(function*() {
        let total = 0
        for (;;) {
          const [row] = yield* db.withRole(DbRole.agent, statements[table])
          const deleted = Number(row?.n ?? 0)
          total += deleted
          if (deleted < n) break
          yield* Effect.sleep(config.pause)
        }
        if (total > 0) yield* Metric.update(Metric.withAttributes(pruned, { table }), total)
        return total
      })

    // One full pass over every table (each table until a batch comes back short).
    const runOnce = Effect.gen(function*() {
      const report: Record<string, number> = {}
      for (const table of Object.keys(statements) as Array<keyof typeof statements>) report[table] = yield* pruneTable(table)
      return report as RetentionReport
    }).pipe(Effect.withSpan("Retention.runOnce"))

    yield* whenLeader(runOnce).pipe(
      Effect.tap((report) => report._tag === "Some" && Object.values(report.value).some((count) => count > 0)
        ? Effect.logInfo("retention pass").pipe(Effect.annotateLogs(report.value))
        : Effect.void),
      Effect.catchCause((cause) => Effect.logWarning("retention pass failed; retrying at the next interval", cause)),
      Effect.repeat(Schedule.spaced(config.interval)),
      Effect.forkScoped
    )
  })
)
