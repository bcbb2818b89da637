/**
 * The status page: `GET /status` (one self-contained HTML file: no CDN, no build step), its data as
 * `GET /status/snapshot`, and `GET /status/stream`, an SSE stream of snapshots sent when a bus event is
 * committed (debounced by 250 ms) and at least every 2 s. A snapshot holds key metrics, live and recent jobs,
 * alert states and the recent traces; the page fetches `/traces/:id` for the waterfall of a selected trace.
 * These routes are not traced themselves (see Telemetry), so watching the page does not fill the trace store.
 * The page itself holds no data and is served to anyone; its data (snapshot, stream, traces) needs an
 * operator credential as a bearer token (see OperatorAccess), which the page takes from its URL fragment
 * (`/status#token=...`, never sent to the server) or a prompt, and keeps in the tab's sessionStorage.
 */
import { Effect, Option, Stream } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { SqlClient } from "effect/sql/SqlClient"
import * as fs from "node:fs"
import type { AlertState, TraceSummary } from "../../../domain/observability/Observability.ts"
import type { Forbidden, Unauthorized } from "../../../domain/platform/Problem.ts"
import { parseTraceparent } from "../../../domain/platform/Traceparent.ts"
import { Alerts, metricValue } from "../../../services/observability/Alerts.ts"
import { Database, DbRole } from "../../../services/platform/Database.ts"
import { Notifications } from "../../../services/platform/Notifications.ts"
import { Telemetry } from "../../../services/observability/Telemetry.ts"
import { sseFrame, sseResponse } from "../../http/sse.ts"
import { problemResponse } from "../../../services/platform/problemResponse.ts"
import { requireOperator } from "../OperatorAuth.ts"

export interface StatusJob {
  readonly id: string
  readonly kind: string
  readonly state: string
  readonly projectId: string | null
  readonly attempts: number
  readonly createdAt: string
  readonly startedAt: string | null
  readonly finishedAt: string | null
  readonly traceId: string | null
}

export interface StatusMetric {
  readonly name: string
  readonly label: string
  readonly value: number
  readonly display: string
}

export interface StatusSnapshot {
  readonly at: string
  readonly metrics: ReadonlyArray<StatusMetric>
  readonly jobs: ReadonlyArray<StatusJob>
  readonly alerts: ReadonlyArray<AlertState>
  readonly traces: ReadonlyArray<TraceSummary>
}

const count = (value: number) => String(Math.round(value))
const seconds = (value: number) => (value < 60 ? `${value.toFixed(1)} s` : `${Math.round(value / 60)} min`)
const megabytes = (value: number) => `${Math.round(value / 1024 / 1024)} MB`

/** Metric cards: registry metrics by name (0 until their owner records one). */
const metricCards: ReadonlyArray<{ name: string; label: string; combine: "sum" | "max"; format: (n: number) => string }> = [
  { name: "http_requests_total", label: "HTTP requests", combine: "sum", format: count },
  { name: "cogo_jobs_running", label: "jobs running here", combine: "sum", format: count },
  { name: "projection_outbox_pending", label: "outbox pending", combine: "sum", format: count },
  { name: "projection_outbox_oldest_pending_age_seconds", label: "outbox lag", combine: "max", format: seconds },
  { name: "projection_dead_letters", label: "dead letters", combine: "sum", format: count },
  { name: "realtime_subscribers", label: "SSE subscribers", combine: "sum", format: count },
  { name: "db_connections", label: "DB connections", combine: "sum", format: count },
  { name: "alerts_firing", label: "alerts firing", combine: "sum", format: count },
  { name: "traces_stored", label: "traces stored", combine: "sum", format: count }
]

interface JobRow {
  readonly id: string
  readonly kind: string
  readonly state: string
  readonly project_id: string | null
  readonly attempts: number
  readonly created_at: Date
  readonly started_at: Date | null
  readonly finished_at: Date | null
  readonly traceparent: string | null
}

const snapshot = Effect.gen(function*() {
  const sql = yield* SqlClient
  const db = yield* Database
  const alerts = yield* Alerts
  const telemetry = yield* Telemetry
  // Live jobs first, then what finished in the last 10 minutes.
  const rows = yield* db.withRole(DbRole.agent, sql<JobRow>`
    SELECT id, kind, state, project_id, attempts, created_at, started_at, finished_at, traceparent
    FROM cogo.jobs
    WHERE state IN ('queued', 'running') OR finished_at > now() - interval '10 minutes'
    ORDER BY CASE state WHEN 'running' THEN 0 WHEN 'queued' THEN 1 ELSE 2 END, updated_at DESC
    LIMIT 50`)
  const jobs = rows.map((row): StatusJob => ({
    id: row.id,
    kind: row.kind,
    state: row.state,
    projectId: row.project_id,
    attempts: Number(row.attempts),
    createdAt: row.created_at.toISOString(),
    startedAt: row.started_at?.toISOString() ?? null,
    finishedAt: row.finished_at?.toISOString() ?? null,
    traceId: Option.match(parseTraceparent(row.traceparent), { onNone: () => null, onSome: (context) => context.traceId })
  }))
  const metrics: Array<StatusMetric> = []
  for (const card of metricCards) {
    const value = yield* metricValue(card.name, card.combine)
    metrics.push({ name: card.name, label: card.label, value, display: card.format(value) })
  }
  const rss = process.memoryUsage().rss
  metrics.push({ name: "process_resident_memory_bytes", label: "memory (RSS)", value: rss, display: megabytes(rss) })
  return {
    at: new Date().toISOString(),
    metrics,
    jobs,
    alerts: yield* alerts.current,
    traces: yield* telemetry.recent(25)
  } satisfies StatusSnapshot
}).pipe(Effect.withTracerEnabled(false))

const refused = (error: Unauthorized | Forbidden) => Effect.succeed(problemResponse(error))

const pageHtml = fs.readFileSync(new URL("./status.html", import.meta.url), "utf8")

/** The page (static, public) and its operator-only data routes; merged in src/layers. */
export const statusRoutes = [
  HttpRouter.add("GET", "/status", HttpServerResponse.text(pageHtml, {
    contentType: "text/html; charset=utf-8",
    headers: { "cache-control": "no-cache", "content-security-policy": "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'" }
  })),
  HttpRouter.add("GET", "/status/snapshot", (request) =>
    requireOperator(request).pipe(
      Effect.andThen(snapshot),
      Effect.map((body) => HttpServerResponse.jsonUnsafe(body)),
      Effect.catchTags({ SqlError: Effect.die, Unauthorized: refused, Forbidden: refused })
    )),
  HttpRouter.add("GET", "/status/stream", (request) =>
    Effect.gen(function*() {
      yield* requireOperator(request)
      const notifications = yield* Notifications
      const context = yield* Effect.context<SqlClient | Database | Alerts | Telemetry>()
      const triggers = Stream.merge(
        notifications.subscribe("bus").pipe(Stream.debounce("250 millis")),
        Stream.tick("2 seconds")
      )
      const frames = triggers.pipe(
        Stream.mapEffect(() => snapshot.pipe(Effect.provideContext(context), Effect.result)),
        Stream.map((result) =>
          result._tag === "Success"
            ? sseFrame({ event: "snapshot", data: JSON.stringify(result.success) })
            : sseFrame({ event: "error", data: JSON.stringify({ message: "snapshot failed" }) })
        )
      )
      return sseResponse(frames)
    }).pipe(Effect.catchTags({ Unauthorized: refused, Forbidden: refused })))
] as const
