import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Metric, Schedule } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import type { AlertState } from "../../src/domain/observability/Observability.ts"
import { type AlertRule, nextState } from "../../src/services/observability/Alerts.ts"
import { breakerStateGauge } from "../../src/services/agents/Breakers.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { operatorGet, parsePrometheus, RunningServiceTag, serviceLayer } from "./support.ts"

interface WebhookCall { readonly status: string; readonly alert: AlertState }
class Webhook extends Context.Service<Webhook, { readonly calls: Array<WebhookCall> }>()("test/Webhook") {}

/** A webhook target that records every alert POSTed to it. */
const webhookReceiver = Effect.acquireRelease(
  Effect.callback<{ readonly url: string; readonly calls: Array<WebhookCall>; readonly server: http.Server }>((resume) => {
    const calls: Array<WebhookCall> = []
    const server = http.createServer((req, res) => {
      let body = ""
      req.on("data", (chunk: Buffer) => (body += chunk.toString()))
      req.on("end", () => {
        calls.push(JSON.parse(body) as WebhookCall)
        res.writeHead(204).end()
      })
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, calls, server })))
  }),
  (receiver) => Effect.callback<void>((resume) => void receiver.server.close(() => resume(Effect.void)))
)

const TestLayer = Layer.unwrap(Effect.map(webhookReceiver, (receiver) =>
  serviceLayer({
    ALERTS_INTERVAL: "100 millis",
    ALERT_OUTBOX_LAG_SECONDS: "30",
    ALERT_WEBHOOK_URL: receiver.url,
    ALERT_SSE_CONNECTIONS_LIMIT: "10"
  }).pipe(
    Layer.merge(Layer.succeed(Webhook, { calls: receiver.calls }))
  )))


const alertOf = (rule: string) =>
  Effect.gen(function*() {
    const service = yield* RunningServiceTag
    const { alerts } = yield* Effect.promise(() => operatorGet(service, "/alerts").then((r) => r.json() as Promise<{ alerts: Array<AlertState> }>))
    return alerts.find((a) => a.rule === rule)!
  })

/** Polls until the rule is in `state` (evaluations run every 100 ms). */
const awaitAlert = (rule: string, state: AlertState["state"]) =>
  alertOf(rule).pipe(
    Effect.filterOrFail((a) => a.state === state && a.evaluatedAt !== null),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 100 })))
  )

/** Polls until the rule was evaluated after `after` (an ISO time) and returns that evaluation. */
const awaitEvaluationAfter = (rule: string, after: string) =>
  alertOf(rule).pipe(
    Effect.filterOrFail((a) => a.evaluatedAt !== null && a.evaluatedAt > after),
    Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 300 })))
  )

/**
 * The rule's state once an evaluation has surely read the database after now: the first evaluation stamped
 * after now may have read before it, the one after that started after the first had finished.
 */
const settledAlert = (rule: string) =>
  Effect.gen(function*() {
    const first = yield* awaitEvaluationAfter(rule, new Date().toISOString())
    return yield* awaitEvaluationAfter(rule, first.evaluatedAt!)
  })

const metricSample = (name: string, labels: Record<string, string>) =>
  Effect.gen(function*() {
    const service = yield* RunningServiceTag
    const text = yield* Effect.promise(() => fetch(`${service.metricsUrl}/metrics`).then((r) => r.text()))
    const { samples, types } = parsePrometheus(text)
    const sample = samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    return { value: sample?.value, types }
  })

layer(TestLayer, { excludeTestServices: true, timeout: Duration.seconds(90) })("alerts and metrics on the running service", (it) => {
  it.effect("outbox lag fires when the test creates a stale pending update and resolves when it is applied", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const bus = yield* EventBus
      const webhook = yield* Webhook
      const ok = yield* awaitAlert("outbox_lag", "ok")
      assert.isNotNull(ok.evaluatedAt)

      const [row] = yield* sql<{ id: string }>`
        INSERT INTO cogo.project_updates (aggregate_type, aggregate_id, project_id, seq, update_type, payload, created_at, next_attempt_at)
        VALUES ('page', gen_random_uuid(), gen_random_uuid(), 1, 'upsert', '{}'::jsonb, now() - interval '120 seconds', now() + interval '1 hour')
        RETURNING id`
      const firing = yield* awaitAlert("outbox_lag", "firing")
      assert.isAtLeast(firing.value!, 120)
      assert.strictEqual(firing.threshold, 30)
      assert.strictEqual(firing.severity, "critical")
      assert.strictEqual((yield* metricSample("alerts_firing", { rule: "outbox_lag" })).value, 1)

      yield* sql`UPDATE cogo.project_updates SET status = 'applied', applied_at = now() WHERE id = ${row!.id}`
      const resolved = yield* awaitAlert("outbox_lag", "ok")
      assert.isBelow(resolved.value ?? 0, 30)
      const metric = yield* metricSample("alerts_firing", { rule: "outbox_lag" })
      assert.strictEqual(metric.value, 0)
      assert.strictEqual(metric.types.get("alerts_firing"), "gauge")

      // Both transitions went to the realtime stream and to the webhook, in order. Re-read on every retry: the
      // state changes before its bus event commits.
      const events = yield* bus.since({ afterId: 0, limit: 10_000 }).pipe(
        Effect.map((all) => all.filter((e) => e.topic === "alert" && (e.payload as AlertState).rule === "outbox_lag")),
        Effect.filterOrFail((found) => found.length >= 2),
        Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo({ times: 200 })))
      )
      assert.deepStrictEqual(events.map((e) => e.kind), ["alert.firing", "alert.resolved"])
      // Re-read on every retry: the webhook delivery may land after the state change.
      const calls = yield* Effect.sync(() => webhook.calls.filter((c) => c.alert.rule === "outbox_lag")).pipe(
        Effect.filterOrFail((c) => c.length >= 2),
        Effect.retry(Schedule.spaced("50 millis").pipe(Schedule.upTo({ times: 100 })))
      )
      assert.deepStrictEqual(calls.map((c) => c.status), ["firing", "resolved"])
    }))

  it.effect("dead letters, an open circuit and SSE connections near the limit fire and resolve", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      yield* sql`
        INSERT INTO cogo.project_updates (aggregate_type, aggregate_id, project_id, seq, update_type, payload, status)
        VALUES ('page', gen_random_uuid(), gen_random_uuid(), 1, 'upsert', '{}'::jsonb, 'dead')`
      assert.strictEqual((yield* awaitAlert("dead_letters", "firing")).value, 1)
      yield* sql`DELETE FROM cogo.project_updates WHERE status = 'dead'`
      yield* awaitAlert("dead_letters", "ok")

      const breaker = Metric.withAttributes(breakerStateGauge, { dependency: "alerts-test" })
      yield* Metric.update(breaker, 2)
      yield* awaitAlert("circuit_open", "firing")
      yield* Metric.update(breaker, 0)
      yield* awaitAlert("circuit_open", "ok")

      // The realtime hub's gauge (same registry, same name): 9 of 10 open connections is 90% of the limit.
      const sse = Metric.gauge("realtime_subscribers")
      yield* Metric.update(sse, 9)
      assert.strictEqual((yield* awaitAlert("sse_connections_near_limit", "firing")).threshold, 9)
      yield* Metric.update(sse, 0)
      yield* awaitAlert("sse_connections_near_limit", "ok")
    }))

  it.effect("job failure rate fires above the rate once enough jobs finished", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const finish = (state: "succeeded" | "dead", count: number) =>
        sql`INSERT INTO cogo.jobs (kind, state, finished_at) SELECT 'alerts-test', ${state}, now() FROM generate_series(1, ${count})`
      yield* finish("dead", 4) // 4 of 4 dead, but fewer than the 5 finished jobs the rule needs
      // Not a sleep: an evaluation that read the 4 dead jobs has happened, and the rule stayed ok.
      assert.strictEqual((yield* settledAlert("job_failure_rate")).state, "ok")
      yield* finish("succeeded", 2) // 4 of 6 dead: over 50%
      const firing = yield* awaitAlert("job_failure_rate", "firing")
      assert.closeTo(firing.value!, 4 / 6, 1e-9)
      yield* finish("succeeded", 4) // 4 of 10: under
      yield* awaitAlert("job_failure_rate", "ok")
    }))

  it.effect("the metrics endpoint parses as Prometheus text and counts the requests this test made", () =>
    Effect.gen(function*() {
      const service = yield* RunningServiceTag
      const before = (yield* metricSample("http_requests_total", { route: "/alerts", status: "200", method: "GET" })).value ?? 0
      for (let i = 0; i < 7; i++) yield* Effect.promise(() => operatorGet(service, "/alerts").then((r) => r.json()))
      const after = yield* metricSample("http_requests_total", { route: "/alerts", status: "200", method: "GET" })
      assert.strictEqual(after.value! - before, 7)
      assert.strictEqual(after.types.get("http_requests_total"), "counter")
      assert.strictEqual(after.types.get("http_request_duration_seconds"), "histogram")
      const evaluations = yield* metricSample("alert_evaluations_total", { rule: "outbox_lag", outcome: "ok" })
      assert.isAbove(evaluations.value!, 0)
      const pool = yield* metricSample("db_pool_max_connections", {})
      assert.isAbove(pool.value ?? 0, 0)
      assert.isDefined((yield* metricSample("db_connections", {})).value)
    }))
})

describe("alert state machine", () => {
  const rule: AlertRule = {
    name: "r",
    description: "",
    severity: "warning",
    signal: Effect.succeed(0),
    comparison: ">",
    threshold: 10,
    forEvaluations: 2
  }
  it("fires only after forEvaluations consecutive breaches, resolves at once, keeps state on read errors", () => {
    const t = (s: number) => new Date(s * 1000)
    let state = { streak: 0, public: { rule: "r", description: "", severity: "warning" as const, state: "ok" as const, value: null, threshold: 10, since: null, evaluatedAt: null, error: null } } as Parameters<typeof nextState>[1]
    state = nextState(rule, state, { value: 11 }, t(1))
    assert.strictEqual(state.public.state, "ok")
    state = nextState(rule, state, { error: "db down" }, t(2))
    assert.strictEqual(state.public.error, "db down")
    state = nextState(rule, state, { value: 12 }, t(3))
    assert.strictEqual(state.public.state, "firing")
    assert.strictEqual(state.public.since, t(3).toISOString())
    state = nextState(rule, state, { value: 13 }, t(4))
    assert.strictEqual(state.public.since, t(3).toISOString())
    state = nextState(rule, state, { value: 10 }, t(5))
    assert.strictEqual(state.public.state, "ok")
    assert.strictEqual(state.public.since, t(5).toISOString())
  })
})
