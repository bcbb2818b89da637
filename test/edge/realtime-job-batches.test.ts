/**
 * Job lifecycle events written per batch (migration 0027): the jobs one statement enqueues, claims or completes
 * share one bus event row per (event, project), and every reader still sees one event per job: `EventBus`
 * (limits count rows, payload caps apply per job), a job's stream (its own event, with the row's id) and a
 * project's stream (every job's event; only the row's last frame carries the id, so a resume never skips part
 * of a row), live and replayed, also when batches commit from concurrent transactions out of id order.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { BusEvent } from "../../src/domain/platform/BusEvent.ts"
import type { JobId } from "../../src/domain/jobs/Job.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { readSse, type SseFrame } from "../support/sseClient.ts"
import { baseUrl, EdgeServerLive, newProject, projectStream, subscribersAre, userToken } from "./server.ts"

const alice = "a11ce000-0000-4000-8000-000000000001"

/** A new project of Alice's, her token's headers and the URL of the project's stream on the shared server. */
const aliceProjectStream = (name: string) =>
  Effect.gen(function*() {
    const { projectId, streamUrl } = yield* projectStream(alice, name)
    const token = yield* Effect.promise(() => userToken(alice))
    return { url: yield* baseUrl, projectId, headers: { authorization: `Bearer ${token}` }, projectUrl: streamUrl }
  })

/**
 * Opens a stream in the background once the hub has dropped every earlier stream of this file (a client's close
 * reaches the server late), then waits until it registered, so a live stream without a `last-event-id` is known to
 * be listening before the test writes.
 */
const openInBackground = (url: string, init: RequestInit, until: (frames: ReadonlyArray<SseFrame>) => boolean) =>
  Effect.gen(function*() {
    yield* subscribersAre(0)
    const fiber = yield* Effect.promise(() => readSse(url, init, until)).pipe(Effect.forkChild)
    yield* subscribersAre(1)
    return fiber
  })

const isJob = (frame: SseFrame) => frame.event === "job"

/** Enqueues `count` jobs of `kind` in one statement; returns their ids, sorted (a batch row's order). */
const enqueueBatch = (kind: string, projectId: string | undefined, count: number) =>
  Effect.gen(function*() {
    const db = yield* Database
    const queue = yield* JobQueue
    const jobs = yield* db.withRole(DbRole.agent, queue.enqueueMany(Array.from({ length: count }, (_, i) => ({ kind, projectId, payload: { i } }))))
    return jobs.map((job) => job.id as string).sort() as [string, ...Array<string>]
  })

const lastBusId = Effect.gen(function*() {
  const sql = yield* SqlClient
  const rows = yield* sql<{ id: string | null }>`SELECT max(id)::text AS id FROM cogo.bus_events`
  return Number(rows[0]!.id ?? 0)
})

const jobIdsOf = (events: ReadonlyArray<BusEvent>) => events.map((event) => event.jobId)
const payloadOf = (event: BusEvent) => event.payload as Record<string, unknown>
const dataOf = (frame: SseFrame) => JSON.parse(frame.data) as BusEvent

layer(EdgeServerLive(), { excludeTestServices: true })("job events per batch", (it) => {
  it.effect("a batch's lifecycle is one row per event, read back as one event per job (limits by row, caps per job, filter by job)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const bus = yield* EventBus
      const queue = yield* JobQueue
      const projectId = yield* newProject(alice, "batches")
      const before = yield* lastBusId
      const ids = yield* enqueueBatch("rt.batch.read", projectId, 3)
      const [alone] = yield* enqueueBatch("rt.batch.read", undefined, 1)

      const rows = yield* sql<{ kind: string; job_id: string | null; job_ids: ReadonlyArray<string> | null; parts: string | null }>`
        SELECT kind, job_id, job_ids, parts::text AS parts FROM cogo.bus_events WHERE id > ${before} AND topic = 'job' ORDER BY id`
      assert.deepStrictEqual(rows.map((row) => [row.kind, row.job_id, row.job_ids === null ? null : [...row.job_ids]]), [
        ["enqueued", null, ids],
        ["enqueued", alone!, null]
      ])
      // A batch row's parts list its jobs in `job_ids` order; a single job's row has none.
      const parts = JSON.parse(rows[0]!.parts!) as ReadonlyArray<{ j: string; k: string; p: { state: string } }>
      assert.deepStrictEqual(parts.map((part) => [part.j, part.k, part.p.state]), ids.map((id) => [id, "rt.batch.read", "queued"]))
      assert.isNull(rows[1]!.parts)

      // The service's own events (alerts, trace.finished) may land among these: only job events are this test's.
      const events = (yield* bus.since({ afterId: before })).filter((event) => event.topic === "job")
      assert.deepStrictEqual(jobIdsOf(events), [...ids, alone!])
      const [rowId, aloneId] = [events[0]!.id, events[3]!.id]
      assert.deepStrictEqual(events.map((event) => event.id), [rowId, rowId, rowId, aloneId])
      assert.isTrue(aloneId > rowId)
      const jobRows = yield* sql<{ id: string; traceparent: string | null }>`SELECT id::text, traceparent FROM cogo.jobs WHERE id = ANY(${[...ids, alone!]}::uuid[])`
      const traceOf = new Map(jobRows.map((row) => [row.id, row.traceparent]))
      for (const event of events) {
        assert.strictEqual(event.kind, "enqueued")
        assert.strictEqual(event.topic, "job")
        assert.strictEqual(event.projectId, event.jobId === alone ? null : projectId)
        assert.strictEqual(event.traceparent, traceOf.get(event.jobId!) ?? null)
        assert.strictEqual(payloadOf(event).state, "queued")
        assert.strictEqual(payloadOf(event).jobKind, "rt.batch.read")
      }

      // A limit counts rows: one row is never split across pages (read from just before each row).
      assert.deepStrictEqual(jobIdsOf(yield* bus.since({ afterId: rowId - 1, limit: 1 })), ids)
      assert.deepStrictEqual(jobIdsOf(yield* bus.since({ afterId: aloneId - 1, limit: 1 })), [alone!])
      // One job's events: its part of the row, with the row's id.
      const second = yield* bus.since({ afterId: before, jobId: ids[1]! })
      assert.deepStrictEqual(second.map((event) => [event.id, event.jobId]), [[rowId, ids[1]!]])
      assert.deepStrictEqual(jobIdsOf(yield* bus.since({ afterId: before, projectId })), ids)
      assert.deepStrictEqual(jobIdsOf(yield* bus.byIds([aloneId, rowId])), [...ids, alone!])
      // The payload cap applies to each job's part, not to the whole row.
      const capped = yield* bus.since({ afterId: rowId - 1, limit: 1, maxPayloadBytes: 20 })
      assert.deepStrictEqual(jobIdsOf(capped), ids)
      for (const event of capped) assert.strictEqual(payloadOf(event).truncated, true)
      const roomy = yield* bus.since({ afterId: rowId - 1, limit: 1, maxPayloadBytes: 200 })
      for (const event of roomy) assert.strictEqual(payloadOf(event).jobKind, "rt.batch.read")

      // Claimed and completed together: one `started` and one `succeeded` row for the three.
      const claimed = yield* queue.claim({ workerId: "w-batch", kinds: ["rt.batch.read"], limit: 10, leaseMs: 60_000 })
      assert.deepStrictEqual(claimed.map((job) => job.id as string).sort(), [...ids, alone!].sort())
      const afterEnqueue = aloneId
      yield* queue.completeMany("w-batch", claimed.map((job) => ({ job, result: { n: job.payload } })))
      const lifecycle = yield* bus.since({ afterId: afterEnqueue, projectId })
      assert.deepStrictEqual(lifecycle.map((event) => [event.kind, event.jobId]), [
        ...ids.map((id) => ["started", id]),
        ...ids.map((id) => ["succeeded", id])
      ])
      assert.strictEqual(new Set(lifecycle.map((event) => event.id)).size, 2)
      for (const event of lifecycle) {
        assert.strictEqual(payloadOf(event).attempt, 1)
        if (event.kind === "started") assert.strictEqual(payloadOf(event).workerId, "w-batch")
      }
      // Each job's part carries its own result.
      const payloadById = new Map(claimed.map((job) => [job.id as string, job.payload]))
      for (const event of lifecycle.filter((event) => event.kind === "succeeded")) {
        assert.deepStrictEqual(payloadOf(event).result, { n: payloadById.get(event.jobId!) })
      }
      assert.strictEqual(new Set(ids.map((id) => JSON.stringify(payloadById.get(id)))).size, 3)
      // The audit trail is unchanged: derived from the job row.
      const trail = yield* queue.events(ids[0]! as JobId)
      assert.deepStrictEqual(trail.map((event) => event.kind), ["enqueued", "started", "succeeded"])
    }))

  it.effect("a bus row lists at most 100 jobs, and a page holds whole rows within its event budget (at least one row)", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const bus = yield* EventBus
      const projectId = yield* newProject(alice, "big-batch")
      const before = yield* lastBusId
      const ids = yield* enqueueBatch("rt.batch.big", projectId, 250)
      const rows = yield* sql<{ id: string; jobs: number }>`
        SELECT id::text, cardinality(job_ids) AS jobs FROM cogo.bus_events WHERE id > ${before} AND project_id = ${projectId} ORDER BY id`
      assert.deepStrictEqual(rows.map((row) => row.jobs), [100, 100, 50])
      const [first, second, third] = rows.map((row) => Number(row.id)) as [number, number, number]

      const idsOf = (events: ReadonlyArray<BusEvent>) => [...new Set(events.map((event) => event.id))]
      // The first row always, even over the budget; then rows while they fit.
      const small = yield* bus.page({ afterId: before, limit: 50, projectId })
      assert.deepStrictEqual([idsOf(small.events), small.events.length, small.more], [[first], 100, true])
      const cut = yield* bus.page({ afterId: before, limit: 150, projectId })
      assert.deepStrictEqual([idsOf(cut.events), cut.events.length, cut.more], [[first], 100, true])
      const rest = yield* bus.page({ afterId: first, limit: 150, projectId })
      assert.deepStrictEqual([idsOf(rest.events), rest.events.length, rest.more], [[second, third], 150, false])
      const all = yield* bus.page({ afterId: before, limit: 1000, projectId })
      assert.deepStrictEqual([all.events.length, all.more], [250, false])
      assert.deepStrictEqual(all.events.map((event) => event.jobId), ids)
      // A full page of rows may have more after it; a job filter counts one event per row.
      assert.isTrue((yield* bus.page({ afterId: before, limit: 2, jobId: ids[120]! })).events.length === 1)
      assert.deepStrictEqual((yield* bus.page({ afterId: before, limit: 1, projectId: projectId })).more, true)

      // A claim that may take more than 100 jobs is cut the same way; a batch of exactly 100 is one row.
      const sizesAfter = (id: number, kind: string) =>
        Effect.map(sql<{ jobs: number }>`
          SELECT cardinality(job_ids) AS jobs FROM cogo.bus_events WHERE id > ${id} AND project_id = ${projectId} AND kind = ${kind} ORDER BY id`,
          (found) => found.map((row) => row.jobs))
      const beforeClaim = yield* lastBusId
      const claimed = yield* (yield* JobQueue).claim({ workerId: "w-big", kinds: ["rt.batch.big"], limit: 150, leaseMs: 60_000 })
      assert.strictEqual(claimed.length, 150)
      assert.deepStrictEqual(yield* sizesAfter(beforeClaim, "started"), [100, 50])
      const beforeHundred = yield* lastBusId
      yield* enqueueBatch("rt.batch.hundred", projectId, 100)
      assert.deepStrictEqual(yield* sizesAfter(beforeHundred, "enqueued"), [100])
    }))

  it.effect("streams: a project's stream gets every job of a batch row and the id on its last frame only; a job's stream its own event; replays match", () =>
    Effect.gen(function*() {
      const { url, projectId, headers, projectUrl } = yield* aliceProjectStream("batch-streams")
      const jobUrl = (id: string) => `${url}/functions/v1/realtime/jobs/${id}`
      const before = yield* lastBusId

      const onProject = yield* openInBackground(projectUrl, { headers }, (frames) => frames.filter(isJob).length >= 4)
      const ids = yield* enqueueBatch("rt.batch.stream", projectId, 3)
      const [alone] = yield* enqueueBatch("rt.batch.stream", projectId, 1)
      const live = (yield* Fiber.join(onProject)).frames.filter(isJob)
      assert.deepStrictEqual(live.map((frame) => dataOf(frame).jobId), [...ids, alone!])
      const rowId = String(dataOf(live[0]!).id)
      const aloneId = String(dataOf(live[3]!).id)
      assert.deepStrictEqual(live.map((frame) => frame.id), [undefined, undefined, rowId, aloneId])

      // Replay from before the batch, and from inside it (the client's last id was the previous row's): the whole row again.
      for (const afterId of [before, Number(rowId) - 1]) {
        const replay = yield* Effect.promise(() =>
          readSse(projectUrl, { headers: { ...headers, "last-event-id": String(afterId) } }, (frames) => frames.filter(isJob).length >= 4))
        assert.deepStrictEqual(replay.frames.filter(isJob).map((frame) => [frame.id, dataOf(frame).jobId]), [
          [undefined, ids[0]],
          [undefined, ids[1]],
          [rowId, ids[2]],
          [aloneId, alone]
        ])
      }
      // Resuming at the row's id: nothing of it again.
      const resumed = yield* Effect.promise(() =>
        readSse(projectUrl, { headers: { ...headers, "last-event-id": rowId } }, (frames) => frames.filter(isJob).length >= 1))
      assert.deepStrictEqual(resumed.frames.filter(isJob).map((frame) => dataOf(frame).jobId), [alone])

      // One job's stream: its own event of the row, with the row's id (replayed, then live for its next event).
      const onJob = yield* openInBackground(jobUrl(ids[1]!), { headers: { ...headers, "last-event-id": String(before) } }, (frames) =>
        frames.filter(isJob).length >= 2)
      const queue = yield* JobQueue
      const claimed = yield* queue.claim({ workerId: "w-stream", kinds: ["rt.batch.stream"], limit: 10, leaseMs: 60_000 })
      assert.strictEqual(claimed.length, 4)
      const jobFrames = (yield* Fiber.join(onJob)).frames.filter(isJob)
      assert.deepStrictEqual(jobFrames.map((frame) => [dataOf(frame).kind, dataOf(frame).jobId]), [["enqueued", ids[1]!], ["started", ids[1]!]])
      assert.strictEqual(jobFrames[0]!.id, rowId)
      assert.isDefined(jobFrames[1]!.id, "a job's stream frame always carries its id")
      yield* queue.completeMany("w-stream", claimed.map((job) => ({ job, result: null })))
    }))

  it.effect("batches committed by concurrent transactions reach a live project stream exactly once, in id order, and a resume at any frame id completes it", () =>
    Effect.gen(function*() {
      const { projectId, headers, projectUrl } = yield* aliceProjectStream("batch-burst")
      const total = 200
      const before = yield* lastBusId

      const live = yield* openInBackground(projectUrl, { headers }, (frames) => frames.filter(isJob).length >= total)
      // 20 batches of 10 jobs, 4 transactions at a time: ids are taken out of commit order.
      const batches = yield* Effect.forEach(Array.from({ length: 20 }), () => enqueueBatch("rt.batch.burst", projectId, 10), { concurrency: 4 })
      const enqueued = batches.flat().sort()
      const frames = (yield* Fiber.join(live)).frames.filter(isJob)
      const events = frames.map(dataOf)
      assert.deepStrictEqual(events.map((event) => event.jobId!).sort(), enqueued, "every job's event exactly once")
      const eventIds = events.map((event) => event.id)
      assert.deepStrictEqual(eventIds, [...eventIds].sort((a, b) => a - b), "in id order")
      // One row per batch: 20 ids, the id line on each row's last frame only.
      assert.strictEqual(new Set(eventIds).size, 20)
      assert.deepStrictEqual(frames.map((frame) => frame.id !== undefined), eventIds.map((id, i) => eventIds[i + 1] !== id))

      // A resume at any frame id gets exactly the rest; the frames before it plus the replay are the whole set.
      for (const cut of [0, 7, 13, 18]) {
        const resumeAt = [...new Set(eventIds)][cut]!
        const rest = yield* Effect.promise(() =>
          readSse(projectUrl, { headers: { ...headers, "last-event-id": String(resumeAt) } }, (read) => read.filter(isJob).length >= events.filter((e) => e.id > resumeAt).length, 30_000))
        const seen = events.filter((event) => event.id <= resumeAt).map((event) => event.jobId!)
        const replayed = rest.frames.filter(isJob).map((frame) => dataOf(frame).jobId!)
        assert.deepStrictEqual([...seen, ...replayed].sort(), enqueued, `resume after ${resumeAt}`)
      }
      assert.isAbove(eventIds[0]!, before)
    }))
})
