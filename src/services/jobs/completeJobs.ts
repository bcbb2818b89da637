/**
 * Ending attempts: completion (in batches), failure (retry with backoff, or dead) and cancellation. Each is
 * fenced by (worker, attempt): a worker whose lease expired and whose job was rescued and re-claimed
 * cannot overwrite the new attempt's outcome.
 */
import type { PgClient } from "@effect/sql-pg"
import { Duration, Effect } from "effect"
import type { ClaimedJob, JobError, JobId, JobState } from "../../domain/jobs/Job.ts"
import { eventResult } from "./JobEventResult.ts"
import { runningById, type Transition, uuidArray } from "./jobTransitions.ts"
import type { KindRegistry } from "./kindOptions.ts"
import { backoffDelay } from "./RetryPolicy.ts"

/** The outcome of `fail`. `Stale`: the job was no longer this worker's attempt (lease lost), nothing changed. */
export type FailOutcome =
  | { readonly _tag: "Retrying"; readonly runAt: Date; readonly attempt: number }
  | { readonly _tag: "Dead"; readonly attempt: number }
  | { readonly _tag: "Stale" }

interface CompletionInput {
  readonly id: JobId
  readonly attempt: number
  readonly result: unknown
  readonly summary: unknown
  readonly stream: boolean
}

/** The error tag of an attempt released by a stopping worker (counted as a rescue, not a failure). */
export const workerStoppedTag = "WorkerStopped"

/**
 * Marks jobs succeeded with their results (one statement per batch), or deletes those of kinds that do not
 * keep succeeded jobs (a second statement when a batch has both); returns the ids that were still this worker's.
 */
export const makeCompleteMany = (sql: PgClient.PgClient, transition: Transition, kinds: KindRegistry) => {
  // The job keeps the full result; its events (bus, SSE, the derived `succeeded`) carry `eventResult` (bounded).
  // `locked_by` stays: the worker of the last attempt, for its derived `started` event.
  // The batch is `json`, not `jsonb`, as in `enqueueJobs.ts`.
  const statement = (workerId: string, keep: boolean, input: ReadonlyArray<CompletionInput>) => {
    const batch = sql`json_to_recordset(${JSON.stringify(input)}::json) AS x(id uuid, attempt int, result jsonb, summary jsonb, stream boolean)`
    const theirs = sql`j.id = ANY(${uuidArray(sql, input.map((item) => item.id))}) AND j.id = x.id AND j.attempts = x.attempt
        AND ${runningById(sql)} AND j.locked_by = ${workerId}`
    const returning = sql`RETURNING j.id, j.kind, j.project_id, j.traceparent, 'succeeded' AS event, x.stream AS stream,
        CASE WHEN x.stream THEN json_build_object('state', 'succeeded', 'attempt', j.attempts, 'result', x.summary) END AS data`
    // A delete writes no new row version (an update writes one, with an entry in every index): about half the
    // database time of a completion.
    return transition<object>(
      keep
        ? sql`UPDATE cogo.jobs j SET state = 'succeeded', result = x.result, lease_expires_at = NULL, finished_at = now(), updated_at = now()
              FROM ${batch} WHERE ${theirs} ${returning}`
        : sql`DELETE FROM cogo.jobs j USING ${batch} WHERE ${theirs} ${returning}`,
      [],
      { wakeWaiters: true, atMost: input.length }
    )
  }
  return Effect.fnUntraced(function*(workerId: string, items: ReadonlyArray<{ readonly job: ClaimedJob; readonly result: unknown }>) {
    const kept: Array<CompletionInput> = []
    const deleted: Array<CompletionInput> = []
    for (const { job, result } of items) {
      const options = kinds.get(job.kind)
      // Only a streamed `succeeded` is written with its summary (the audit trail derives its own).
      const summary = options.stream ? eventResult(result ?? null) : null
      if (options.keepSucceeded) kept.push({ id: job.id, attempt: job.attempt, result: result ?? null, summary, stream: options.stream })
      else deleted.push({ id: job.id, attempt: job.attempt, result: null, summary, stream: options.stream })
    }
    const rows = [
      ...(kept.length > 0 ? yield* statement(workerId, true, kept) : []),
      ...(deleted.length > 0 ? yield* statement(workerId, false, deleted) : [])
    ]
    return rows.map((row) => row.id as JobId)
  })
}

/** Records a failure: retries after max(backoff for this attempt, `notBefore`) or goes dead. */
export const makeFail = (sql: PgClient.PgClient, transition: Transition, kinds: KindRegistry, maxRescues: number) =>
  Effect.fnUntraced(function*(workerId: string, job: ClaimedJob, error: JobError, notBefore?: Duration.Duration | undefined) {
    const policy = kinds.get(job.kind).retry
    const maxAttempts = Math.min(job.maxAttempts, policy.maxAttempts)
    // The failure budget counts attempts that ended in a failure: claims minus rescues. An attempt released
    // because its worker is stopping is a rescue too (the job did not fail).
    const stopped = error.tag === workerStoppedTag
    const retry = stopped
      ? sql`(rescues + 1 < ${maxRescues})`
      : sql`(${error.retryable} AND attempts - rescues < ${maxAttempts})`
    const backoff = error.retryable && !stopped ? yield* backoffDelay(policy, job.attempt) : Duration.zero
    const delayMs = Duration.toMillis(Duration.max(backoff, notBefore ?? Duration.zero))
    const rows = yield* transition<{ readonly run_at: Date; readonly state: JobState }>(sql`
      UPDATE cogo.jobs
      SET state = CASE WHEN ${retry} THEN 'queued' ELSE 'dead' END, last_error = ${JSON.stringify(error)}::jsonb,
          locked_by = NULL, lease_expires_at = NULL, rescues = rescues + ${stopped ? 1 : 0},
          run_at = CASE WHEN ${retry} THEN now() + ${delayMs} * interval '1 millisecond' ELSE now() END,
          finished_at = CASE WHEN ${retry} THEN NULL ELSE now() END, updated_at = now()
      WHERE id = ${job.id} AND attempts = ${job.attempt} AND ${runningById(sql)} AND locked_by = ${workerId}
      RETURNING id, kind, project_id, traceparent, run_at, state, true AS stream,
                CASE WHEN state = 'queued' THEN 'retrying' ELSE 'dead' END AS event,
                jsonb_build_object('state', state, 'attempt', attempts, 'rescues', rescues, 'error', last_error,
                  'runAt', run_at, 'workerId', ${workerId}::text, 'startedAt', started_at) AS data`, ["run_at", "state"], { wakeWaiters: true })
    const row = rows[0]
    if (row === undefined) return { _tag: "Stale" } as const satisfies FailOutcome
    return row.state === "queued"
      ? { _tag: "Retrying", runAt: row.run_at, attempt: job.attempt } as const satisfies FailOutcome
      : { _tag: "Dead", attempt: job.attempt } as const satisfies FailOutcome
  })

/** Cancels a queued or running job (a running handler is interrupted at its next heartbeat). */
export const makeCancel = (sql: PgClient.PgClient, transition: Transition) =>
  Effect.fnUntraced(function*(jobId: JobId, reason?: string | undefined) {
    const rows = yield* transition<object>(sql`
      UPDATE cogo.jobs j
      SET state = 'cancelled', locked_by = NULL, lease_expires_at = NULL, finished_at = now(), updated_at = now()
      FROM (SELECT id, state, locked_by FROM cogo.jobs WHERE id = ${jobId} FOR UPDATE) was
      WHERE j.id = was.id AND was.state IN ('queued', 'running')
      RETURNING j.id, j.kind, j.project_id, j.traceparent, 'cancelled' AS event, true AS stream,
                jsonb_build_object('state', 'cancelled', 'reason', ${reason ?? "cancelled"}::text)
                  || CASE WHEN was.state = 'running' THEN jsonb_build_object('attempt', j.attempts, 'workerId', was.locked_by,
                       'startedAt', j.started_at) ELSE '{}'::jsonb END AS data`, [], { wakeWaiters: true })
    return rows.length === 1
  })
