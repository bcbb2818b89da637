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
 * A connection (`open`) registers in the caller's scope (the HTTP request's), then replays from the database
 * after `Last-Event-ID` up to the hub's horizon (everything already dispatched) and continues live after it:
 * no gap, no duplicate. Without `Last-Event-ID` it starts at the live tail (the horizon): no replay.
 * Live events bypass the connection's stream: the hub frames each event once and writes the same bytes to
 * every subscriber's socket (`Fanout.ts`); the connection's stream only carries the replay and the hand-over.
 *
 * Bounds (memory is bounded per connection, per user and per process):
 * - connections: `COGO_REALTIME_MAX_CONNECTIONS_PER_USER` per caller and `COGO_REALTIME_MAX_CONNECTIONS` per
 *   process; beyond them `open` refuses (the edge answers 429). A closed connection frees its slot.
 * - event size: payloads larger than `COGO_REALTIME_MAX_EVENT_BYTES` are replaced in SQL by a summary
 *   (`EventBus`), so a large payload never reaches the process through the realtime path.
 * - slow clients: while replaying, a connection holds at most `COGO_REALTIME_BUFFER` live events and
 *   `COGO_REALTIME_BUFFER_BYTES` bytes; live, at most `COGO_REALTIME_BUFFER_BYTES` wait in Node's buffer for
 *   its socket. Beyond that the connection is ended with an `overflow` frame instead of growing memory or
 *   slowing others; the client reconnects with `Last-Event-ID` and catches up.
 *
 * Heartbeats come from one timer for all connections.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Deferred, Duration, Effect, Exit, Layer, Metric, Option, Queue, Schedule, Stream } from "effect"
import type { Scope } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import type { BusEvent } from "../../domain/platform/BusEvent.ts"
import type { Principal } from "../auth/Auth.ts"
import { Database, DbRole } from "../platform/Database.ts"
import { EventBus } from "../platform/EventBus.ts"
import { Notifications } from "../platform/Notifications.ts"
import { type Bounds, bufferedBytes as heldBytes, type EventItem, fanOut, type Framing, goLive, itemOf, type LiveSink, send, type Subscriber } from "./Fanout.ts"

export type { Framing, LiveSink } from "./Fanout.ts"

export type StreamKey = { readonly projectId: string } | { readonly jobId: string }

export type OpenResult =
  /**
   * `frames`: the replay, then nothing (live frames go straight to the sink) until the hub ends the
   * connection (overflow); `reset` alone when the events after the client's Last-Event-ID were pruned.
   */
  | { readonly _tag: "Opened"; readonly frames: Stream.Stream<Uint8Array, SqlError> }
  | { readonly _tag: "Refused"; readonly limit: "user" | "process"; readonly max: number; readonly retryAfterSeconds: number }

export interface OpenOptions {
  /** Who opens it (`principalKey`): connections are counted per owner. */
  readonly owner: string
  readonly key: StreamKey
  /** `Last-Event-ID`: replay after it; `undefined` starts at the live tail. */
  readonly afterId: number | undefined
  /** The connection's raw response: live frames are written to it by the hub. */
  readonly sink: LiveSink
  readonly framing: Framing
}

/** A refused connection may retry after this long (a slot frees when any of the caller's streams closes). */
const retryAfterSeconds = 5

const subscribers = Metric.gauge("realtime_subscribers", { description: "Open realtime SSE subscriptions" })
const delivered = Metric.counter("realtime_events_delivered_total", {
  description: "Bus events handed to realtime subscribers",
  incremental: true
})
const overflows = Metric.counter("realtime_overflow_disconnects_total", {
  description: "Realtime connections ended because the client read too slowly",
  incremental: true
})
const refusals = Metric.counter("realtime_connections_refused_total", {
  description: "Realtime connections refused by the per-user or per-process cap",
  incremental: true
})

const keyOf = (key: StreamKey) => "projectId" in key ? `p:${key.projectId}` : `j:${key.jobId}`

export class Realtime extends Context.Service<Realtime, {
  /**
   * A connection to one project or job, held for the caller's scope (or refused beyond the caps): events
   * after `afterId` (replay) or from the live tail, then live, with a heartbeat every `COGO_SSE_HEARTBEAT`.
   * Ends with `overflow` for slow readers; is only `reset` when `afterId` is older than what retention pruned.
   */
  readonly open: (options: OpenOptions) => Effect.Effect<OpenResult, never, Scope.Scope>
  /** Membership check run as the user (RLS): may `principal` watch this project / job? */
  readonly canWatch: (principal: Principal, key: StreamKey) => Effect.Effect<boolean, SqlError>
  readonly subscriberCount: () => number
  /** Bytes held for or waiting on all connections (each at most `COGO_REALTIME_BUFFER_BYTES`). */
  readonly bufferedBytes: () => number
}>()("cogo/Realtime") {
  static readonly layer = Layer.effect(
    Realtime,
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const db = yield* Database
      const bus = yield* EventBus
      const notifications = yield* Notifications
      const bounds: Bounds = {
        events: yield* Config.Int("COGO_REALTIME_BUFFER").pipe(Config.withDefault(1024)),
        bytes: yield* Config.Int("COGO_REALTIME_BUFFER_BYTES").pipe(Config.withDefault(1024 * 1024))
      }
      const maxEventBytes = yield* Config.Int("COGO_REALTIME_MAX_EVENT_BYTES").pipe(Config.withDefault(16 * 1024))
      const maxPerUser = yield* Config.Int("COGO_REALTIME_MAX_CONNECTIONS_PER_USER").pipe(Config.withDefault(20))
      const maxConnections = yield* Config.Int("COGO_REALTIME_MAX_CONNECTIONS").pipe(Config.withDefault(20_000))
      const heartbeatEvery = yield* Config.Duration("COGO_SSE_HEARTBEAT").pipe(Config.withDefault(Duration.seconds(15)))
      // The hub reads pages of 1,000 events; a connection's replay reads pages of 100, so one page (written to
      // the socket as one chunk) holds at most 100 capped events, or one batch row (at most 100 job events).
      const hubPage = 1000
      const replayPage = 100

      const registry = new Map<string, Set<Subscriber>>()
      const perOwner = new Map<string, number>()
      let count = 0

      let handedOut = 0
      /** One hub pass's released events (id order): grouped per watched key, framed once, one write per subscriber. */
      const dispatch = (events: ReadonlyArray<BusEvent>) => {
        const byKey = new Map<string, Array<EventItem>>()
        const add = (key: string, item: EventItem) => {
          const items = byKey.get(key)
          if (items === undefined) byKey.set(key, [item])
          else items.push(item)
        }
        for (let i = 0; i < events.length; i++) {
          const event = events[i]!
          const projectKey = event.projectId === null ? undefined : `p:${event.projectId}`
          const jobKey = event.jobId === null ? undefined : `j:${event.jobId}`
          const project = projectKey !== undefined && registry.has(projectKey)
          const job = jobKey !== undefined && registry.has(jobKey)
          if (!project && !job) continue
          // A job's stream holds one event of a batch row; a project's holds all of them (see `EventItem.resume`).
          const last = events[i + 1]?.id !== event.id
          const item = itemOf(event)
          if (project) add(projectKey!, last ? item : { ...item, resume: false })
          if (job) add(jobKey!, item)
        }
        for (const [key, items] of byKey) handedOut += fanOut(items, registry.get(key)!, bounds)
      }

      // The hub delivers events in strict id order, so a connection's last id is an exact resume point.
      // Identity order is not commit order: an id above `cursor` that is missing (a gap) belongs to a
      // transaction still running or rolled back. Events after a gap are held until the gap resolves: its row
      // appears, or every transaction that was running when the gap was seen has ended (then it rolled back),
      // or `gapTimeout` passes (a stuck transaction must not stall every stream).
      const gapTimeoutMs = 60_000
      // Start-up: the hub starts below the first id missing among the last 1,000 (a transaction that may still
      // commit), and its first pass reads what follows like any pass: the events after such a gap are held until
      // it resolves, so a connection that registers meanwhile misses none of them.
      const recent = yield* sql<{ id: string }>`
        SELECT id::text AS id FROM cogo.bus_events WHERE id > (SELECT coalesce(max(id), 0) - 1000 FROM cogo.bus_events) ORDER BY bus_events.id`
      const recentIds = recent.map((r) => Number(r.id))
      let cursor = recentIds.at(-1) ?? 0
      const firstMissing = recentIds.findIndex((id, i) => i > 0 && id - recentIds[i - 1]! > 1)
      if (firstMissing > 0) cursor = recentIds[firstMissing - 1]!
      /** Gap id -> when it was seen (database clock, ms) and when locally (for the timeout). */
      const gaps = new Map<number, { readonly seenAt: number; readonly localAt: number }>()
      const held: Array<BusEvent> = []
      const clock = sql<{ now: Date }>`SELECT clock_timestamp() AS now`.pipe(Effect.map((rows) => rows[0]!.now.getTime()))
      let horizon = cursor

      const flush = () => {
        held.sort((x, y) => x.id - y.id)
        const firstGap = gaps.size === 0 ? Infinity : Math.min(...gaps.keys())
        let released = 0
        while (released < held.length && held[released]!.id < firstGap) released++
        dispatch(held.splice(0, released))
        horizon = firstGap === Infinity ? cursor : firstGap - 1
      }

      const readNew: Effect.Effect<void, SqlError> = Effect.gen(function*() {
        for (;;) {
          const { events, more } = yield* bus.page({ afterId: cursor, limit: hubPage, maxPayloadBytes: maxEventBytes })
          // Taken after the read: a transaction holding a gap id started before this instant.
          const seenAt = yield* clock
          for (const event of events) {
            if (event.id - cursor > 1) {
              for (let id = Math.max(cursor + 1, event.id - 10_000); id < event.id; id++) gaps.set(id, { seenAt, localAt: Date.now() })
            }
            cursor = event.id
            held.push(event)
          }
          if (!more) return
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
        const found = yield* bus.byIds([...gaps.keys()], maxEventBytes)
        for (const event of found) {
          gaps.delete(event.id)
          held.push(event)
        }
        const now = Date.now()
        for (const [id, gap] of gaps) {
          if (oldestStart > gap.seenAt || now - gap.localAt > gapTimeoutMs) gaps.delete(id)
        }
      })

      const pass = readNew.pipe(
        Effect.andThen(resolveGaps),
        Effect.andThen(Effect.suspend(() => {
          flush()
          const count = handedOut
          handedOut = 0
          return Metric.update(delivered, count)
        }))
      )
      // One reader for the whole process; notifications arriving while it reads coalesce into one more pass.
      const wake = yield* Queue.sliding<void>(1)
      yield* notifications.subscribe("bus").pipe(Stream.runForEach(() => Queue.offer(wake, undefined)), Effect.forkScoped)
      // The start-up pass runs before anyone can connect: a hole that has already resolved (rolled back) in the
      // history holds nothing back, and a live tail starts after the history. One more pass follows at once, for
      // what committed while the subscription above was starting.
      yield* pass
      Queue.offerUnsafe(wake, undefined)
      yield* Queue.take(wake).pipe(
        Effect.andThen(pass),
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

      type Registration =
        | { readonly _tag: "Registered"; readonly subscriber: Subscriber; readonly key: string; readonly upTo: number }
        | Extract<OpenResult, { readonly _tag: "Refused" }>

      /**
       * Checks the caps, then registers the connection and reads the horizon in one synchronous step (see
       * `open`). The slot and the registration are released when the caller's scope closes.
       */
      const register = (options: OpenOptions, ended: Deferred.Deferred<void>) =>
        Effect.acquireRelease(
          Effect.sync((): Registration => {
            const owned = perOwner.get(options.owner) ?? 0
            if (count >= maxConnections) return { _tag: "Refused", limit: "process", max: maxConnections, retryAfterSeconds }
            if (owned >= maxPerUser) return { _tag: "Refused", limit: "user", max: maxPerUser, retryAfterSeconds }
            const upTo = horizon
            // A live tail starts after every event the hub has read (committed before it connected), plus the
            // open gaps below them: a transaction still running may commit one of them after it connected.
            const liveTail = options.afterId === undefined
            const subscriber: Subscriber = {
              owner: options.owner,
              after: liveTail ? cursor : Math.max(options.afterId, upTo),
              also: liveTail && gaps.size > 0 ? new Set(gaps.keys()) : undefined,
              sink: options.sink,
              framing: options.framing,
              pending: [],
              pendingEvents: 0,
              pendingBytes: 0,
              closed: false,
              overflowed: false,
              ended: () => Deferred.doneUnsafe(ended, Exit.void)
            }
            const key = keyOf(options.key)
            const set = registry.get(key) ?? new Set<Subscriber>()
            set.add(subscriber)
            registry.set(key, set)
            perOwner.set(options.owner, owned + 1)
            count++
            return { _tag: "Registered", subscriber, key, upTo }
          }),
          (registration) =>
            registration._tag === "Refused" ? Effect.void : Effect.gen(function*() {
              const { key, subscriber } = registration
              subscriber.closed = true
              const set = registry.get(key)
              set?.delete(subscriber)
              if (set?.size === 0) registry.delete(key)
              const owned = (perOwner.get(subscriber.owner) ?? 1) - 1
              if (owned === 0) perOwner.delete(subscriber.owner)
              else perOwner.set(subscriber.owner, owned)
              count--
              yield* Metric.update(subscribers, count)
              if (subscriber.overflowed) yield* Metric.update(overflows, 1)
            })
        ).pipe(Effect.tap((registration) => registration._tag === "Refused" ? Metric.update(refusals, 1) : Metric.update(subscribers, count)))

      // One heartbeat timer for all connections (not one per connection).
      yield* Effect.sync(() => {
        for (const set of registry.values()) for (const subscriber of set) send(subscriber, subscriber.framing.heartbeat, 0, bounds)
      }).pipe(Effect.repeat(Schedule.spaced(heartbeatEvery)), Effect.forkScoped)

      const replayFrom = (key: StreamKey, afterId: number) =>
        Stream.paginate(afterId, (after) =>
          Effect.map(
            bus.page({
              afterId: after,
              limit: replayPage,
              maxPayloadBytes: maxEventBytes,
              ...("projectId" in key ? { projectId: key.projectId } : { jobId: key.jobId })
            }),
            // Pages never split a batch row, so its last event is known within the page.
            ({ events, more }) =>
              [
                events.map((event, i) => itemOf(event, events[i + 1]?.id !== event.id)),
                more ? Option.some(events[events.length - 1]!.id) : Option.none()
              ] as const
          ))

      /** Bus event ids up to this one may have been deleted by retention (migration 0016). */
      const prunedThrough = Effect.map(
        sql<{ n: string }>`SELECT pruned_through AS n FROM cogo.retention_state WHERE name = 'bus_events'`,
        ([row]) => Number(row?.n ?? 0)
      )

      const open = (options: OpenOptions): Effect.Effect<OpenResult, never, Scope.Scope> =>
        Effect.flatMap(Effect.sync(() => Deferred.makeUnsafe<void>()), (ended) =>
          Effect.map(register(options, ended), (registration): OpenResult => {
            if (registration._tag === "Refused") return registration
            // Every event up to the horizon is already dispatched, so it comes from the replay; every later one
            // is held by the hub until the hand-over (it skips ids up to `subscriber.after` for this subscriber).
            const { subscriber, upTo } = registration
            const { framing } = options
            const replay = options.afterId === undefined ? Stream.empty : replayFrom(options.key, options.afterId).pipe(
              Stream.takeWhile((item) => item.event.id <= upTo),
              Stream.map((item) => framing.event(item))
            )
            // The stream's consumer wrote every replay frame before it pulls this: the hand-over is in order. From
            // here the hub writes to the socket; the stream waits until the hub ends the connection (overflow),
            // or is interrupted (disconnect, drain), which stops the hub's writes first.
            const live = Stream.fromEffectDrain(
              Effect.suspend(() => goLive(subscriber) ? Deferred.await(ended) : Effect.void).pipe(
                Effect.ensuring(Effect.sync(() => {
                  subscriber.closed = true
                }))
              )
            )
            const frames = Stream.concat(replay, live)
            const afterId = options.afterId
            // Never a silent gap: a resume point older than what retention pruned gets `reset` and nothing else.
            return {
              _tag: "Opened",
              frames: afterId === undefined
                ? frames
                : Stream.unwrap(Effect.map(prunedThrough, (pruned) => afterId < pruned ? Stream.succeed(framing.reset) : frames))
            }
          }))

      /**
       * Identical membership checks running at the same time (same claims, same stream: a reconnect storm, a
       * page opened in many tabs) share one query. Only checks in flight are shared, never a past answer; a
       * follower whose leader was interrupted runs its own.
       */
      const inFlight = new Map<string, Deferred.Deferred<boolean, SqlError>>()
      const coalesced = (id: string, check: Effect.Effect<boolean, SqlError>): Effect.Effect<boolean, SqlError> =>
        Effect.suspend(() => {
          const running = inFlight.get(id)
          if (running !== undefined) {
            return Effect.flatMap(Effect.exit(Deferred.await(running)), (exit) => Exit.isSuccess(exit) ? Effect.succeed(exit.value) : check)
          }
          const leader = Deferred.makeUnsafe<boolean, SqlError>()
          inFlight.set(id, leader)
          return check.pipe(Effect.onExit((exit) =>
            Effect.sync(() => {
              inFlight.delete(id)
              Deferred.doneUnsafe(leader, exit)
            })))
        })

      const canWatch = Effect.fn("Realtime.canWatch")(function*(principal: Principal, key: StreamKey) {
        if (principal.role === "service_role") return true
        return yield* coalesced(`${keyOf(key)} ${JSON.stringify(principal.claims)}`, isMember(principal, key))
      })

      const isMember = Effect.fnUntraced(function*(principal: Principal, key: StreamKey) {
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

      const bufferedBytes = () => {
        let total = 0
        for (const set of registry.values()) for (const subscriber of set) total += heldBytes(subscriber)
        return total
      }

      return Realtime.of({ open, canWatch, subscriberCount: () => count, bufferedBytes })
    })
  )
}
