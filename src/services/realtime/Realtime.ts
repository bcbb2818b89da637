/**
 * Realtime streams per project and per job: views over `cogo.bus_events`.
 *
 * One hub per process: it hears `bus` notifications on the process's single LISTEN connection
 * (`Notifications.subscribe("bus")`), reads the new rows once (`EventBus.since`) and fans each event out in
 * memory to the subscribers of its project/job (indexed, so a publish costs O(subscribers of that key)).
 * Events are delivered in strict id order: ids skipped because their transaction had not committed yet
 * (identity order is not commit order) hold back later events until they appear or their transaction is
 * known to have ended (see `resolveGaps`), so a connection's last id is an exact resume point.
 *
 * A subscriber registers its live queue, replays from the database after `Last-Event-ID` up to the hub's
 * horizon (everything already dispatched), then continues live after it: no gap, no duplicate.
 *
 * Heartbeats come from one timer for all connections. Slow clients: each connection has a bounded buffer
 * (`COGO_REALTIME_BUFFER` events). When it is full the
 * connection is ended with an `overflow` frame instead of growing memory or slowing others; the client
 * reconnects with `Last-Event-ID` and catches up from the database.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Duration, Effect, Layer, Metric, Option, Queue, Schedule, Stream } from "effect"
import type { Cause } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import type { BusEvent } from "../../domain/platform/BusEvent.ts"
import type { Principal } from "../auth/Auth.ts"
import { Database, DbRole } from "../platform/Database.ts"
import { EventBus, toBusEvent } from "../platform/EventBus.ts"
import { Notifications } from "../platform/Notifications.ts"

export type StreamKey = { readonly projectId: string } | { readonly jobId: string }

export type RealtimeItem =
  | { readonly _tag: "Event"; readonly event: BusEvent }
  | { readonly _tag: "Heartbeat" }
  | { readonly _tag: "Overflow" }

interface Subscriber {
  readonly queue: Queue.Queue<RealtimeItem, Cause.Done>
  /** Live events up to this id came from the replay. */
  readonly after: number
  overflowed: boolean
}

const heartbeatItem: RealtimeItem = { _tag: "Heartbeat" }
const overflowItem: RealtimeItem = { _tag: "Overflow" }

const subscribers = Metric.gauge("realtime_subscribers", { description: "Open realtime SSE subscriptions" })
const delivered = Metric.counter("realtime_events_delivered_total", {
  description: "Bus events handed to realtime subscribers",
  incremental: true
})
const overflows = Metric.counter("realtime_overflow_disconnects_total", {
  description: "Realtime connections ended because the client read too slowly",
  incremental: true
})

const keyOf = (key: StreamKey) => "projectId" in key ? `p:${key.projectId}` : `j:${key.jobId}`

export class Realtime extends Context.Service<Realtime, {
  /**
   * Events of one project or job after `afterId` (replay), then live, with a `Heartbeat` every
   * `COGO_SSE_HEARTBEAT`. Ends with `Overflow` for slow readers.
   */
  readonly subscribe: (key: StreamKey, afterId: number) => Stream.Stream<RealtimeItem, SqlError>
  /** Membership check run as the user (RLS): may `principal` watch this project / job? */
  readonly canWatch: (principal: Principal, key: StreamKey) => Effect.Effect<boolean, SqlError>
  readonly subscriberCount: () => number
}>()("cogo/Realtime") {
  static readonly layer = Layer.effect(
    Realtime,
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const db = yield* Database
      const bus = yield* EventBus
      const notifications = yield* Notifications
      const capacity = yield* Config.Int("COGO_REALTIME_BUFFER").pipe(Config.withDefault(1024))
      const heartbeatEvery = yield* Config.Duration("COGO_SSE_HEARTBEAT").pipe(Config.withDefault(Duration.seconds(15)))
      const replayPage = 1000

      const registry = new Map<string, Set<Subscriber>>()
      let count = 0

      let handedOut = 0
      const offer = (subscriber: Subscriber, item: RealtimeItem) => {
        if (subscriber.overflowed) return
        if (!Queue.offerUnsafe(subscriber.queue, item)) {
          subscriber.overflowed = true
          Queue.endUnsafe(subscriber.queue)
        }
      }
      const dispatch = (event: BusEvent) => {
        // One item object for every subscriber: the edge encodes its SSE frame once (see RealtimeRoutes).
        const item: RealtimeItem = { _tag: "Event", event }
        const keys = [event.projectId === null ? undefined : `p:${event.projectId}`, event.jobId === null ? undefined : `j:${event.jobId}`]
        for (const key of keys) {
          if (key === undefined) continue
          const set = registry.get(key)
          if (set === undefined) continue
          for (const subscriber of set) {
            if (event.id <= subscriber.after) continue
            handedOut++
            offer(subscriber, item)
          }
        }
      }

      // The hub delivers events in strict id order, so a connection's last id is an exact resume point.
      // Identity order is not commit order: an id above `cursor` that is missing (a gap) belongs to a
      // transaction still running or rolled back. Events after a gap are held until the gap resolves: its row
      // appears, or every transaction that was running when the gap was seen has ended (then it rolled back),
      // or `gapTimeout` passes (a stuck transaction must not stall every stream).
      type Row = Parameters<typeof toBusEvent>[0]
      const gapTimeoutMs = 60_000
      const recent = yield* sql<{ id: string }>`
        SELECT id::text AS id FROM cogo.bus_events WHERE id > (SELECT coalesce(max(id), 0) - 1000 FROM cogo.bus_events) ORDER BY id`
      let cursor = 0
      /** Gap id -> when it was seen (database clock, ms) and when locally (for the timeout). */
      const gaps = new Map<number, { readonly seenAt: number; readonly localAt: number }>()
      const held: Array<BusEvent> = []
      const clock = sql<{ now: Date }>`SELECT clock_timestamp() AS now`.pipe(Effect.map((rows) => rows[0]!.now.getTime()))
      {
        const now = yield* clock
        const ids = recent.map((r) => Number(r.id))
        const first = ids[0]
        if (first !== undefined) {
          const present = new Set(ids)
          cursor = ids[ids.length - 1]!
          for (let id = first; id < cursor; id++) if (!present.has(id)) gaps.set(id, { seenAt: now, localAt: Date.now() })
        }
      }
      let horizon = gaps.size === 0 ? cursor : Math.min(...gaps.keys()) - 1

      const flush = () => {
        held.sort((x, y) => x.id - y.id)
        const firstGap = gaps.size === 0 ? Infinity : Math.min(...gaps.keys())
        let released = 0
        while (released < held.length && held[released]!.id < firstGap) dispatch(held[released++]!)
        held.splice(0, released)
        horizon = firstGap === Infinity ? cursor : firstGap - 1
      }

      const readNew: Effect.Effect<void, SqlError> = Effect.gen(function*() {
        for (;;) {
          const events = yield* bus.since({ afterId: cursor, limit: replayPage })
          // Taken after the read: a transaction holding a gap id started before this instant.
          const seenAt = yield* clock
          for (const event of events) {
            if (event.id - cursor > 1) {
              for (let id = Math.max(cursor + 1, event.id - 10_000); id < event.id; id++) gaps.set(id, { seenAt, localAt: Date.now() })
            }
            cursor = event.id
            held.push(event)
          }
          if (events.length < replayPage) return
        }
      })

      const resolveGaps: Effect.Effect<void, SqlError> = Effect.gen(function*() {
        if (gaps.size === 0) return
        // Order matters: first the oldest running transaction, then the rows. A gap whose transaction ended
        // before the first query is visible to the second if it committed.
        const oldest = yield* sql<{ oldest: Date | null }>`
          SELECT min(xact_start) AS oldest FROM pg_stat_activity
          WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND datname = current_database()`
        const oldestStart = oldest[0]?.oldest?.getTime() ?? Infinity
        const rows = yield* sql<Row>`
          SELECT id, topic, kind, project_id, job_id, payload, traceparent, created_at FROM cogo.bus_events
          WHERE id IN ${sql.in([...gaps.keys()])} ORDER BY id`
        for (const row of rows) {
          const event = toBusEvent(row)
          gaps.delete(event.id)
          held.push(event)
        }
        const now = Date.now()
        for (const [id, gap] of gaps) {
          if (oldestStart > gap.seenAt || now - gap.localAt > gapTimeoutMs) gaps.delete(id)
        }
      })

      // One reader for the whole process; notifications arriving while it reads coalesce into one more pass.
      const wake = yield* Queue.sliding<void>(1)
      yield* notifications.subscribe("bus").pipe(Stream.runForEach(() => Queue.offer(wake, undefined)), Effect.forkScoped)
      yield* Queue.take(wake).pipe(
        Effect.andThen(readNew),
        Effect.andThen(resolveGaps),
        Effect.andThen(Effect.suspend(() => {
          flush()
          const count = handedOut
          handedOut = 0
          return Metric.update(delivered, count)
        })),
        Effect.tapCause((cause) => Effect.logWarning("realtime hub read failed; retrying", cause)),
        Effect.retry(Schedule.spaced("500 millis")),
        Effect.forever,
        Effect.forkScoped
      )
      // While gaps are open they are re-checked every 20 ms (their commit may not notify us after our read).
      yield* Effect.andThen(Effect.sleep("20 millis"), Effect.sync(() => gaps.size > 0 ? Queue.offerUnsafe(wake, undefined) : false)).pipe(
        Effect.forever,
        Effect.forkScoped
      )

      /** Registers a live queue; in the same synchronous step reads the horizon (see `subscribe`). */
      const register = (key: StreamKey, afterId: number) =>
        Effect.acquireRelease(
          Effect.flatMap(Queue.bounded<RealtimeItem, Cause.Done>(capacity), (queue) =>
            Effect.sync(() => {
              const upTo = horizon
              const subscriber: Subscriber = { queue, after: Math.max(afterId, upTo), overflowed: false }
              const k = keyOf(key)
              const set = registry.get(k) ?? new Set<Subscriber>()
              set.add(subscriber)
              registry.set(k, set)
              count++
              return { subscriber, upTo }
            })),
          ({ subscriber }) =>
            Effect.gen(function*() {
              const k = keyOf(key)
              const set = registry.get(k)
              set?.delete(subscriber)
              if (set?.size === 0) registry.delete(k)
              count--
              yield* Metric.update(subscribers, count)
              if (subscriber.overflowed) yield* Metric.update(overflows, 1)
            })
        ).pipe(Effect.tap(() => Metric.update(subscribers, count)))

      // One heartbeat timer for all connections (not one per connection).
      yield* Effect.sync(() => {
        for (const set of registry.values()) for (const subscriber of set) Queue.offerUnsafe(subscriber.queue, heartbeatItem)
      }).pipe(Effect.repeat(Schedule.spaced(heartbeatEvery)), Effect.forkScoped)

      const replayFrom = (key: StreamKey, afterId: number) =>
        Stream.paginate(afterId, (after) =>
          Effect.map(
            bus.since({ afterId: after, limit: replayPage, ...("projectId" in key ? { projectId: key.projectId } : { jobId: key.jobId }) }),
            (events) => [events, events.length < replayPage ? Option.none() : Option.some(events[events.length - 1]!.id)] as const
          ))

      const subscribe = (key: StreamKey, afterId: number): Stream.Stream<RealtimeItem, SqlError> =>
        Stream.unwrap(Effect.gen(function*() {
          // Every event up to the horizon is already dispatched, so it comes from the replay; every later one
          // arrives in the queue (the hub skips ids up to `subscriber.after` for this subscriber).
          const { subscriber, upTo } = yield* register(key, afterId)
          const replay = replayFrom(key, afterId).pipe(
            Stream.takeWhile((event) => event.id <= upTo),
            Stream.map((event): RealtimeItem => ({ _tag: "Event", event }))
          )
          const end = Stream.suspend(() => subscriber.overflowed ? Stream.succeed(overflowItem) : Stream.empty)
          return Stream.concat(Stream.concat(replay, Stream.fromQueue(subscriber.queue)), end)
        }))

      const canWatch = Effect.fn("Realtime.canWatch")(function*(principal: Principal, key: StreamKey) {
        if (principal.role === "service_role") return true
        if ("projectId" in key) {
          const rows = yield* db.asUser(principal.claims, sql<{ ok: boolean }>`SELECT public.is_project_member(${key.projectId}::uuid) AS ok`)
          return rows[0]?.ok === true
        }
        const jobs = yield* db.withRole(DbRole.agent, sql<{ project_id: string | null; created_by: string | null }>`
          SELECT project_id, created_by FROM cogo.jobs WHERE id = ${key.jobId}::uuid`)
        const job = jobs[0]
        if (job === undefined) return false
        if (job.project_id === null) return job.created_by === principal.userId
        const rows = yield* db.asUser(principal.claims, sql<{ ok: boolean }>`SELECT public.is_project_member(${job.project_id}::uuid) AS ok`)
        return rows[0]?.ok === true
      })

      return Realtime.of({ subscribe, canWatch, subscriberCount: () => count })
    })
  )
}
