/**
 * Publishes bus events: a row in `cogo.bus_events` (the durable, replayable log) plus a `bus` notification
 * carrying the new id, sent in the caller's transaction so listeners hear of it only once it is committed.
 * Readers may cap payloads (`maxPayloadBytes`): a larger payload is replaced in SQL, so it never leaves the
 * database, by a summary `{ truncated: true, bytes, keys }` (`keys`: its top-level keys when it is an object).
 * Job lifecycle events are written one row per batch (`jobTransitions.ts`, migration 0027); reads expand such a
 * row into one event per job, each with the row's id.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import type { Fragment } from "effect/sql/Statement"
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
  /**
   * At most this many events (default 1,000), in whole rows: a batch row of job events is never split, so a
   * page holds at least one row (a batch row holds at most 100 events, see `jobTransitions.ts`).
   */
  readonly limit?: number | undefined
  /** Payloads whose JSON text is larger than this are replaced by a summary. */
  readonly maxPayloadBytes?: number | undefined
}

/** One read of `page`: its events and whether more may follow (read again after the last event's id). */
export interface EventPage {
  readonly events: ReadonlyArray<BusEvent>
  readonly more: boolean
}

export class EventBus extends Context.Service<EventBus, {
  /** Appends one event; returns its id. Runs in the caller's transaction when there is one. */
  readonly publish: (event: NewBusEvent) => Effect.Effect<number, SqlError>
  /** Events after `afterId` (exclusive), oldest first, optionally of one project or job. */
  readonly since: (options: SinceOptions) => Effect.Effect<ReadonlyArray<BusEvent>, SqlError>
  /** `since`, saying whether more events may follow the page (for readers that page through the log). */
  readonly page: (options: SinceOptions) => Effect.Effect<EventPage, SqlError>
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

      // A payload as read: capped (see the header). `value` is the row's payload or one job's part of a batch row.
      const capped = (value: Fragment, maxPayloadBytes: number | undefined) =>
        maxPayloadBytes === undefined ? value : sql`
          CASE WHEN octet_length(${value}::text) <= ${maxPayloadBytes} THEN ${value}
          ELSE jsonb_build_object('truncated', true, 'bytes', octet_length(${value}::text), 'keys',
            CASE WHEN jsonb_typeof(${value}) = 'object'
              THEN (SELECT coalesce(jsonb_agg(k ORDER BY k), '[]'::jsonb) FROM jsonb_object_keys(${value}) AS k)
              ELSE '[]'::jsonb END)
          END`

      /**
       * The events of the rows `rows` selects (a subquery over cogo.bus_events), oldest first: a batch row of
       * job events (migration 0027) becomes one event per job, in the row's order, all with the row's id;
       * with `jobId`, only that job's. `extra`: more columns of `rows` to return.
       */
      const expand = <Extra extends object = object>(rows: Fragment, maxPayloadBytes: number | undefined, jobId?: string | undefined, extra = sql``) => {
        return sql<BusEventRow & Extra>`
          SELECT ${extra} b.id, b.topic, b.kind, b.project_id, coalesce((e.part->>'j')::uuid, b.job_id) AS job_id,
                 ${capped(sql`v.payload`, maxPayloadBytes)} AS payload,
                 CASE WHEN e.part IS NULL THEN b.traceparent ELSE e.part->>'t' END AS traceparent, b.created_at
          FROM (${rows}) b
          LEFT JOIN LATERAL json_array_elements(b.parts) WITH ORDINALITY AS e(part, n) ON true
          CROSS JOIN LATERAL (
            SELECT coalesce((e.part->'p')::jsonb || jsonb_build_object('jobKind', e.part->>'k'), b.payload) AS payload
          ) v
          ${jobId === undefined ? sql`` : sql`WHERE coalesce((e.part->>'j')::uuid, b.job_id) = ${jobId}`}
          ORDER BY b.id, e.n`
      }

      /**
       * Rows after `afterId` while their events fit in `limit` (the first row always), with `fetched` (rows
       * read: `limit` of them means more may follow) and `kept` (fewer than fetched: the budget cut the page).
       * Every row holds at least one event, so `limit` rows always cover `limit` events.
       */
      const page = Effect.fn("EventBus.page")(function*(options: SinceOptions) {
        const limit = options.limit ?? 1000
        const events = options.jobId === undefined ? sql`coalesce(cardinality(job_ids), 1)` : sql`1`
        const rows = yield* expand<{ readonly fetched: string; readonly kept: string }>(
          sql`
            SELECT r.*, count(*) OVER () AS kept FROM (
              SELECT b.*, sum(b.events) OVER (ORDER BY b.id) AS upto, count(*) OVER () AS fetched FROM (
                SELECT *, ${events} AS events FROM cogo.bus_events
                WHERE id > ${options.afterId}
                  ${options.projectId === undefined ? sql`` : sql`AND project_id = ${options.projectId}`}
                  ${options.jobId === undefined ? sql`` : sql`AND (job_id = ${options.jobId} OR job_ids @> ARRAY[${options.jobId}]::uuid[])`}
                ORDER BY id
                LIMIT ${limit}
              ) b
            ) r
            WHERE r.upto = r.events OR r.upto <= ${limit}`,
          options.maxPayloadBytes,
          options.jobId,
          sql`b.fetched, b.kept,`
        )
        const first = rows[0]
        const more = first !== undefined && (Number(first.fetched) === limit || Number(first.kept) < Number(first.fetched))
        return { events: rows.map(toBusEvent), more } satisfies EventPage
      })

      const since = (options: SinceOptions) => Effect.map(page(options), (read) => read.events)

      const byIds = Effect.fn("EventBus.byIds")(function*(ids: ReadonlyArray<number>, maxPayloadBytes?: number) {
        if (ids.length === 0) return []
        const rows = yield* expand(sql`SELECT * FROM cogo.bus_events WHERE id IN ${sql.in(ids)}`, maxPayloadBytes)
        return rows.map(toBusEvent)
      })

      return EventBus.of({ publish, since, page, byIds })
    })
  )
}
