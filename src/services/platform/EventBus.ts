/**
 * Publishes bus events: a row in `cogo.bus_events` (the durable, replayable log) plus a `bus` notification
 * carrying the new id, sent in the caller's transaction so listeners hear of it only once it is committed.
 * Readers may cap payloads (`maxPayloadBytes`): a larger payload is replaced in SQL, so it never leaves the
 * database, by a summary `{ truncated: true, bytes, keys }` (`keys`: its top-level keys when it is an object).
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import type { BusEvent, NewBusEvent } from "../../domain/platform/BusEvent.ts"
import { Notifications } from "./Notifications.ts"

interface BusEventRow {
  readonly id: string
  readonly topic: BusEvent["topic"]
  readonly kind: string
  readonly project_id: string | null
  readonly job_id: string | null
  readonly payload: unknown
  readonly traceparent: string | null
  readonly created_at: Date
}

export const toBusEvent = (row: BusEventRow): BusEvent => ({
  id: Number(row.id),
  topic: row.topic,
  kind: row.kind,
  projectId: row.project_id,
  jobId: row.job_id,
  payload: row.payload,
  traceparent: row.traceparent,
  createdAt: row.created_at.toISOString()
})

/** Options of a read: events after `afterId` (exclusive), optionally of one project or job. */
export interface SinceOptions {
  readonly afterId: number
  readonly projectId?: string | undefined
  readonly jobId?: string | undefined
  readonly limit?: number | undefined
  /** Payloads whose JSON text is larger than this are replaced by a summary. */
  readonly maxPayloadBytes?: number | undefined
}

export class EventBus extends Context.Service<EventBus, {
  /** Appends one event; returns its id. Runs in the caller's transaction when there is one. */
  readonly publish: (event: NewBusEvent) => Effect.Effect<number, SqlError>
  /** Events after `afterId` (exclusive), oldest first, optionally of one project or job. */
  readonly since: (options: SinceOptions) => Effect.Effect<ReadonlyArray<BusEvent>, SqlError>
  /** The events with these ids (those that exist), oldest first; payloads capped as in `since`. */
  readonly byIds: (ids: ReadonlyArray<number>, maxPayloadBytes?: number) => Effect.Effect<ReadonlyArray<BusEvent>, SqlError>
}>()("cogo/EventBus") {
  static readonly layer = Layer.effect(
    EventBus,
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const notifications = yield* Notifications

      const publish = Effect.fn("EventBus.publish")(function*(event: NewBusEvent) {
        const rows = yield* sql<{ id: string }>`
          INSERT INTO cogo.bus_events (topic, kind, project_id, job_id, payload, traceparent)
          VALUES (${event.topic}, ${event.kind}, ${event.projectId ?? null}, ${event.jobId ?? null},
                  ${JSON.stringify(event.payload ?? {})}::jsonb, ${event.traceparent ?? null})
          RETURNING id`
        const id = Number(rows[0]!.id)
        yield* notifications.notify("bus", String(id))
        return id
      })

      const payload = (maxPayloadBytes: number | undefined) =>
        maxPayloadBytes === undefined ? sql`payload` : sql`
          CASE WHEN octet_length(payload::text) <= ${maxPayloadBytes} THEN payload
          ELSE jsonb_build_object('truncated', true, 'bytes', octet_length(payload::text), 'keys',
            CASE WHEN jsonb_typeof(payload) = 'object'
              THEN (SELECT coalesce(jsonb_agg(k ORDER BY k), '[]'::jsonb) FROM jsonb_object_keys(payload) AS k)
              ELSE '[]'::jsonb END)
          END AS payload`

      const since = Effect.fn("EventBus.since")(function*(options: SinceOptions) {
        const rows = yield* sql<BusEventRow>`
          SELECT id, topic, kind, project_id, job_id, ${payload(options.maxPayloadBytes)}, traceparent, created_at
          FROM cogo.bus_events
          WHERE id > ${options.afterId}
            ${options.projectId === undefined ? sql`` : sql`AND project_id = ${options.projectId}`}
            ${options.jobId === undefined ? sql`` : sql`AND job_id = ${options.jobId}`}
          ORDER BY id
          LIMIT ${options.limit ?? 1000}`
        return rows.map(toBusEvent)
      })

      const byIds = Effect.fn("EventBus.byIds")(function*(ids: ReadonlyArray<number>, maxPayloadBytes?: number) {
        if (ids.length === 0) return []
        const rows = yield* sql<BusEventRow>`
          SELECT id, topic, kind, project_id, job_id, ${payload(maxPayloadBytes)}, traceparent, created_at
          FROM cogo.bus_events WHERE id IN ${sql.in(ids)} ORDER BY id`
        return rows.map(toBusEvent)
      })

      return EventBus.of({ publish, since, byIds })
    })
  )
}
