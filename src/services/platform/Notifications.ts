/**
 * LISTEN/NOTIFY for the whole process over ONE listening connection (each `listen` pins a pooled connection,
 * so one per consumer would exhaust the pool). Everything is sent on the channel `cogo` as
 * `<topic>:<payload>` and fanned out in memory by topic.
 *
 * Consumers that must not miss work (outbox, jobs) use `wakeups`, which merges notifications with a polling
 * tick, so a lost notification (listener reconnecting, backend without cross-connection NOTIFY) costs at
 * most one poll interval, never the work itself.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Duration, Effect, Layer, PubSub, Schedule, Stream } from "effect"
import type { SqlError } from "effect/sql/SqlError"

export const channel = "cogo"

export type Topic = "outbox" | "jobs" | "bus" | "chat"

export interface Notification {
  readonly topic: Topic
  readonly payload: string
}

const topics: ReadonlySet<string> = new Set<Topic>(["outbox", "jobs", "bus", "chat"])

export const parseNotification = (raw: string): Notification | undefined => {
  const colon = raw.indexOf(":")
  const topic = colon < 0 ? raw : raw.slice(0, colon)
  if (!topics.has(topic)) return undefined
  return { topic: topic as Topic, payload: colon < 0 ? "" : raw.slice(colon + 1) }
}

export class Notifications extends Context.Service<Notifications, {
  /** Sends `topic:payload`; inside a transaction Postgres delivers it on commit (and drops it on rollback). */
  readonly notify: (topic: Topic, payload: string) => Effect.Effect<void, SqlError>
  /** Notifications of one topic from now on. A listener reconnect emits `{ payload: "" }` (state unknown). */
  readonly subscribe: (topic: Topic) => Stream.Stream<Notification>
  /** A tick whenever `topic` is notified, at least every `pollEvery`, and once at start. */
  readonly wakeups: (topic: Topic, pollEvery: Duration.Input) => Stream.Stream<void>
}>()("cogo/Notifications") {
  static readonly layer = Layer.effect(
    Notifications,
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const hub = yield* PubSub.unbounded<Notification>()
      const publishAllTopics = (payload: string) =>
        Effect.forEach(topics, (topic) => PubSub.publish(hub, { topic: topic as Topic, payload }), { discard: true })

      const listenOnce = Effect.scoped(Effect.gen(function*() {
        const queue = yield* sql.listen(channel)
        // Anything notified while we were not listening is unknown: wake every consumer once.
        yield* publishAllTopics("")
        yield* Stream.fromQueue(queue).pipe(
          Stream.runForEach((n) => {
            const parsed = parseNotification(n.payload)
            return parsed === undefined ? Effect.void : PubSub.publish(hub, parsed)
          })
        )
      }))
      yield* listenOnce.pipe(
        Effect.tapCause((cause) => Effect.logWarning("notification listener lost its connection; reconnecting", cause)),
        Effect.retry(Schedule.min([Schedule.exponential("100 millis"), Schedule.spaced("5 seconds")])),
        Effect.forkScoped
      )

      const notify = (topic: Topic, payload: string) =>
        Effect.asVoid(sql`SELECT pg_notify(${channel}, ${`${topic}:${payload}`})`)

      const subscribe = (topic: Topic) =>
        Stream.fromPubSub(hub).pipe(Stream.filter((n) => n.topic === topic))

      return Notifications.of({ notify, subscribe, wakeups: wakeupsOf(subscribe) })
    })
  )
  /**
   * In memory, for tests of one process without a database: `notify` is delivered at once to subscribers
   * (not deferred to a commit), `wakeups` as in the real layer.
   */
  static readonly layerTest = Layer.effect(
    Notifications,
    Effect.gen(function*() {
      const hub = yield* PubSub.unbounded<Notification>()
      const subscribe = (topic: Topic) => Stream.fromPubSub(hub).pipe(Stream.filter((n) => n.topic === topic))
      return Notifications.of({
        notify: (topic, payload) => Effect.asVoid(PubSub.publish(hub, { topic, payload })),
        subscribe,
        wakeups: wakeupsOf(subscribe)
      })
    })
  )
}

/** A tick whenever `topic` is notified, at least every `pollEvery`, and once at start. */
const wakeupsOf = (subscribe: (topic: Topic) => Stream.Stream<Notification>) => (topic: Topic, pollEvery: Duration.Input) =>
  Stream.merge(
    Stream.map(subscribe(topic), () => undefined),
    Stream.fromSchedule(Schedule.spaced(pollEvery)).pipe(Stream.map(() => undefined))
  ).pipe(Stream.prepend([undefined]))
