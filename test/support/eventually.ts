/**
 * Polling for a condition another fiber or process makes true: re-runs `check` every 20 ms until it holds,
 * and fails the test with `what` when it does not within `within` (a bound, not a pause).
 */
import { type Duration, Effect, Schedule } from "effect"

export const eventually = <E, R>(what: string, check: Effect.Effect<boolean, E, R>, within: Duration.Input = "15 seconds") =>
  check.pipe(
    Effect.flatMap((ok) => ok ? Effect.void : Effect.fail(new Error(`not yet: ${what}`))),
    Effect.retry(Schedule.spaced("20 millis")),
    Effect.timeout(within),
    Effect.mapError(() => new Error(`timed out waiting for: ${what}`)),
    Effect.orDie
  )
