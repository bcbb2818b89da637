/**
 * When a failing update is retried and when it becomes a dead letter: exponential delays from
 * `retryBaseMillis`, capped at `retryCapMillis`, jittered, `maxAttempts` attempts in all. The attempt count
 * lives on the outbox row, so the schedule is replayed from the start for each decision.
 */
import { Duration, Effect, Option, Result, Schedule } from "effect"
import type { ClaimedRow, Outcome } from "./rows.ts"

export interface RetryPolicy {
  readonly maxAttempts: number
  readonly retryBaseMillis: number
  readonly retryCapMillis: number
}

/** The delay before retry number `attempt` (1-based), or none when the update should become a dead letter. */
export type RetryDelay = (attempt: number) => Effect.Effect<Option.Option<Duration.Duration>>

export const makeRetryDelay = (policy: RetryPolicy): RetryDelay => {
  const schedule = Schedule.min([
    Schedule.exponential(Duration.millis(policy.retryBaseMillis)),
    Schedule.spaced(Duration.millis(policy.retryCapMillis))
  ]).pipe(Schedule.jittered, Schedule.upTo({ times: Math.max(0, policy.maxAttempts - 1) }))

  return (attempt) =>
    Effect.gen(function*() {
      const step = yield* Schedule.toStep(schedule)
      let delay = Duration.zero
      for (let i = 0; i < attempt; i++) {
        const next = yield* Effect.result(step(Date.now(), undefined))
        if (Result.isFailure(next)) return Option.none<Duration.Duration>()
        delay = next.success[1]
      }
      return Option.some(delay)
    })
}

/** The outcome of a row whose update failed to apply: a retry after the next delay, or a dead letter. */
export const failureOutcome = (retryDelay: RetryDelay, row: ClaimedRow, error: string) =>
  Effect.map(retryDelay(row.attempts + 1), Option.match({
    onNone: (): Outcome => ({ _tag: "dead", error: `${error} (after ${row.attempts + 1} attempts)` }),
    onSome: (delay): Outcome => ({ _tag: "retry", error, delayMillis: Duration.toMillis(delay) })
  }))
