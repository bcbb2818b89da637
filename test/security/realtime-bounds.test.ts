/**
 * Realtime bounds over real HTTP against the real service (issue 11): connection caps per user and per process
 * (429 + Retry-After; a closed connection frees its slot), a connection without Last-Event-ID starts at the
 * live tail, payloads above the cap arrive as a summary, and unread clients cannot grow the server's memory
 * (per-connection byte bound -> `overflow`).
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { Realtime } from "../../src/services/realtime/Realtime.ts"
import { baseUrl, EdgeServerLive, userToken } from "../edge/server.ts"
import { readSse } from "../support/sseClient.ts"
import { eventually } from "../support/eventually.ts"

const alice = "a11ce000-0000-4000-8000-000000000001"
const bob = "b0b00000-0000-4000-8000-000000000002"

/** A project owned by alice (so alice is a member), and the URL of its realtime stream. */
const aliceProject = Effect.gen(function*() {
  const sql = yield* SqlClient
  const db = yield* Database
  const [project] = yield* db.withRole(DbRole.projector, sql<{ id: string }>`
    INSERT INTO public.projects (name, owner_id) VALUES ('bounds', ${alice}) RETURNING id`)
  return { projectId: project!.id, streamUrl: `${yield* baseUrl}/functions/v1/realtime/projects/${project!.id}` }
})

const publish = (projectId: string, payloads: ReadonlyArray<unknown>) =>
  Effect.gen(function*() {
    const db = yield* Database
    const bus = yield* EventBus
    yield* db.withRole(DbRole.agent, Effect.forEach(payloads, (payload) => bus.publish({ topic: "project", kind: "bounds", projectId, payload }), { discard: true }))
  })

/** An open SSE connection whose body we do not read until asked; `close` disconnects. */
const connect = (url: string, token: string) =>
  Effect.promise(async () => {
    const controller = new AbortController()
    const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: controller.signal })
    return { response, close: () => controller.abort() }
  })

const subscribers = Effect.map(Effect.service(Realtime), (r) => r.subscriberCount())

layer(EdgeServerLive({ COGO_REALTIME_MAX_CONNECTIONS_PER_USER: "3", COGO_REALTIME_MAX_CONNECTIONS: "5" }), { excludeTestServices: true })(
  "realtime connection caps, live tail, payload cap",
  (it) => {
    it.effect("per-user and per-process caps answer 429 problem+json with Retry-After; a closed connection frees its slot", () =>
      Effect.gen(function*() {
        const { streamUrl } = yield* aliceProject
        const aliceToken = yield* Effect.promise(() => userToken(alice))
        const bobToken = yield* Effect.promise(() => userToken(bob))
        const sql = yield* SqlClient
        const db = yield* Database
        const [bobs] = yield* db.withRole(DbRole.projector, sql<{ id: string }>`
          INSERT INTO public.projects (name, owner_id) VALUES ('bob', ${bob}) RETURNING id`)
        const bobUrl = streamUrl.replace(/[^/]+$/, bobs!.id)

        const held = [yield* connect(streamUrl, aliceToken), yield* connect(streamUrl, aliceToken), yield* connect(streamUrl, aliceToken)]
        assert.deepStrictEqual(held.map((c) => c.response.status), [200, 200, 200])
        const overUser = yield* connect(streamUrl, aliceToken)
        assert.strictEqual(overUser.response.status, 429)
        assert.strictEqual(overUser.response.headers.get("content-type"), "application/problem+json")
        assert.strictEqual(overUser.response.headers.get("retry-after"), "5")
        const problem = (yield* Effect.promise(() => overUser.response.json())) as { status: number; type: string; detail: string }
        assert.strictEqual(problem.status, 429)
        assert.include(problem.type, "too-many-connections")
        assert.include(problem.detail, "per user")

        // Bob has his own per-user budget, but the process cap (5) counts everyone.
        const bobHeld = [yield* connect(bobUrl, bobToken), yield* connect(bobUrl, bobToken)]
        assert.deepStrictEqual(bobHeld.map((c) => c.response.status), [200, 200])
        const overProcess = yield* connect(bobUrl, bobToken)
        assert.strictEqual(overProcess.response.status, 429)
        assert.include(((yield* Effect.promise(() => overProcess.response.json())) as { detail: string }).detail, "on this server")
        assert.strictEqual(yield* subscribers, 5)

        // Closing one of alice's connections frees exactly one slot (server notices the disconnect).
        held[0]!.close()
        yield* eventually("the closed connection's slot", Effect.map(subscribers, (n) => n === 4), "5 seconds")
        const again = yield* connect(streamUrl, aliceToken)
        assert.strictEqual(again.response.status, 200)
        assert.strictEqual((yield* connect(streamUrl, aliceToken)).response.status, 429)

        for (const c of [...held, ...bobHeld, again]) c.close()
        yield* eventually("every slot freed", Effect.map(subscribers, (n) => n === 0), "5 seconds")
      }))

    it.effect("without Last-Event-ID a connection starts at the live tail; with it, replay is exact; big payloads become summaries", () =>
      Effect.gen(function*() {
        const { projectId, streamUrl } = yield* aliceProject
        const token = yield* Effect.promise(() => userToken(alice))
        const headers = { authorization: `Bearer ${token}` }
        const big = { blob: "x".repeat(40_000), note: "large" }
        // The tail is what the hub has dispatched: a watcher that sees the 4 events proves they were.
        const watcher = yield* Effect.promise(() => readSse(streamUrl, { headers }, (frames) => frames.length >= 4)).pipe(Effect.forkChild)
        yield* eventually("the watcher", Effect.map(subscribers, (n) => n === 1), "5 seconds")
        yield* publish(projectId, [{ n: 0 }, { n: 1 }, big, { n: 3 }])
        const watched = (yield* Fiber.join(watcher)).frames
        assert.strictEqual(watched.length, 4)
        yield* eventually("the watcher to close", Effect.map(subscribers, (n) => n === 0), "5 seconds")

        // Fresh connection: none of the 4 past events; the next one arrives first.
        const fresh = yield* Effect.promise(() => readSse(streamUrl, { headers }, (frames) => frames.length >= 1)).pipe(Effect.forkChild)
        yield* eventually("the fresh connection", Effect.map(subscribers, (n) => n === 1), "5 seconds")
        yield* publish(projectId, [{ n: 4 }])
        const tailFrames = (yield* Fiber.join(fresh)).frames
        assert.deepStrictEqual(tailFrames.map((f) => (JSON.parse(f.data) as { payload: unknown }).payload), [{ n: 4 }])

        // From Last-Event-ID = id of event 0: exactly events 1..4, the big one as a summary. (Ids are taken from
        // the frames: another project's event may sit between the two transactions.)
        const firstId = Number(watched[0]!.id)
        const replay = yield* Effect.promise(() =>
          readSse(streamUrl, { headers: { ...headers, "last-event-id": String(firstId) } }, (frames) => frames.length >= 4))
        const payloads = replay.frames.map((f) => (JSON.parse(f.data) as { payload: unknown }).payload)
        assert.deepStrictEqual(replay.frames.map((f) => Number(f.id)), [...watched.slice(1), tailFrames[0]!].map((f) => Number(f.id)))
        assert.deepStrictEqual(payloads[0], { n: 1 })
        const summary = payloads[1] as { truncated: boolean; bytes: number; keys: ReadonlyArray<string> }
        assert.strictEqual(summary.truncated, true)
        assert.isAbove(summary.bytes, 40_000)
        assert.deepStrictEqual(summary.keys, ["blob", "note"])
        assert.isBelow(replay.frames[1]!.data.length, 1024, "the frame carries no payload body")
        assert.deepStrictEqual(payloads.slice(2), [{ n: 3 }, { n: 4 }])

        // Live delivery applies the same cap.
        yield* eventually("the earlier connections to close", Effect.map(subscribers, (n) => n === 0), "5 seconds")
        const live = yield* Effect.promise(() => readSse(streamUrl, { headers }, (frames) => frames.length >= 1)).pipe(Effect.forkChild)
        yield* eventually("the live connection", Effect.map(subscribers, (n) => n === 1), "5 seconds")
        yield* publish(projectId, [big])
        const liveRead = yield* Fiber.join(live)
        assert.strictEqual((JSON.parse(liveRead.frames[0]!.data) as { payload: { truncated: boolean } }).payload.truncated, true)
      }))
  }
)

/** Reads a held connection's body to its end; true when the server ended it with an `overflow` frame. */
const endsWithOverflow = (response: Response) =>
  Effect.promise(async () => {
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
    let tail = ""
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return tail.includes("event: overflow")
      tail = (tail + value).slice(-4096)
    }
  })

const mib = (bytes: number) => Math.round(bytes / 1024 / 102.4) / 10

layer(EdgeServerLive({ COGO_REALTIME_BUFFER_BYTES: String(256 * 1024) }), { excludeTestServices: true })("realtime memory with unread clients", (it) => {
  it.effect("200 unread connections from one user: 20 accepted, 180 refused; 9 MB of events each stays bounded (overflow)", () =>
    Effect.gen(function*() {
      const { projectId, streamUrl } = yield* aliceProject
      const token = yield* Effect.promise(() => userToken(alice))
      yield* publish(projectId, [{ warmup: "x".repeat(15_000) }])
      const before = process.memoryUsage()

      const connections = yield* Effect.forEach(Array.from({ length: 200 }), () => connect(streamUrl, token), { concurrency: 50 })
      const accepted = connections.filter((c) => c.response.status === 200)
      const refused = connections.filter((c) => c.response.status === 429)
      assert.strictEqual(accepted.length, 20, "the default per-user cap")
      assert.strictEqual(refused.length, 180)
      yield* Effect.forEach(refused, (c) => Effect.promise(() => c.response.arrayBuffer()), { discard: true })

      // 600 events of 15 KB (under the 16 KiB payload cap, under the 1,024-event buffer): 9 MB per connection,
      // 180 MB in all if buffered. Nobody reads.
      // Control: the same volume to a project nobody watches (the embedded database's own growth).
      const payload = "x".repeat(15_000)
      const burst = (project: string) =>
        Effect.forEach(Array.from({ length: 12 }, (_, b) => b), (batch) =>
          publish(project, Array.from({ length: 50 }, (_, i) => ({ n: batch * 50 + i, payload }))), { discard: true })
      const { projectId: unwatched } = yield* aliceProject
      const control = process.memoryUsage().rss
      yield* burst(unwatched)
      yield* Effect.sleep("2 seconds")
      const controlDelta = process.memoryUsage().rss - control

      // 600 events of 15 KB (under the 16 KiB payload cap and the 1,024-event buffer): 9 MB per connection,
      // 180 MB in all if buffered. Nobody reads.
      const start = process.memoryUsage().rss
      yield* burst(projectId)
      yield* Effect.sleep("2 seconds")
      const watchedDelta = process.memoryUsage().rss - start
      const buffered = (yield* Effect.service(Realtime)).bufferedBytes()
      console.log(`realtime unread (${process.env["TEST_DATABASE_URL"] === undefined ? "embedded" : "PostgreSQL"}): 20 accepted / 180 refused; RSS +${mib(process.memoryUsage().rss - before.rss)} MiB in all, ` +
        `+${mib(watchedDelta)} MiB for the watched burst vs +${mib(controlDelta)} MiB for the unwatched one; buffered ${mib(buffered)} MiB`)
      assert.isAtMost(buffered, 20 * 256 * 1024, "each connection buffers at most COGO_REALTIME_BUFFER_BYTES")
      assert.isBelow(watchedDelta, controlDelta + 60 * 1024 * 1024, "unread connections add far less than the 180 MB they were sent")

      // Each connection was cut off with `overflow` (the byte bound, not the event count) and ends once read.
      const overflowed = yield* Effect.forEach(accepted, (c) => endsWithOverflow(c.response), { concurrency: "unbounded" })
      assert.deepStrictEqual(overflowed, accepted.map(() => true))
      yield* eventually("every slot freed after the overflow", Effect.map(subscribers, (n) => n === 0), "5 seconds")
    }), { timeout: 120_000 })
})
