/**
 * The bus events of the projection: one `projection.applied` per project a batch touched, one
 * `projection.conflict` per conflict, one `projection.dead_letter` per dead letter, `projection.rebuilt` per
 * rebuild. Written set-based, as a statement fragment the batch's closing statement embeds.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import type { NewBusEvent } from "../domain/platform/BusEvent.ts"
import { channel } from "../services/platform/Notifications.ts"
import type { Decided } from "./rows.ts"

/** Events of a batch: one projection.applied per project, plus conflicts and dead letters. */
export const batchEvents = (decided: ReadonlyArray<Decided>): ReadonlyArray<NewBusEvent> => {
  const events: Array<NewBusEvent> = []
  const perProject = new Map<string, { applied: number; lastUpdateId: number }>()
  for (const [row, outcome] of decided) {
    if (outcome._tag === "dead") {
      events.push({
        topic: "project",
        kind: "projection.dead_letter",
        projectId: row.projectId,
        payload: { updateId: row.id, updateType: row.updateType, aggregateId: row.aggregateId, error: outcome.error },
        traceparent: row.traceparent ?? undefined
      })
    }
    if (outcome._tag === "conflict") {
      events.push({
        topic: "project",
        kind: "projection.conflict",
        projectId: row.projectId,
        payload: {
          updateId: row.id,
          aggregateType: row.aggregateType,
          aggregateId: row.aggregateId,
          kind: outcome.kind,
          publicVersion: outcome.publicVersion,
          baseVersion: row.baseVersion,
          userId: outcome.userId
        },
        traceparent: row.traceparent ?? undefined
      })
    }
    if (outcome._tag !== "applied") continue
    const entry = perProject.get(row.projectId) ?? { applied: 0, lastUpdateId: 0 }
    perProject.set(row.projectId, { applied: entry.applied + 1, lastUpdateId: Math.max(entry.lastUpdateId, row.id) })
  }
  for (const [projectId, entry] of perProject) events.push({ topic: "project", kind: "projection.applied", projectId, payload: entry })
  return events
}

/**
 * `EventBus.publish` for many events: rows in `cogo.bus_events` (RETURNING id) whose ids the enclosing
 * statement notifies as `bus:<id>` on the `cogo` channel (the format EventBus and Notifications use, see
 * `notifyInserted`), delivered on commit like theirs. The enclosing statement names this CTE `inserted`.
 */
export const busEventInsert = (sql: PgClient.PgClient, events: ReadonlyArray<NewBusEvent>) => sql`
  INSERT INTO cogo.bus_events (topic, kind, project_id, payload, traceparent)
  SELECT topic, kind, project_id, payload, traceparent
  FROM jsonb_to_recordset(${JSON.stringify(events.map((event, ord) => ({
  ord,
  topic: event.topic,
  kind: event.kind,
  project_id: event.projectId ?? null,
  payload: event.payload ?? {},
  traceparent: event.traceparent ?? null
})))}::jsonb) AS x(ord integer, topic text, kind text, project_id uuid, payload jsonb, traceparent text)
  ORDER BY ord
  RETURNING id`

/** The final SELECT of a statement with an `inserted` CTE of bus event ids: notifies each, in id order. */
export const notifyInserted = (sql: PgClient.PgClient) =>
  sql`SELECT count(pg_notify(${channel}, 'bus:' || id)) FROM (SELECT id FROM inserted ORDER BY id) ids`

/** Publishes events in one statement (in the caller's transaction; notifications go out on commit). */
export const publishAll = Effect.fn("Projection.publishEvents")(function*(sql: PgClient.PgClient, events: ReadonlyArray<NewBusEvent>) {
  yield* sql`WITH inserted AS (${busEventInsert(sql, events)}) ${notifyInserted(sql)}`
})
