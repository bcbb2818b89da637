/** Projection metrics, served by the metrics server like every registered effect `Metric`. */
import { Effect, Metric } from "effect"
import { latencyBuckets } from "../services/observability/Metrics.ts"
import type { BatchSummary } from "./summary.ts"

export const updatesProcessed = Metric.counter("projection_updates_total", {
  description: "Outbox updates processed by the projection worker, by outcome (applied, superseded, conflict, retried, dead)",
  incremental: true
})
export const conflictsTotal = Metric.counter("projection_conflicts_total", {
  description: "Updates not applied because a user edited the public row after the update's base version",
  incremental: true
})
export const deadLettersTotal = Metric.counter("projection_dead_letters_total", {
  description: "Updates parked as dead letters (undecodable, or still failing after the retry schedule)",
  incremental: true
})
export const batchDuration = Metric.histogram("projection_batch_duration_seconds", {
  description: "Duration of one claim-apply-acknowledge transaction",
  boundaries: latencyBuckets
})
export const batchSize = Metric.histogram("projection_batch_updates", {
  description: "Updates claimed per batch",
  boundaries: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
})
export const outboxPending = Metric.gauge("projection_outbox_pending", {
  description: "Outbox updates not yet applied (status pending), sampled"
})
export const outboxOldestPendingAge = Metric.gauge("projection_outbox_oldest_pending_age_seconds", {
  description: "Age of the oldest pending outbox update (0 when none), sampled"
})
export const deadLettersParked = Metric.gauge("projection_dead_letters", {
  description: "Dead letters currently parked (status dead), sampled"
})

/** Records one batch that claimed updates: its duration, size and outcomes. */
export const recordBatch = (summary: BatchSummary, seconds: number) =>
  Effect.all([
    Metric.update(batchDuration, seconds),
    Metric.update(batchSize, summary.claimed),
    Metric.update(Metric.withAttributes(updatesProcessed, { outcome: "applied" }), summary.applied),
    Metric.update(Metric.withAttributes(updatesProcessed, { outcome: "superseded" }), summary.superseded),
    Metric.update(Metric.withAttributes(updatesProcessed, { outcome: "conflict" }), summary.conflicts),
    Metric.update(Metric.withAttributes(updatesProcessed, { outcome: "retried" }), summary.retried),
    Metric.update(Metric.withAttributes(updatesProcessed, { outcome: "dead" }), summary.dead),
    Metric.update(conflictsTotal, summary.conflicts),
    Metric.update(deadLettersTotal, summary.dead)
  ], { discard: true })
