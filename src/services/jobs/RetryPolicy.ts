/** Per-kind retry policies of the job queue: a backoff Schedule and a cap on attempts. */
import { Duration, Effect, Option, Pull, Schedule } from "effect"

/** How a kind retries: a backoff Schedule (its n-th delay follows the n-th failure) and a cap on attempts. */
export interface RetryPolicy {
  readonly maxAttempts: number
  readonly backoff: Schedule.Schedule<unknown>
}

/** Exponential backoff from `base`, doubled per attempt, jittered, capped at `cap`. */
export const exponentialRetry = (options: {
  readonly base: Duration.Input
  readonly cap: Duration.Input
  readonly maxAttempts: number
  readonly jitter?: boolean | undefined
}): RetryPolicy => {
  const capped = Schedule.min([Schedule.exponential(options.base, 2), Schedule.spaced(options.cap)])
  return { maxAttempts: options.maxAttempts, backoff: options.jitter === false ? capped : Schedule.jittered(capped) }
}

/** The delay a backoff schedule gives after its `attempt`-th failure (its last delay once it ends). */
export const backoffDelay = (policy: RetryPolicy, attempt: number): Effect.Effect<Duration.Duration> =>
  Effect.gen(function*() {
    const step = yield* Schedule.toStep(policy.backoff)
    let now = Date.now()
    let delay = Duration.zero
    for (let i = 0; i < attempt; i++) {
      const next = yield* step(now, undefined).pipe(
        Effect.map(([, duration]) => Option.some(duration)),
        Pull.catchDone(() => Effect.succeedNone)
      )
      if (Option.isNone(next)) break
      delay = next.value
      now += Duration.toMillis(delay)
    }
    return delay
  })
