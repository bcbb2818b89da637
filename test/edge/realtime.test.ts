import { assert, layer } from "@effect/vitest"
import { Effect, Fiber, Schedule } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { Realtime } from "../../src/services/realtime/Realtime.ts"
import { baseUrl, EdgeServerLive, userToken } from "./server.ts"
import { readSse } from "../support/sseClient.ts"

const alice = "a11ce000-0000-4000-8000-000000000001"
const bob = "b0b00000-0000-4000-8000-000000000002"

layer(EdgeServerLive(), { excludeTestServices: true })("realtime project streams", (it) => {
  it.effect("a client that disconnects mid-burst and resumes with Last-Event-ID gets every one of 1,000 events exactly once", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const db = yield* Database
      const bus = yield* EventBus
      const url = yield* baseUrl
      const [project] = yield* db.withRole(DbRole.projector, sql<{ id: string }>`
        INSERT INTO public.projects (name, owner_id) VALUES ('live', ${alice}) RETURNING id`)
      const projectId = project!.id
      // An event of another project must never show up.
      yield* db.withRole(DbRole.agent, bus.publish({ topic: "project", kind: "other", projectId: "00000000-0000-4000-8000-0000000000ff" }))
      const token = yield* Effect.promise(() => userToken(alice))
      const streamUrl = `${url}/functions/v1/realtime/projects/${projectId}`
      const headers = { authorization: `Bearer ${token}` }
      const total = 1000
      const isEvent = (f: { readonly event: string | undefined }) => f.event === "project"

      const uninterrupted = yield* Effect.promise(() => readSse(streamUrl, { headers }, (frames) => frames.filter(isEvent).length >= total)).pipe(Effect.forkChild)
      const firstPart = yield* Effect.promise(() => readSse(streamUrl, { headers }, (frames) => frames.filter(isEvent).length >= 300)).pipe(Effect.forkChild)
      // Both readers are registered (each at its live tail) before the first event is published.
      const realtime = yield* Realtime
      yield* Effect.sync(() => realtime.subscriberCount()).pipe(
        Effect.filterOrFail((n) => n >= 2),
        Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo({ times: 1500 })))
      )
      // The burst: 1,000 events in 50 transactions, 4 at a time (ids commit out of order).
      const publisher = yield* Effect.forEach(Array.from({ length: 50 }, (_, b) => b), (batch) =>
        db.withRole(DbRole.agent, Effect.forEach(Array.from({ length: 20 }, (_, i) => i), (i) =>
          bus.publish({ topic: "project", kind: "applied", projectId, payload: { n: batch * 20 + i } }))), { concurrency: 4, discard: true }).pipe(Effect.forkChild)

      const first = yield* Fiber.join(firstPart)
      assert.strictEqual(first.status, 200)
      const lastId = first.frames.at(-1)!.id!
      const rest = yield* Effect.promise(() =>
        readSse(streamUrl, { headers: { ...headers, "last-event-id": lastId } }, (frames) => first.frames.length + frames.filter(isEvent).length >= total))
      yield* Fiber.join(publisher)
      const full = yield* Fiber.join(uninterrupted)

      const ns = (frames: ReadonlyArray<{ readonly data: string; readonly event: string | undefined }>) =>
        frames.filter(isEvent).map((f) => (JSON.parse(f.data) as { payload: { n: number } }).payload.n)
      const resumed = [...ns(first.frames), ...ns(rest.frames)]
      assert.strictEqual(resumed.length, total)
      assert.strictEqual(new Set(resumed).size, total, "no duplicates")
      assert.deepStrictEqual([...resumed].sort((a, b) => a - b), [...ns(full.frames)].sort((a, b) => a - b))
      assert.deepStrictEqual([...resumed].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i))
      // Every frame has an id, and each connection sees ids in strictly increasing order (so its last id is an
      // exact resume point even though the 4 publishers commit out of id order).
      for (const read of [first, rest, full]) {
        const ids = read.frames.filter(isEvent).map((f) => Number(f.id))
        assert.isTrue(ids.every((id, i) => i === 0 || id > ids[i - 1]!), "ids increase")
      }
    }))

  it.effect("membership is checked before subscribing; bad ids are 400", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const db = yield* Database
      const url = yield* baseUrl
      const [project] = yield* db.withRole(DbRole.projector, sql<{ id: string }>`
        INSERT INTO public.projects (name, owner_id) VALUES ('private', ${alice}) RETURNING id`)
      const bobToken = yield* Effect.promise(() => userToken(bob))
      const denied = yield* Effect.promise(() => fetch(`${url}/functions/v1/realtime/projects/${project!.id}`, { headers: { authorization: `Bearer ${bobToken}` } }))
      assert.strictEqual(denied.status, 403)
      const anonymous = yield* Effect.promise(() => fetch(`${url}/functions/v1/realtime/projects/${project!.id}`))
      assert.strictEqual(anonymous.status, 401)
      const bad = yield* Effect.promise(() => fetch(`${url}/functions/v1/realtime/projects/nope`, { headers: { authorization: `Bearer ${bobToken}` } }))
      assert.strictEqual(bad.status, 400)
      const badLast = yield* Effect.promise(() =>
        fetch(`${url}/functions/v1/realtime/projects/${project!.id}`, { headers: { authorization: `Bearer ${bobToken}`, "last-event-id": "x" } }))
      assert.strictEqual(badLast.status, 400)
    }))
})
