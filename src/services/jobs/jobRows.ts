/** `cogo.jobs` rows as the queue reads them, and their mapping to the domain's `Job`. */
import type { Job, JobError, JobId, JobState } from "../../domain/jobs/Job.ts"

export interface JobRow {
  readonly id: string
  readonly kind: string
  readonly project_id: string | null
  readonly state: JobState
  readonly payload: unknown
  readonly result: unknown
  readonly last_error: JobError | null
  readonly attempts: number
  readonly max_attempts: number
  readonly priority: number
  readonly idempotency_key: string | null
  readonly run_at: Date
  readonly created_at: Date
  readonly updated_at: Date
  readonly finished_at: Date | null
}

export const toJob = (row: JobRow): Job => ({
  id: row.id as JobId,
  kind: row.kind,
  projectId: row.project_id,
  state: row.state,
  payload: row.payload,
  result: row.result ?? null,
  lastError: row.last_error,
  attempts: row.attempts,
  maxAttempts: row.max_attempts,
  priority: row.priority,
  idempotencyKey: row.idempotency_key,
  runAt: row.run_at.toISOString(),
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
  finishedAt: row.finished_at === null ? null : row.finished_at.toISOString()
})

export const jobColumns = "id, kind, project_id, state, payload, result, last_error, attempts, max_attempts, priority, idempotency_key, run_at, created_at, updated_at, finished_at"

export interface ClaimRow {
  readonly id: string
  readonly kind: string
  readonly project_id: string | null
  readonly payload: unknown
  readonly attempts: number
  readonly max_attempts: number
  readonly traceparent: string | null
  readonly created_at: Date
  readonly started_at: Date
}
