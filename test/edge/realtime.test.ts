import { assert, layer } from "@effect/vitest"
import { Effect, Fiber, Schedule } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { Realtime } from "../../src/services/realtime/Realtime.ts"
import { baseUrl, EdgeServerLive, userToken } from "./server.ts"
import { readSse } from "../support/sseClient.ts"

const alice = "a11ce000-0000-4000-8000-000000000001"
const countEvents = (text: string) => text.split("\nevent: project\n").length - 1

/** The raw SSE body (comments removed) of one connection, read until it holds `events` project events. */
const readRaw = (url: string, headers: Record<string, string>, events: number) =>
  Effect.promise(async () => {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), 45_000)
    let text = ""
    try {
      const response = await fetch(url, { headers, signal: controller.signal })
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
      while (countEvents(text) < events) {
        const { value, done } = await reader.read()
        if (done) break
        text += value
      }
    } catch {
      // timed out: the assertions report what arrived
    } finally {
      clearTimeout(timer)
      controller.abort()
    }
    return text.replace(/^: [^\n]*\n\n/gm, "")
  })
const bob = "b0b00000-0000-4000-8000-000000000002"

// 100 subscribers of one user in the fan-out test: the per-user cap is raised (its own test is in test/security).
layer(EdgeServerLive({ COGO_REALTIME_MAX_CONNECTIONS_PER_USER: "200" }), { excludeTestServices: true })("realtime project streams", (it) => {
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

  it.effect("live fan-out: 100 subscribers get the same bytes in id order; one joining mid-burst with Last-Event-ID gets replay then live, no gap, no dup", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const db = yield* Database
      const bus = yield* EventBus
      const realtime = yield* Realtime
      const url = yield* baseUrl
      const [project] = yield* db.withRole(DbRole.projector, sql<{ id: string }>`
        INSERT INTO public.projects (name, owner_id) VALUES ('fanout', ${alice}) RETURNING id`)
      const projectId = project!.id
      const token = yield* Effect.promise(() => userToken(alice))
      const streamUrl = `${url}/functions/v1/realtime/projects/${projectId}`
      const headers = { authorization: `Bearer ${token}` }
      const total = 400
      const subscriberCount = 100
      // The earlier test's connections have gone (their slots freed) before counting ours.
      yield* Effect.sync(() => realtime.subscriberCount()).pipe(
        Effect.filterOrFail((n) => n === 0),
        Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo({ times: 1500 })))
      )

      const readers = yield* Effect.forEach(Array.from({ length: subscriberCount }), () =>
        readRaw(streamUrl, headers, total).pipe(Effect.forkChild))
      const probe = yield* Effect.promise(() => readSse(streamUrl, { headers }, (frames) => frames.length >= 150)).pipe(Effect.forkChild)
      yield* Effect.sync(() => realtime.subscriberCount()).pipe(
        Effect.filterOrFail((n) => n >= subscriberCount + 1),
        Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo({ times: 1500 })))
      )
      // 80 transactions of 5 events, 2 at a time and paced, so the joiner below connects while events flow.
      const publisher = yield* Effect.forEach(Array.from({ length: 80 }, (_, b) => b), (batch) =>
        db.withRole(DbRole.agent, Effect.forEach(Array.from({ length: 5 }, (_, i) => i), (i) =>
          bus.publish({ topic: "project", kind: "fanout", projectId, payload: { n: batch * 5 + i } }))).pipe(
            Effect.andThen(Effect.sleep("10 millis"))), { concurrency: 2, discard: true }).pipe(Effect.forkChild)

      const lastSeen = (yield* Fiber.join(probe)).frames.at(-1)!.id!
      const joined = yield* readRaw(streamUrl, { ...headers, "last-event-id": lastSeen }, total - 150)
      yield* Fiber.join(publisher)
      const bodies = yield* Effect.forEach(readers, Fiber.join)

      const reference = bodies[0]!
      assert.strictEqual(countEvents(reference), total)
      bodies.forEach((body, i) => assert.strictEqual(body, reference, `subscriber ${i} got the same bytes`))
      const ids = [...reference.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]))
      assert.isTrue(ids.every((id, i) => i === 0 || id > ids[i - 1]!), "ids increase")
      const ns = [...reference.matchAll(/"n":(\d+)/g)].map((m) => Number(m[1]))
      assert.deepStrictEqual([...ns].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i))
      // The joiner: exactly the frames after its Last-Event-ID, byte for byte (replay, hand-over, then live).
      const resumeAt = reference.indexOf("\n\n", reference.indexOf(`id: ${lastSeen}\n`)) + 2
      assert.isAbove(resumeAt, 1)
      assert.strictEqual(joined, reference.slice(resumeAt))
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
