/**
 * Alerts: declarative rules over signals read from SQL (cogo tables) and from the process's metrics,
 * evaluated every `ALERTS_INTERVAL`. A rule fires once its condition has held for `forEvaluations`
 * consecutive evaluations and resolves on the first evaluation where it no longer holds. Each transition
 * becomes an `alert` bus event (`alert.firing` / `alert.resolved`) and, when `ALERT_WEBHOOK_URL` is set, a JSON
 * POST to that URL; the gauge `alerts_firing{rule,severity}` is 1 while a rule fires. A signal that cannot be
 * read (database down) leaves the rule's state as it was and reports the error in `GET /alerts`.
 *
 * State is per process: every replica evaluates the rules (SQL signals see the shared database, metric
 * signals only the replica's own metrics) and publishes its own transitions.
 */
import { Cause, Config, Context, Duration, Effect, Layer, Metric, Option, Ref, Schedule } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { SqlClient } from "effect/sql/SqlClient"
import type { AlertSeverity, AlertState } from "../../domain/observability/Observability.ts"
import { Database, DbRole } from "../platform/Database.ts"
import { EventBus } from "../platform/EventBus.ts"
import { serviceVersion } from "../platform/Version.ts"
import { whenLeader } from "../platform/Leader.ts"

export const alertsFiring = Metric.gauge("alerts_firing", { description: "1 while the alert rule fires, by rule and severity" })
export const alertEvaluations = Metric.counter("alert_evaluations_total", {
  description: "Alert rule evaluations, by rule and outcome (ok, firing, error)",
  incremental: true
})
export const alertWebhookFailures = Metric.counter("alert_webhook_failures_total", {
  description: "Alert webhook deliveries that failed (after retries)",
  incremental: true
})

/** A rule: a signal, a comparison with a threshold, and how many consecutive evaluations must agree. */
export interface AlertRule {
  readonly name: string
  readonly description: string
  readonly severity: AlertSeverity
  /** The current value of what the rule watches. */
  readonly signal: Effect.Effect<number, unknown>
  readonly comparison: ">" | ">="
  readonly threshold: number
  readonly forEvaluations: number
}

export interface AlertThresholds {
  readonly outboxLagSeconds: number
  readonly jobFailureRate: number
  readonly jobFailureWindow: Duration.Duration
  readonly jobFailureMinJobs: number
  readonly sseConnectionsLimit: number
  readonly sseConnectionsRatio: number
  readonly sseMetric: string
  readonly breakerMetric: string
  readonly forEvaluations: number
}

/** Sum (or max) of a metric's current values across its attribute sets, read from the metric registry. */
export const metricValue = (name: string, combine: "sum" | "max") =>
  Effect.map(Metric.snapshot, (snapshots) => {
    let result = 0
    for (const snapshot of snapshots) {
      if (snapshot.id !== name) continue
      const value = snapshot.type === "Gauge"
        ? Number(snapshot.state.value)
        : snapshot.type === "Counter"
        ? Number(snapshot.state.count)
        : 0
      result = combine === "sum" ? result + value : Math.max(result, value)
    }
    return result
  })

/** The rules the service ships with. SQL signals read the cogo tables as the agent role. */
export const defaultRules = (thresholds: AlertThresholds) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const db = yield* Database
    const scalar = (query: Effect.Effect<ReadonlyArray<{ readonly value: number | string | null }>, unknown>) =>
      db.withRole(DbRole.agent, query).pipe(Effect.map((rows) => Number(rows[0]?.value ?? 0)))
    const windowSeconds = Duration.toSeconds(thresholds.jobFailureWindow)
    const rules: ReadonlyArray<AlertRule> = [
      {
        name: "outbox_lag",
        description: `The oldest pending outbox update is older than ${thresholds.outboxLagSeconds} s (projection stalled or too slow)`,
        severity: "critical",
        signal: scalar(sql<{ value: number | null }>`
          SELECT EXTRACT(EPOCH FROM (now() - min(u.created_at)))::float8 AS value
          FROM cogo.project_updates_open o JOIN cogo.project_updates u ON u.id = o.id WHERE NOT o.dead`),
        comparison: ">",
        threshold: thresholds.outboxLagSeconds,
        forEvaluations: thresholds.forEvaluations
      },
      {
        name: "dead_letters",
        description: "Outbox updates are parked as dead letters (status dead) and need an operator",
        severity: "warning",
        signal: scalar(sql<{ value: string }>`SELECT count(*) AS value FROM cogo.project_updates_open WHERE dead`),
        comparison: ">",
        threshold: 0,
        forEvaluations: 1
      },
      {
        name: "job_failure_rate",
        description: `More than ${thresholds.jobFailureRate * 100}% of the jobs finished in the last ${windowSeconds} s ended dead (at least ${thresholds.jobFailureMinJobs} finished)`,
        severity: "warning",
        signal: scalar(sql<{ value: number | null }>`
          SELECT CASE WHEN count(*) >= ${thresholds.jobFailureMinJobs}
                      THEN (count(*) FILTER (WHERE state = 'dead'))::float8 / count(*) ELSE 0 END AS value
          FROM cogo.jobs
          WHERE state IN ('succeeded', 'dead') AND finished_at > now() - make_interval(secs => ${windowSeconds})`),
        comparison: ">",
        threshold: thresholds.jobFailureRate,
        forEvaluations: thresholds.forEvaluations
      },
      {
        name: "circuit_open",
        description: "A circuit breaker to an external dependency (LLM, embeddings) is open",
        severity: "critical",
        signal: metricValue(thresholds.breakerMetric, "max"),
        comparison: ">=",
        threshold: 2,
        forEvaluations: 1
      },
      {
        name: "sse_connections_near_limit",
        description: `Open SSE connections reached ${thresholds.sseConnectionsRatio * 100}% of the limit (${thresholds.sseConnectionsLimit})`,
        severity: "warning",
        signal: metricValue(thresholds.sseMetric, "sum"),
        comparison: ">=",
        threshold: Math.floor(thresholds.sseConnectionsLimit * thresholds.sseConnectionsRatio),
        forEvaluations: thresholds.forEvaluations
      }
    ]
    return rules
  })

interface RuleState {
  readonly public: AlertState
  /** Consecutive evaluations in which the condition held. */
  readonly streak: number
}

const initialState = (rule: AlertRule): RuleState => ({
  public: {
    rule: rule.name,
    description: rule.description,
    severity: rule.severity,
    state: "ok",
    value: null,
    threshold: rule.threshold,
    since: null,
    evaluatedAt: null,
    error: null
  },
  streak: 0
})

/** The next state of one rule after reading its signal (`value`) or failing to (`error`). */
export const nextState = (
  rule: AlertRule,
  previous: RuleState,
  reading: { readonly value: number } | { readonly error: string },
  now: Date
): RuleState => {
  const evaluatedAt = now.toISOString()
  if ("error" in reading) return { ...previous, public: { ...previous.public, evaluatedAt, error: reading.error } }
  const holds = rule.comparison === ">" ? reading.value > rule.threshold : reading.value >= rule.threshold
  const streak = holds ? previous.streak + 1 : 0
  const state = holds && streak >= rule.forEvaluations ? "firing" : holds ? previous.public.state : "ok"
  const since = state === previous.public.state ? previous.public.since ?? evaluatedAt : evaluatedAt
  return { streak, public: { ...previous.public, state, value: reading.value, since, evaluatedAt, error: null } }
}

export class Alerts extends Context.Service<Alerts, {
  /** Every rule with its current state, firing first. */
  readonly current: Effect.Effect<ReadonlyArray<AlertState>>
  /** Evaluates every rule now (the schedule does this every ALERTS_INTERVAL). */
  readonly evaluate: Effect.Effect<void>
}>()("cogo/Alerts") {
  static readonly thresholds = Config.all({
    outboxLagSeconds: Config.Number("ALERT_OUTBOX_LAG_SECONDS").pipe(Config.withDefault(60)),
    jobFailureRate: Config.Number("ALERT_JOB_FAILURE_RATE").pipe(Config.withDefault(0.5)),
    jobFailureWindow: Config.Duration("ALERT_JOB_FAILURE_WINDOW").pipe(Config.withDefault(Duration.minutes(15))),
    jobFailureMinJobs: Config.Int("ALERT_JOB_FAILURE_MIN_JOBS").pipe(Config.withDefault(5)),
    sseConnectionsLimit: Config.Int("ALERT_SSE_CONNECTIONS_LIMIT").pipe(Config.withDefault(1000)),
    sseConnectionsRatio: Config.Number("ALERT_SSE_CONNECTIONS_RATIO").pipe(Config.withDefault(0.9)),
    sseMetric: Config.String("ALERT_SSE_METRIC").pipe(Config.withDefault("realtime_subscribers")),
    breakerMetric: Config.String("ALERT_BREAKER_METRIC").pipe(Config.withDefault("cogo_breaker_state")),
    forEvaluations: Config.Int("ALERT_FOR_EVALUATIONS").pipe(Config.withDefault(1))
  })

  /** The default rules, evaluated on the configured schedule. */
  static readonly layer = Layer.unwrap(Effect.gen(function*() {
    const thresholds = yield* Alerts.thresholds
    return Alerts.layerWith(defaultRules(thresholds))
  }))

  static readonly layerWith = <R>(rulesEffect: Effect.Effect<ReadonlyArray<AlertRule>, never, R>) =>
    Layer.effect(
      Alerts,
      Effect.gen(function*() {
        const rules = yield* rulesEffect
        const bus = yield* EventBus
        const db = yield* Database
        const interval = yield* Config.Duration("ALERTS_INTERVAL").pipe(Config.withDefault(Duration.seconds(15)))
        const webhookUrl = yield* Config.option(Config.URL("ALERT_WEBHOOK_URL"))
        const client = (yield* HttpClient.HttpClient).pipe(
          HttpClient.filterStatusOk,
          HttpClient.retryTransient({ schedule: Schedule.exponential("200 millis"), times: 3 })
        )
        const states = yield* Ref.make(new Map(rules.map((rule) => [rule.name, initialState(rule)])))

        const deliverWebhook = (alert: AlertState) =>
          Option.match(webhookUrl, {
            onNone: () => Effect.void,
            onSome: (url) =>
              client.execute(HttpClientRequest.post(url).pipe(HttpClientRequest.bodyJsonUnsafe({
                status: alert.state === "firing" ? "firing" : "resolved",
                service: "cogo",
                version: serviceVersion,
                alert
              }))).pipe(
                Effect.timeout("10 seconds"),
                Effect.asVoid,
                Effect.catchCause((cause) =>
                  Effect.andThen(
                    Metric.update(alertWebhookFailures, 1),
                    Effect.logWarning(`alert webhook to ${url.origin} failed`, cause)
                  )
                )
              )
          })

        const transition = (alert: AlertState) =>
          Effect.gen(function*() {
            yield* Effect.logWarning(`alert ${alert.rule} ${alert.state === "firing" ? "firing" : "resolved"}`).pipe(
              Effect.annotateLogs({ rule: alert.rule, value: alert.value, threshold: alert.threshold })
            )
            yield* db.withRole(
              DbRole.agent,
              bus.publish({ topic: "alert", kind: alert.state === "firing" ? "alert.firing" : "alert.resolved", payload: alert })
            ).pipe(Effect.catchCause((cause) => Effect.logWarning("alert event not published", cause)))
            yield* deliverWebhook(alert)
          })

        const evaluateRule = (rule: AlertRule) =>
          Effect.gen(function*() {
            const reading = yield* rule.signal.pipe(
              Effect.timeout("10 seconds"),
              Effect.map((value) => ({ value })),
              Effect.catchCause((cause) => Effect.succeed({ error: Cause.pretty(cause).split("\n")[0]!.slice(0, 500) }))
            )
            const previous = (yield* Ref.get(states)).get(rule.name) ?? initialState(rule)
            const next = nextState(rule, previous, reading, new Date())
            yield* Ref.update(states, (map) => new Map(map).set(rule.name, next))
            const outcome = "error" in reading ? "error" : next.public.state
            yield* Metric.update(Metric.withAttributes(alertEvaluations, { rule: rule.name, outcome }), 1)
            yield* Metric.update(
              Metric.withAttributes(alertsFiring, { rule: rule.name, severity: rule.severity }),
              next.public.state === "firing" ? 1 : 0
            )
            if (next.public.state !== previous.public.state) yield* transition(next.public)
          })

        const evaluate = Effect.forEach(rules, evaluateRule, { discard: true }).pipe(Effect.withSpan("Alerts.evaluate"))

        // A singleton duty: only the leader evaluates (and calls the webhook); followers keep their last states.
        yield* whenLeader(evaluate).pipe(
          Effect.andThen(Effect.sleep(interval)),
          Effect.forever,
          Effect.forkScoped
        )

        const current = Effect.map(Ref.get(states), (map) =>
          [...map.values()].map((s) => s.public).sort((a, b) =>
            a.state === b.state ? a.rule.localeCompare(b.rule) : a.state === "firing" ? -1 : 1
          ))

        return Alerts.of({ current, evaluate })
      })
    )
}
