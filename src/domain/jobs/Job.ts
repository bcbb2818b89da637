/**
 * Jobs: durable units of background work in `cogo.jobs`, claimed by workers under a lease. Every state change
 * is in the job's audit trail (`cogo.job_events`; `enqueued`, `started` and `succeeded` derived from the job
 * row) and, unless the kind is quiet (`stream: false`), a bus event (topic "job"), so a realtime stream can
 * follow a job live.
 *
 *   queued ──claim──▶ running ──complete──▶ succeeded (or deleted, for a kind that does not keep them)
 *     ▲                 │ fail (retryable, attempts left): back to queued with run_at = now + backoff
 *     └─────────────────┤ lease expired (worker died): rescued back to queued
 *                       │ fail (permanent or attempts exhausted) ──▶ dead (kept, with its errors)
 *   queued|running ──cancel──▶ cancelled
 */
import { Schema } from "effect"

export const JobId = Schema.String.check(Schema.isUUID()).pipe(Schema.brand("JobId"))
export type JobId = typeof JobId.Type

export const JobState = Schema.Literals(["queued", "running", "succeeded", "dead", "cancelled"])
export type JobState = typeof JobState.Type

export const terminalStates: ReadonlyArray<JobState> = ["succeeded", "dead", "cancelled"]

/**
 * The job is not in `cogo.jobs`: never enqueued, pruned by retention, or (the common case) succeeded and
 * deleted by its completion because its kind does not keep succeeded jobs (`keepSucceeded: false`).
 */
export class JobGone extends Schema.TaggedError<JobGone>()("JobGone", {
  jobId: Schema.String
}) {}

/**
 * A job kind names the handler that runs it ("index.documents", "research.question", "chat.reply", ...).
 * Lowercase dotted words, so kinds stay usable as metric labels and in URLs.
 */
export const JobKind = Schema.String.check(Schema.isPattern(/^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)*$/)).pipe(Schema.brand("JobKind"))
export type JobKind = typeof JobKind.Type

/** What `cogo.job_events.kind` (and the bus event kind, prefixed "job.") says happened. */
export const JobEventKind = Schema.Literals([
  "enqueued",
  "started",
  "progress",
  "log",
  "retrying",
  "succeeded",
  "dead",
  "cancelled",
  "rescued"
])
export type JobEventKind = typeof JobEventKind.Type

/** The error stored on a job (last_error and each retry/dead event). */
export const JobError = Schema.Struct({
  tag: Schema.String,
  message: Schema.String,
  retryable: Schema.Boolean
})
export type JobError = typeof JobError.Type

export const Job = Schema.Struct({
  id: JobId,
  kind: Schema.String,
  projectId: Schema.NullOr(Schema.String),
  state: JobState,
  payload: Schema.Unknown,
  result: Schema.NullOr(Schema.Unknown),
  lastError: Schema.NullOr(JobError),
  attempts: Schema.Number,
  maxAttempts: Schema.Number,
  priority: Schema.Number,
  idempotencyKey: Schema.NullOr(Schema.String),
  runAt: Schema.String,
  createdAt: Schema.String,
  updatedAt: Schema.String,
  finishedAt: Schema.NullOr(Schema.String)
})
export type Job = typeof Job.Type

export const JobEvent = Schema.Struct({
  id: Schema.Number,
  jobId: JobId,
  kind: JobEventKind,
  data: Schema.Unknown,
  createdAt: Schema.String
})
export type JobEvent = typeof JobEvent.Type

/** A job to enqueue. `payload` must be JSON; the kind's handler decodes it with its Schema. */
export interface NewJob {
  readonly kind: string
  readonly payload: unknown
  readonly projectId?: string | undefined
  /** Same key, same job: enqueueing again returns the existing job instead of a second one. */
  readonly idempotencyKey?: string | undefined
  readonly priority?: number | undefined
  /** Caps the attempts (default: the kind's retry policy when registered in this process, else JOBS_MAX_ATTEMPTS); the kind's policy caps them too. */
  readonly maxAttempts?: number | undefined
  /** Delay before the job may start, in milliseconds. */
  readonly delayMs?: number | undefined
  readonly createdBy?: string | undefined
}

export interface EnqueuedJob {
  readonly id: JobId
  /** False when an existing job with the same idempotency key was returned. */
  readonly created: boolean
  readonly state: JobState
}

/** A job a worker holds under a lease. */
export interface ClaimedJob {
  readonly id: JobId
  readonly kind: string
  readonly projectId: string | null
  readonly payload: unknown
  /** 1 for the first run. */
  readonly attempt: number
  readonly maxAttempts: number
  readonly traceparent: string | null
  readonly createdAt: Date
  readonly startedAt: Date
}

// ---- Payloads of the job kinds this area registers (other areas define theirs beside their handlers). ----

export const IndexDocumentInput = Schema.Struct({
  sourceType: Schema.String.check(Schema.isMinLength(1)),
  sourceId: Schema.String.check(Schema.isMinLength(1)),
  text: Schema.String,
  metadata: Schema.optional(Schema.Record(Schema.String, Schema.Unknown))
})
export type IndexDocumentInput = typeof IndexDocumentInput.Type

export const IndexDocumentsPayload = Schema.Struct({
  projectId: Schema.NullOr(Schema.String),
  /** Without a project: the user whose own vectors these are (absent: platform-wide). */
  ownerId: Schema.optional(Schema.NullOr(Schema.String)),
  documents: Schema.Array(IndexDocumentInput)
})
export type IndexDocumentsPayload = typeof IndexDocumentsPayload.Type

export const IndexProjectPayload = Schema.Struct({ projectId: Schema.String.check(Schema.isUUID()) })
export type IndexProjectPayload = typeof IndexProjectPayload.Type

export const ResearchQuestionPayload = Schema.Struct({
  projectId: Schema.NullOr(Schema.String),
  question: Schema.String.check(Schema.isMinLength(1)),
  k: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 50 })))
})
export type ResearchQuestionPayload = typeof ResearchQuestionPayload.Type

export const NoopPayload = Schema.Struct({ sleepMs: Schema.optional(Schema.Number) })
export type NoopPayload = typeof NoopPayload.Type

/** The kinds registered by this area. */
export const JobKinds = {
  noop: "noop",
  indexDocuments: "index.documents",
  indexProject: "index.project",
  research: "research.question",
  saga: "executor.saga"
} as const
