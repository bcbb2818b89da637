/**
 * One circuit breaker per external dependency (LLM, embeddings), on effect's `CircuitBreaker`
 * (`effect/persistence`): closed → open after `BREAKER_FAILURES` consecutive failures → half-open after
 * the open time (`BREAKER_OPEN_DURATION`, doubling per consecutive opening up to `BREAKER_OPEN_MAX`), where
 * exactly one probe call runs while other calls fail fast → closed on success, open again on failure.
 * Only failures that say something about the dependency's health count (unavailable, rate limited,
 * timeout); requests the provider rejected as invalid do not. A 429's Retry-After lengthens the opening.
 * State is a gauge (`cogo_breaker_state`: 0 closed, 1 half-open, 2 open) and every transition a bus event
 * (topic "breaker").
 *
 * State is per process (memory store): each replica protects itself; a shared store would need Redis.
 */
import { Config, Context, Duration, Effect, Exit, Layer, Metric, Schedule, Stream } from "effect"
import { CircuitBreaker } from "effect/persistence"
import { type AgentError, CircuitOpen, type Dependency } from "../../domain/agents/AgentError.ts"
import { Database, DbRole } from "../platform/Database.ts"
import { EventBus } from "../platform/EventBus.ts"

export type BreakerState = "closed" | "open" | "half-open"

export const breakerStateGauge = Metric.gauge("cogo_breaker_state", {
  description: "Circuit breaker state per external dependency: 0 closed, 1 half-open, 2 open"
})
export const breakerTransitions = Metric.counter("cogo_breaker_transitions_total", {
  description: "Circuit breaker transitions, by dependency and target state",
  incremental: true
})

const dependencies: ReadonlyArray<Dependency> = ["llm", "embeddings"]
const gaugeValue: Record<BreakerState, number> = { closed: 0, "half-open": 1, open: 2 }
const toState = (tag: "Closed" | "Open" | "HalfOpen"): BreakerState =>
  tag === "Closed" ? "closed" : tag === "Open" ? "open" : "half-open"

/** How long a caller rejected during a half-open probe should wait before trying again. */
const halfOpenRetryMs = 250

/** Which outcomes count for the dependency's health. */
export const classifyOutcome = <A>(exit: Exit.Exit<A, AgentError>): CircuitBreaker.Outcome => {
  if (Exit.isSuccess(exit)) return CircuitBreaker.success
  const error = Exit.findErrorOption(exit)
  if (error._tag === "None") return CircuitBreaker.failure() // a defect: the call crashed
  switch (error.value._tag) {
    case "ProviderUnavailable":
    case "Timeout":
      return CircuitBreaker.failure()
    case "RateLimited":
      return CircuitBreaker.failure({ retryAfter: Duration.millis(error.value.retryAfterMs) })
    default:
      return CircuitBreaker.ignored
  }
}

export class Breakers extends Context.Service<Breakers, {
  /** Runs `effect` through the dependency's circuit; rejected calls fail with `CircuitOpen`. */
  readonly guard: (dependency: Dependency) => <A, R>(effect: Effect.Effect<A, AgentError, R>) => Effect.Effect<A, AgentError, R>
  readonly state: (dependency: Dependency) => Effect.Effect<BreakerState>
}>()("cogo/Breakers") {
  static readonly layer = Layer.effect(
    Breakers,
    Effect.gen(function*() {
      const db = yield* Database
      const bus = yield* EventBus
      const failures = yield* Config.Int("BREAKER_FAILURES").pipe(Config.withDefault(5))
      const openFor = yield* Config.Duration("BREAKER_OPEN_DURATION").pipe(Config.withDefault(Duration.seconds(30)))
      const openMax = yield* Config.Duration("BREAKER_OPEN_MAX").pipe(Config.withDefault(Duration.minutes(5)))
      const breaker = yield* CircuitBreaker.make({
        tripPolicy: CircuitBreaker.consecutive(failures),
        openDuration: Schedule.min([Schedule.exponential(openFor, 2), Schedule.spaced(openMax)]),
        maxOpenDuration: openMax
      }).pipe(Effect.provide(CircuitBreaker.layerStoreMemory()))

      const setGauge = (dependency: string, state: BreakerState) =>
        Metric.update(Metric.withAttributes(breakerStateGauge, { dependency }), gaugeValue[state])
      yield* Effect.forEach(dependencies, (dependency) => setGauge(dependency, "closed"), { discard: true })

      yield* breaker.transitions.pipe(
        Stream.runForEach((transition) => {
          const to = toState(transition.to)
          const payload = transition.to === "Open"
            ? { from: toState(transition.from), to, retryAfterMs: Duration.toMillis(transition.retryAfter), openings: transition.consecutiveOpenings }
            : { from: toState(transition.from), to }
          return Effect.all([
            setGauge(transition.key, to),
            Metric.update(Metric.withAttributes(breakerTransitions, { dependency: transition.key, to }), 1),
            Effect.logWarning(`circuit breaker ${transition.key}: ${payload.from} -> ${to}`),
            db.withRole(DbRole.agent, bus.publish({ topic: "breaker", kind: to, payload: { dependency: transition.key, ...payload } })).pipe(
              Effect.catchCause((cause) => Effect.logWarning("breaker event not recorded", cause))
            )
          ], { discard: true })
        }),
        Effect.forkScoped({ startImmediately: true })
      )

      const guard = (dependency: Dependency) => <A, R>(effect: Effect.Effect<A, AgentError, R>): Effect.Effect<A, AgentError, R> =>
        effect.pipe(
          breaker.execute({ key: dependency, classify: classifyOutcome }),
          Effect.catchTag("CircuitBreakerError", (error) =>
            Effect.fail(new CircuitOpen({
              dependency,
              retryAfterMs: error.reason._tag === "CircuitOpen" ? Duration.toMillis(error.reason.retryAfter) : halfOpenRetryMs
            })))
        )

      const state = (dependency: Dependency) =>
        breaker.state(dependency).pipe(
          Effect.map((s) => toState(s._tag)),
          Effect.orElseSucceed(() => "closed" as const)
        )

      return Breakers.of({ guard, state })
    })
  )
}
