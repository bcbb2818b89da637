import { assert, describe, it, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer, Stream } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { Notifications, parseNotification } from "../../src/services/platform/Notifications.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"

describe("notification payloads", () => {
  it("parse topic:payload and ignore unknown topics", () => {
    assert.deepStrictEqual(parseNotification("outbox:42"), { topic: "outbox", payload: "42" })
    assert.deepStrictEqual(parseNotification("bus:a:b"), { topic: "bus", payload: "a:b" })
    assert.isUndefined(parseNotification("other:1"))
  })
})

/**
 * Sends `probe` until the subscriber has seen one (`seen`), so the subscription is live before the test acts:
 * waiting on the event itself, not a sleep hoped to be long enough.
 */
const untilSeen = (probe: Effect.Effect<void, unknown>, seen: Deferred.Deferred<void>) =>
  probe.pipe(Effect.andThen(Deferred.await(seen).pipe(Effect.timeout("100 millis"))), Effect.retry({ times: 100 }))

const TestLayer = EventBus.layer.pipe(Layer.provideMerge(Notifications.layer), Layer.provideMerge(TestDatabaseLive()))

layer(TestLayer, { excludeTestServices: true })("event bus over one LISTEN connection", (it) => {
  it.effect("an event committed by an agent transaction is stored, notified once, and replayable", () =>
    Effect.gen(function*() {
      const bus = yield* EventBus
      const notifications = yield* Notifications
      const db = yield* Database
      const live = yield* Deferred.make<void>()
      const received = yield* notifications.subscribe("bus").pipe(
        Stream.tap((n) => n.payload === "probe" ? Deferred.succeed(live, undefined) : Effect.void),
        Stream.filter((n) => n.payload !== "" && n.payload !== "probe"),
        Stream.take(2),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* untilSeen(notifications.notify("bus", "probe"), live)
      const first = yield* db.withRole(DbRole.agent, bus.publish({ topic: "job", kind: "progress", payload: { pct: 10 } }))
      // Rolled back: neither stored nor notified.
      yield* db.withRole(DbRole.agent, Effect.andThen(bus.publish({ topic: "job", kind: "lost" }), Effect.fail("abort"))).pipe(
        Effect.ignore
      )
      const second = yield* db.withRole(DbRole.agent, bus.publish({ topic: "project", kind: "applied", projectId: "00000000-0000-0000-0000-000000000001" }))
      const ids = Array.from(yield* Fiber.join(received), (n) => Number(n.payload))
      assert.deepStrictEqual(ids, [first, second])
      const replay = yield* bus.since({ afterId: 0 })
      assert.deepStrictEqual(replay.map((e) => e.kind), ["progress", "applied"])
      assert.deepStrictEqual(replay[0]!.payload, { pct: 10 })
      const ofProject = yield* bus.since({ afterId: 0, projectId: "00000000-0000-0000-0000-000000000001" })
      assert.deepStrictEqual(ofProject.map((e) => e.id), [second])
    }))

  it.effect("wakeups tick at start, on notification and on the polling fallback", () =>
    Effect.gen(function*() {
      const notifications = yield* Notifications
      const sql = yield* SqlClient
      // The start tick, then one per notification: probes until a tick follows the start tick (no fixed sleep;
      // the 10 s poll cannot produce it within the test's bound).
      const started = yield* Deferred.make<void>()
      const notified = yield* Deferred.make<void>()
      const ticks = yield* notifications.wakeups("jobs", "10 seconds").pipe(
        Stream.zipWithIndex,
        Stream.tap(([, i]) => Deferred.succeed(i === 0 ? started : notified, undefined)),
        Stream.take(2),
        Stream.runCollect,
        Effect.forkChild
      )
      yield* Deferred.await(started).pipe(Effect.timeout("5 seconds"))
      yield* untilSeen(notifications.notify("jobs", "1"), notified)
      const result = yield* Fiber.join(ticks).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(Array.from(result).length, 2)
      const polled = yield* notifications.wakeups("outbox", "20 millis").pipe(Stream.take(3), Stream.runCollect, Effect.timeout("5 seconds"))
      assert.strictEqual(Array.from(polled).length, 3)
      yield* sql`SELECT 1`
    }))
})
