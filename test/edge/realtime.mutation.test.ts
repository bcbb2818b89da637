/**
 * Realtime requirements the mutation run (scripts/mutation.ts, module `realtime`) found untested, over real
 * HTTP against the real service: job streams and who may watch them, strict id order across a transaction
 * that commits late or rolls back, a Last-Event-ID ahead of the hub, pruned history (`reset`), the per-user
 * cap's bookkeeping, heartbeats, the replay-to-live hand-over (live events held while a slow client replays,
 * and its overflow), and the metric values (subscribers, delivered, overflow, refused).
 */
import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Fiber, Metric } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { Realtime } from "../../src/services/realtime/Realtime.ts"
import { createSseParser, type SseFrame } from "../support/sseClient.ts"
import { hasRealPostgres } from "../support/TestDatabase.ts"
import { baseUrl, EdgeServerLive, signToken, userToken } from "./server.ts"

const alice = "a11ce000-0000-4000-8000-000000000001"
const bob = "b0b00000-0000-4000-8000-000000000002"
const carol = "ca201000-0000-4000-8000-000000000003"

/** Polls `check` every 20 ms for up to 15 s (a bound, not a pause): fails with `what` when it never holds. */
const waitUntil = <R>(check: Effect.Effect<boolean, never, R>, what: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 750; i++) {
      if (yield* check) return
      yield* Effect.sleep("20 millis")
    }
    assert.fail(`timed out waiting for ${what}`)
  })
const subscribers = Effect.map(Effect.service(Realtime), (r) => r.subscriberCount())
const subscribersAre = (n: number) => waitUntil(Effect.map(subscribers, (count) => count === n), `${n} subscribers`)

/** A held SSE connection: frames and comments as they arrive (once `read` is called), `close` disconnects. */
interface Connection {
  readonly status: number
  readonly retryAfter: string | null
  readonly frames: Array<SseFrame>
  readonly comments: () => number
  readonly ended: () => boolean
  readonly read: () => void
  readonly close: () => void
}
const connect = (url: string, headers: Record<string, string>, read = true) =>
  Effect.promise(async (): Promise<Connection> => {
    const controller = new AbortController()
    const response = await fetch(url, { headers, signal: controller.signal })
    const frames: Array<SseFrame> = []
    let comments = 0
    let ended = false
    let reading = false
    const feed = createSseParser((frame) => frames.push(frame), () => comments++)
    const start = () => {
      if (reading) return
      reading = true
      if (response.body === null) return
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      void (async () => {
        try {
          for (;;) {
            const { value, done } = await reader.read()
            if (done) return (ended = true)
            feed(value)
          }
        } catch {
          // aborted by `close`
        }
      })()
    }
    if (read) start()
    return {
      status: response.status,
      retryAfter: response.headers.get("retry-after"),
      frames,
      comments: () => comments,
      ended: () => ended,
      read: start,
      close: () => controller.abort()
    }
  })
const events = (c: Connection) => c.frames.filter((f) => f.event !== "overflow" && f.event !== "reset")
const idsOf = (c: Connection) => events(c).map((f) => Number(f.id))
const kindsOf = (c: Connection) => events(c).map((f) => (JSON.parse(f.data) as { kind: string }).kind)
const receive = (c: Connection, n: number, what: string) => waitUntil(Effect.sync(() => events(c).length >= n), what)

const metric = (id: string) =>
  Effect.map(Metric.snapshot, (all) => {
    const found = all.find((m) => m.id === id)
    const state = found?.state as { count?: number; value?: number } | undefined
    return Number(state?.count ?? state?.value ?? 0)
  })

const newProject = (owner: string, name: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const db = yield* Database
    const [project] = yield* db.withRole(DbRole.projector, sql<{ id: string }>`
      INSERT INTO public.projects (name, owner_id) VALUES (${name}, ${owner}) RETURNING id`)
    return project!.id
  })
const newJob = (projectId: string | null, createdBy: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const [job] = yield* sql<{ id: string }>`
      INSERT INTO cogo.jobs (kind, project_id, created_by) VALUES ('rt.watch', ${projectId}, ${createdBy}) RETURNING id`
    return job!.id
  })
const publish = (event: { readonly kind: string; readonly projectId?: string; readonly jobId?: string; readonly payload?: unknown }) =>
  Effect.gen(function*() {
    const db = yield* Database
    const bus = yield* EventBus
    return yield* db.withRole(DbRole.agent, bus.publish({ topic: "project", ...event }))
  })

const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

layer(EdgeServerLive({ COGO_REALTIME_MAX_CONNECTIONS_PER_USER: "4", COGO_REALTIME_BUFFER: "5" }), { excludeTestServices: true })("realtime (mutation findings)", (it) => {
  it.effect("job streams: project jobs for project members, project-less jobs for their creator, unknown jobs for nobody; job events arrive and replay by job", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const projectId = yield* newProject(alice, "rt-jobs")
      const projectJob = yield* newJob(projectId, carol)
      const alicesOwn = yield* newJob(null, alice)
      const bobsOwn = yield* newJob(null, bob)
      const unknown = "00000000-0000-4000-8000-00000000dead"
      const [aliceToken, bobToken, serviceToken] = yield* Effect.promise(() =>
        Promise.all([userToken(alice), userToken(bob), signToken({ role: "service_role" })]))
      const jobUrl = (id: string) => `${url}/functions/v1/realtime/jobs/${id}`
      const status = (target: string, token: string) =>
        Effect.promise(async () => {
          const controller = new AbortController()
          const response = await fetch(target, { headers: auth(token), signal: controller.signal })
          controller.abort()
          return response.status
        })
      assert.deepStrictEqual(
        yield* Effect.forEach([
          [jobUrl(projectJob), aliceToken], // member of the job's project (not its creator)
          [jobUrl(projectJob), bobToken], // not a member
          [jobUrl(alicesOwn), aliceToken], // creator of a project-less job
          [jobUrl(alicesOwn), bobToken], // someone else's project-less job
          [jobUrl(bobsOwn), bobToken],
          [jobUrl(unknown), aliceToken],
          [jobUrl(projectJob), serviceToken], // the service principal watches anything
          [`${url}/functions/v1/realtime/projects/${projectId}`, serviceToken]
        ] as const, ([target, token]) => status(target, token)),
        [200, 403, 200, 403, 200, 403, 200, 200]
      )
      yield* subscribersAre(0)

      const onJob = yield* connect(jobUrl(projectJob), auth(aliceToken))
      const onOwn = yield* connect(jobUrl(alicesOwn), auth(aliceToken))
      const onProject = yield* connect(`${url}/functions/v1/realtime/projects/${projectId}`, auth(aliceToken))
      yield* subscribersAre(3)
      const before = yield* publish({ kind: "before", projectId })
      const first = yield* publish({ kind: "job-progress", projectId, jobId: projectJob })
      yield* publish({ kind: "own-progress", jobId: alicesOwn })
      yield* publish({ kind: "job-done", projectId, jobId: projectJob })
      yield* receive(onJob, 2, "the project job's events")
      yield* receive(onOwn, 1, "the project-less job's event")
      yield* receive(onProject, 3, "the project's events")
      // A job stream carries its job's events only; an event of a project job is also on the project stream.
      assert.deepStrictEqual(kindsOf(onJob), ["job-progress", "job-done"])
      assert.deepStrictEqual(kindsOf(onOwn), ["own-progress"])
      assert.deepStrictEqual(kindsOf(onProject), ["before", "job-progress", "job-done"])
      for (const c of [onJob, onOwn, onProject]) c.close()
      yield* subscribersAre(0)

      // Resuming a job stream replays that job's events only.
      const resumed = yield* connect(jobUrl(projectJob), { ...auth(aliceToken), "last-event-id": String(before) })
      yield* receive(resumed, 2, "the job's replay")
      assert.deepStrictEqual(idsOf(resumed), [first, Number(onJob.frames[1]!.id)])
      assert.deepStrictEqual(kindsOf(resumed), ["job-progress", "job-done"])
      resumed.close()
      yield* subscribersAre(0)
    }))

  it.effect("membership: concurrent checks of different users never share an answer, and a past answer is never reused", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const url = yield* baseUrl
      const projectId = yield* newProject(alice, "rt-members")
      const streamUrl = `${url}/functions/v1/realtime/projects/${projectId}`
      const [aliceToken, bobToken] = yield* Effect.promise(() => Promise.all([userToken(alice), userToken(bob)]))
      const attempt = (token: string) =>
        Effect.promise(async () => {
          const controller = new AbortController()
          const response = await fetch(streamUrl, { headers: auth(token), signal: controller.signal })
          controller.abort()
          return response.status
        })
      const statuses = yield* Effect.forEach([...Array(3).fill(aliceToken), ...Array(12).fill(bobToken)] as Array<string>, attempt, { concurrency: "unbounded" })
      assert.deepStrictEqual(statuses, [...Array(3).fill(200), ...Array(12).fill(403)])
      yield* subscribersAre(0)
      yield* sql`INSERT INTO public.project_members (project_id, user_id) VALUES (${projectId}, ${bob})`
      assert.strictEqual(yield* attempt(bobToken), 200, "bob, now a member, is let in")
      yield* subscribersAre(0)
    }))

  it.effect("per-user cap bookkeeping: 429 with Retry-After past the cap; each close frees exactly its slot; gauge and refused counter follow", () =>
    Effect.gen(function*() {
      const url = yield* baseUrl
      const projectId = yield* newProject(alice, "rt-caps")
      const streamUrl = `${url}/functions/v1/realtime/projects/${projectId}`
      const headers = auth(yield* Effect.promise(() => userToken(alice)))
      yield* subscribersAre(0)
      const refusedBefore = yield* metric("realtime_connections_refused_total")
      const overflowsBefore = yield* metric("realtime_overflow_disconnects_total")

      const held = yield* Effect.forEach([1, 2, 3, 4], () => connect(streamUrl, headers))
      assert.deepStrictEqual(held.map((c) => c.status), [200, 200, 200, 200])
      assert.strictEqual(yield* metric("realtime_subscribers"), 4)
      const over = yield* connect(streamUrl, headers)
      assert.strictEqual(over.status, 429)
      assert.strictEqual(over.retryAfter, "5")
      assert.strictEqual((yield* metric("realtime_connections_refused_total")) - refusedBefore, 1)
      assert.strictEqual(yield* metric("realtime_subscribers"), 4, "a refusal is not a subscriber")

      // Closing one frees one slot, not all of alice's.
      held[0]!.close()
      yield* subscribersAre(3)
      assert.strictEqual(yield* metric("realtime_subscribers"), 3)
      const again = yield* connect(streamUrl, headers)
      assert.strictEqual(again.status, 200)
      assert.strictEqual((yield* connect(streamUrl, headers)).status, 429)
      assert.strictEqual((yield* metric("realtime_connections_refused_total")) - refusedBefore, 2)

      // All closed: the full budget is back.
      for (const c of [...held, again]) c.close()
      yield* subscribersAre(0)
      assert.strictEqual(yield* metric("realtime_subscribers"), 0)
      const next = yield* Effect.forEach([1, 2, 3, 4], () => connect(streamUrl, headers))
      assert.deepStrictEqual(next.map((c) => c.status), [200, 200, 200, 200])
      // Heartbeats reach an idle connection (one shared timer, every COGO_SSE_HEARTBEAT = 1 s in tests).
      yield* waitUntil(Effect.sync(() => next[0]!.comments() >= 2), "a heartbeat after the `connected` comment")
      for (const c of next) c.close()
      yield* subscribersAre(0)
      assert.strictEqual((yield* metric("realtime_overflow_disconnects_total")) - overflowsBefore, 0, "ordinary closes are not overflows")
    }))

  it.effect("a Last-Event-ID ahead of the hub: only later events, counted once in realtime_events_delivered_total", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const db = yield* Database
      const bus = yield* EventBus
      const url = yield* baseUrl
      const projectId = yield* newProject(alice, "rt-ahead")
      const streamUrl = `${url}/functions/v1/realtime/projects/${projectId}`
      const headers = auth(yield* Effect.promise(() => userToken(alice)))
      yield* subscribersAre(0)
      // The hub has dispatched everything so far once a watcher saw this event.
      const watcher = yield* connect(streamUrl, headers)
      yield* subscribersAre(1)
      yield* publish({ kind: "mark", projectId })
      yield* receive(watcher, 1, "the mark")
      const [{ max }] = (yield* sql<{ max: string }>`SELECT max(id)::text AS max FROM cogo.bus_events`) as unknown as [{ max: string }]
      const ahead = Number(max) + 2
      const resumer = yield* connect(streamUrl, { ...headers, "last-event-id": String(ahead) })
      yield* subscribersAre(2)
      const deliveredBefore = yield* metric("realtime_events_delivered_total")
      // One transaction: one hub pass with ids on both sides of the resumer's Last-Event-ID.
      const ids = yield* db.withRole(DbRole.agent, Effect.forEach([1, 2, 3, 4], (n) => bus.publish({ topic: "project", kind: `e${n}`, projectId })))
      yield* receive(watcher, 5, "the four events")
      yield* receive(resumer, ids.filter((id) => id > ahead).length, "the events after Last-Event-ID")
      assert.deepStrictEqual(idsOf(watcher).slice(1), ids)
      assert.deepStrictEqual(idsOf(resumer), ids.filter((id) => id > ahead))
      assert.isAbove(ids.filter((id) => id > ahead).length, 0)
      // Handed out: 4 to the watcher, those after `ahead` to the resumer.
      yield* waitUntil(
        Effect.map(metric("realtime_events_delivered_total"), (n) => n - deliveredBefore >= 4 + ids.filter((id) => id > ahead).length),
        "the delivered counter"
      )
      assert.strictEqual((yield* metric("realtime_events_delivered_total")) - deliveredBefore, 4 + ids.filter((id) => id > ahead).length)
      watcher.close()
      resumer.close()
      yield* subscribersAre(0)
    }))

  it.effect("pruned history: a Last-Event-ID before the pruned point gets `reset` only; at the pruned point, the replay", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const url = yield* baseUrl
      const projectId = yield* newProject(alice, "rt-pruned")
      const streamUrl = `${url}/functions/v1/realtime/projects/${projectId}`
      const headers = auth(yield* Effect.promise(() => userToken(alice)))
      const first = yield* publish({ kind: "p1", projectId })
      const second = yield* publish({ kind: "p2", projectId })
      yield* sql`UPDATE cogo.retention_state SET pruned_through = ${first} WHERE name = 'bus_events'`
      yield* Effect.ensuring(
        Effect.gen(function*() {
          const stale = yield* connect(streamUrl, { ...headers, "last-event-id": String(first - 1) })
          yield* waitUntil(Effect.sync(() => stale.ended()), "the reset connection to end")
          assert.deepStrictEqual(stale.frames.map((f) => f.event), ["reset"])
          const exact = yield* connect(streamUrl, { ...headers, "last-event-id": String(first) })
          yield* receive(exact, 1, "the replay after the pruned point")
          assert.deepStrictEqual(idsOf(exact), [second])
          assert.isFalse(exact.frames.some((f) => f.event === "reset"))
          exact.close()
        }),
        sql`UPDATE cogo.retention_state SET pruned_through = 0 WHERE name = 'bus_events'`.pipe(Effect.orDie)
      )
      yield* subscribersAre(0)
    }))

  it.effect("a rolled-back event leaves a gap: later events still arrive (once, in order), the rolled-back one never", () =>
    Effect.gen(function*() {
      const db = yield* Database
      const bus = yield* EventBus
      const url = yield* baseUrl
      const projectId = yield* newProject(alice, "rt-rollback")
      const streamUrl = `${url}/functions/v1/realtime/projects/${projectId}`
      const headers = auth(yield* Effect.promise(() => userToken(alice)))
      yield* subscribersAre(0)
      const live = yield* connect(streamUrl, headers)
      yield* subscribersAre(1)
      const before = yield* publish({ kind: "before", projectId })
      // The transaction fails on purpose after its insert: the id is taken, the row never commits.
      const failed = yield* db.withRole(DbRole.agent, Effect.flatMap(bus.publish({ topic: "project", kind: "rolled-back", projectId }), (id) => Effect.fail({ rolledBack: id }))).pipe(Effect.flip)
      assert.isTrue("rolledBack" in failed, "rolled back on purpose, not a database error")
      const lost = "rolledBack" in failed ? failed.rolledBack : -1
      const after = yield* publish({ kind: "after", projectId })
      assert.isAbove(after, lost)
      yield* receive(live, 2, "the event after the gap")
      const resumed = yield* connect(streamUrl, { ...headers, "last-event-id": String(before) })
      yield* receive(resumed, 1, "the replay across the gap")
      const later = yield* publish({ kind: "later", projectId })
      yield* receive(live, 3, "the next event")
      yield* receive(resumed, 2, "the next event, live")
      assert.deepStrictEqual(idsOf(live), [before, after, later])
      assert.deepStrictEqual(idsOf(resumed), [after, later])
      live.close()
      resumed.close()
      yield* subscribersAre(0)
    }))

  // A held transaction needs a second database session: real PostgreSQL only (PGlite is one session).
  const lateTransaction = (outcome: "commit" | "rollback") =>
    Effect.gen(function*() {
      const db = yield* Database
      const bus = yield* EventBus
      const url = yield* baseUrl
      const projectId = yield* newProject(alice, `rt-late-${outcome}`)
      const streamUrl = `${url}/functions/v1/realtime/projects/${projectId}`
      const headers = auth(yield* Effect.promise(() => userToken(alice)))
      yield* subscribersAre(0)
      const live = yield* connect(streamUrl, headers)
      yield* subscribersAre(1)
      const before = yield* publish({ kind: "before", projectId })
      yield* receive(live, 1, "the first event")
      const inserted = yield* Deferred.make<number>()
      const release = yield* Deferred.make<void>()
      const slow = yield* db.withRole(DbRole.agent, Effect.gen(function*() {
        const id = yield* bus.publish({ topic: "project", kind: "slow", projectId })
        yield* Deferred.succeed(inserted, id)
        yield* Deferred.await(release)
        if (outcome === "rollback") return yield* Effect.fail("rolled back")
        return id
      })).pipe(Effect.forkChild)
      const slowId = yield* Deferred.await(inserted)
      const fastId = yield* publish({ kind: "fast", projectId })
      assert.isAbove(fastId, slowId)
      // The hub has heard the fast commit (its notification) and passed its gap check many times over two
      // heartbeats (1 s each): the fast event must still be held.
      const comments = live.comments()
      yield* waitUntil(Effect.sync(() => live.comments() >= comments + 2), "two heartbeats")
      assert.deepStrictEqual(idsOf(live), [before], "nothing overtakes the running transaction's event")
      const resumed = yield* connect(streamUrl, { ...headers, "last-event-id": String(before) })
      // Its replay is over once a heartbeat reaches it (heartbeats are held until the hand-over).
      yield* waitUntil(Effect.sync(() => resumed.comments() >= 2), "the resumed connection's hand-over")
      assert.deepStrictEqual(idsOf(resumed), [], "its replay stops before the running transaction's event")
      yield* Deferred.succeed(release, undefined)
      const exit = yield* Fiber.await(slow)
      assert.strictEqual(exit._tag === "Success", outcome === "commit")
      // A rollback sends no notification: the hub finds out by itself, and nothing else is published meanwhile.
      const expected = outcome === "commit" ? [slowId, fastId] : [fastId]
      yield* receive(live, 1 + expected.length, "the released events")
      yield* receive(resumed, expected.length, "the released events on the resumed connection")
      assert.deepStrictEqual(idsOf(live), [before, ...expected])
      assert.deepStrictEqual(idsOf(resumed), expected)
      live.close()
      resumed.close()
      yield* subscribersAre(0)
    })

  it.effect.skipIf(!hasRealPostgres)("a transaction that commits late: no later event overtakes it, live or on resume; then both arrive once, in id order", () =>
    lateTransaction("commit"), { timeout: 30_000 })

  it.effect.skipIf(!hasRealPostgres)("a late transaction that rolls back: the later event is held meanwhile, then delivered without any further publish", () =>
    lateTransaction("rollback"), { timeout: 30_000 })

  it.effect("hand-over: live events that arrive while a slow client replays follow the replay in order; past COGO_REALTIME_BUFFER events it overflows", () =>
    Effect.gen(function*() {
      const db = yield* Database
      const bus = yield* EventBus
      const url = yield* baseUrl
      const projectId = yield* newProject(alice, "rt-handover")
      const streamUrl = `${url}/functions/v1/realtime/projects/${projectId}`
      const headers = auth(yield* Effect.promise(() => userToken(alice)))
      yield* subscribersAre(0)
      // History large enough that an unread replay stalls on the socket (about 9 MB).
      const blob = "h".repeat(15_000)
      const history = yield* Effect.forEach(Array.from({ length: 12 }, (_, b) => b), (b) =>
        db.withRole(DbRole.agent, Effect.forEach(Array.from({ length: 50 }, (_, i) => i), (i) =>
          bus.publish({ topic: "project", kind: "history", projectId, payload: { n: b * 50 + i, blob } }))))
      const start = history[0]![0]! - 1
      const overflowsBefore = yield* metric("realtime_overflow_disconnects_total")

      // The hub has dispatched the history once a watcher of another project sees a later event (strict id order).
      const probeProject = yield* newProject(alice, "rt-probe")
      const probe = yield* connect(`${url}/functions/v1/realtime/projects/${probeProject}`, headers)
      yield* subscribersAre(1)
      yield* publish({ kind: "probe", projectId: probeProject })
      yield* receive(probe, 1, "the probe event")
      probe.close()
      yield* subscribersAre(0)
      // A watcher at the live tail shows what the hub has dispatched.
      const tail = yield* connect(streamUrl, headers)
      yield* subscribersAre(1)
      // Both replay from the start without reading: their replays stall, so live events are held for them.
      const early = yield* connect(streamUrl, { ...headers, "last-event-id": String(start) }, false)
      yield* subscribersAre(2)
      const firstLive = yield* Effect.forEach([1, 2, 3], (n) => publish({ kind: `live${n}`, projectId }))
      yield* receive(tail, 3, "the first live events")
      // Registered after the hub dispatched those three: they are in its replay, not held for it.
      const late = yield* connect(streamUrl, { ...headers, "last-event-id": String(start) }, false)
      yield* subscribersAre(3)
      // Four more: `early` holds 7 > COGO_REALTIME_BUFFER (5) and overflows; `late` holds 4.
      const secondLive = yield* Effect.forEach([4, 5, 6, 7], (n) => publish({ kind: `live${n}`, projectId }))
      yield* receive(tail, 7, "the last live event")
      tail.close()
      yield* subscribersAre(2)
      // Held for the two replaying connections: `late`'s four small frames (`early` dropped its held frames).
      const held = (yield* Effect.service(Realtime)).bufferedBytes()
      assert.isAbove(held, 0)
      assert.isBelow(held, 4096)

      const all = [...history.flat(), ...firstLive, ...secondLive]
      early.read()
      yield* waitUntil(Effect.sync(() => early.ended()), "the overflowed connection to end")
      // `early`: its whole replay (up to where it registered), then `overflow`, and no live event at all.
      assert.strictEqual(early.frames.at(-1)!.event, "overflow")
      assert.deepStrictEqual(idsOf(early), history.flat())
      late.read()
      yield* receive(late, all.length, "the replay, then the held live events")
      // `late`: every event once, in id order, across the hand-over.
      assert.deepStrictEqual(idsOf(late), all)
      assert.isFalse(late.ended())
      late.close()
      yield* subscribersAre(0)
      assert.strictEqual((yield* metric("realtime_overflow_disconnects_total")) - overflowsBefore, 1)
    }), { timeout: 60_000 })
})
