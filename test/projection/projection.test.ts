import { assert, describe, it, layer } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Duration, Effect, Option, Result } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { decodeStoredUpdate, toStored, upsert } from "../../src/domain/cqrs/ProjectUpdate.ts"
import { ProjectionApplier } from "../../src/projection/Applier.ts"
import { ProjectionAdmin } from "../../src/projection/ProjectionAdmin.ts"
import { ProjectionWorker } from "../../src/projection/ProjectionWorker.ts"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { Outbox } from "../../src/services/cqrs/Outbox.ts"
import { ProjectCommands } from "../../src/services/cqrs/ProjectCommands.ts"
import { openRowsOutOfStep, outboxStatusCounts, projectionLayer, publicSnapshot, sequentialModel, uuidOf, workload, writeInChunks } from "./support.ts"

describe("stored update formats", () => {
  it("decodes the current format, upgrades v1 payloads, and explains what it cannot read", () => {
    const state = { id: uuidOf(1), projectId: uuidOf(2), name: "Home", route: "/", definition: { a: 1 } }
    const current = toStored(upsert("page", state))
    assert.strictEqual(current.schemaVersion, 2)
    const roundTrip = decodeStoredUpdate(current)
    assert.isTrue(Result.isSuccess(roundTrip))
    const v1 = decodeStoredUpdate({ updateType: "page.upserted", schemaVersion: 1, payload: state })
    assert.deepStrictEqual(Result.getOrThrow(v1), { _tag: "page.upserted", state })
    const unknown = decodeStoredUpdate({ updateType: "widget.upserted", schemaVersion: 2, payload: {} })
    assert.match(Result.isFailure(unknown) ? unknown.failure.message : "", /unknown update type 'widget.upserted'/)
    const future = decodeStoredUpdate({ updateType: "page.upserted", schemaVersion: 9, payload: { state } })
    assert.match(Result.isFailure(future) ? future.failure.message : "", /unsupported schema version 9/)
    const shape = decodeStoredUpdate({ updateType: "page.upserted", schemaVersion: 2, payload: { state: { ...state, name: 5 } } })
    assert.match(Result.isFailure(shape) ? shape.failure.message : "", /invalid payload for 'page.upserted'.*name/s)
  })
})

const owner = uuidOf(1, 0xaa)
const projectState = (id: string) => ({ id, name: "P", description: null, ownerId: owner, settings: {} })

const statusOf = (id: number) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    const [row] = yield* sql<{ status: string; attempts: number; last_error: string | null }>`
      SELECT status, attempts, last_error FROM cogo.project_updates WHERE id = ${id}`
    return row!
  })

/** Drains until `done` holds, sleeping past retry back-offs (bounded). */
const drainUntil = (done: Effect.Effect<boolean, unknown, PgClient.PgClient>) =>
  Effect.gen(function*() {
    const worker = yield* ProjectionWorker
    for (let i = 0; i < 50; i++) {
      yield* worker.drain
      if (yield* done) return
      yield* Effect.sleep(Duration.millis(30))
    }
    assert.fail("condition not reached after 50 drains")
  })

layer(projectionLayer(), { excludeTestServices: true })("outbox, commands and projection", (it) => {
  it.effect("append refuses to run outside a transaction; commands refuse bad references; agents cannot write public", () =>
    Effect.gen(function*() {
      const outbox = yield* Outbox
      const commands = yield* ProjectCommands
      const database = yield* Database
      const sql = yield* PgClient.PgClient
      const outside = yield* Effect.result(outbox.append({ update: upsert("project", projectState(uuidOf(900))) }))
      assert.isTrue(Result.isFailure(outside) && outside.failure._tag === "NotInTransaction")

      const missing = yield* Effect.result(commands.upsert("page", { projectId: uuidOf(901), name: "x", route: null, definition: {} }))
      assert.isTrue(Result.isFailure(missing) && missing.failure._tag === "ProjectCommandRejected" && missing.failure.reason === "parent_missing")
      const invalid = yield* Effect.result(commands.write([{ _tag: "upsert", kind: "page", state: { projectId: "nope", name: "", route: null, definition: {} } }]))
      assert.isTrue(Result.isFailure(invalid) && invalid.failure._tag === "ProjectCommandRejected" && invalid.failure.reason === "invalid")
      const gone = yield* Effect.result(commands.remove("page", uuidOf(902)))
      assert.isTrue(Result.isFailure(gone) && gone.failure._tag === "ProjectCommandRejected" && gone.failure.reason === "not_found")

      const denied = yield* Effect.result(database.withRole(DbRole.agent, sql`INSERT INTO public.projects (name, owner_id) VALUES ('x', ${owner})`))
      assert.isTrue(Result.isFailure(denied))
    }))

  it.effect("commands keep canonical state and a per-aggregate sequence; the batch is one transaction", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const sql = yield* PgClient.PgClient
      const projectId = uuidOf(910)
      const [project, page] = yield* commands.write([
        { _tag: "upsert", kind: "project", state: projectState(projectId) },
        { _tag: "upsert", kind: "page", state: { projectId, name: "Home", route: "/", definition: {} } }
      ])
      assert.strictEqual(project!.version, 1)
      assert.strictEqual(page!.projectId, projectId)
      const again = yield* commands.upsert("page", { id: page!.id, projectId, name: "Home 2", route: "/", definition: {} })
      assert.strictEqual(again.version, 2)
      assert.isTrue(again.updateId > page!.updateId)
      const canonical = yield* commands.get("page", page!.id)
      assert.strictEqual(Option.getOrThrow(canonical).version, 2)
      assert.strictEqual((Option.getOrThrow(canonical).state as { name: string }).name, "Home 2")

      // A rejected command rejects its whole batch: nothing of it is written.
      const before = (yield* sql<{ n: string }>`SELECT count(*) AS n FROM cogo.project_updates`)[0]!.n
      const refused = yield* Effect.result(commands.write([
        { _tag: "upsert", kind: "page", state: { projectId, name: "lost", route: null, definition: {} } },
        { _tag: "delete", kind: "component", id: uuidOf(911) }
      ]))
      assert.isTrue(Result.isFailure(refused))
      assert.strictEqual((yield* sql<{ n: string }>`SELECT count(*) AS n FROM cogo.project_updates`)[0]!.n, before)

      // Deleting the project cascades in canonical state: its page is gone for later commands.
      yield* commands.remove("project", projectId)
      assert.isTrue(Option.getOrThrow(yield* commands.get("page", page!.id)).deleted)
      const orphan = yield* Effect.result(commands.upsert("page", { id: page!.id, projectId, name: "x", route: null, definition: {} }))
      assert.isTrue(Result.isFailure(orphan))
      yield* (yield* ProjectionWorker).drain
    }))

  it.effect("a workload is projected equal to applying it sequentially, and a rebuild equals the live projection", () =>
    Effect.gen(function*() {
      const { commands } = workload({ projects: 4, count: 800, seed: 7, idPrefix: 2 })
      yield* writeInChunks(commands, 37)
      const worker = yield* ProjectionWorker
      const applier = yield* ProjectionApplier
      // No update of this workload fails, so every batch stays on the set-based path.
      while (true) {
        const summary = yield* applier.processBatch
        if (summary.claimed === 0) break
        assert.strictEqual(summary.mode, "set")
        assert.strictEqual(summary.applied, summary.claimed)
      }
      const counts = yield* outboxStatusCounts
      assert.strictEqual(counts["pending"] ?? 0, 0)
      assert.strictEqual(counts["dead"] ?? 0, 0)
      assert.strictEqual(yield* openRowsOutOfStep, 0)
      const live = yield* publicSnapshot
      assert.deepStrictEqual(live, yield* sequentialModel)
      assert.isAbove(Object.keys(live["page"]!).length, 10)

      const admin = yield* ProjectionAdmin
      const sql = yield* PgClient.PgClient
      const someProject = Object.keys(live["project"]!)[0]!
      const member = uuidOf(77, 0xbb)
      yield* sql`INSERT INTO public.project_members (project_id, user_id, role) VALUES (${someProject}, ${member}, 'editor')`
      yield* sql`UPDATE public.pages SET name = 'drifted' WHERE project_id = ${someProject}`
      const rebuilt = yield* admin.rebuild()
      assert.isAbove(rebuilt.length, 4)
      assert.deepStrictEqual(yield* publicSnapshot, live)
      // Members are not projected state: a rebuild keeps them.
      const members = yield* sql<{ user_id: string }>`SELECT user_id FROM public.project_members WHERE project_id = ${someProject} AND user_id = ${member}`
      assert.strictEqual(members.length, 1)
      const lag = yield* worker.lag
      assert.strictEqual(lag.pending, 0)
    }))

  it.effect("a user's newer edit is never overwritten: conflict recorded and published; a based update applies", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const database = yield* Database
      const bus = yield* EventBus
      const admin = yield* ProjectionAdmin
      const worker = yield* ProjectionWorker
      const sql = yield* PgClient.PgClient
      const projectId = uuidOf(920)
      const [, page] = yield* commands.write([
        { _tag: "upsert", kind: "project", state: projectState(projectId) },
        { _tag: "upsert", kind: "page", state: { projectId, name: "agent", route: "/", definition: {} } }
      ])
      yield* worker.drain
      yield* database.asUser({ sub: owner }, sql`UPDATE public.pages SET name = 'user' WHERE id = ${page!.id}`)
      const [edited] = yield* sql<{ version: string; updated_by: string }>`SELECT version, updated_by FROM public.pages WHERE id = ${page!.id}`
      assert.strictEqual(edited!.updated_by, owner)

      const stale = yield* commands.upsert("page", { id: page!.id, projectId, name: "agent again", route: "/", definition: {} })
      yield* worker.drain
      assert.strictEqual((yield* statusOf(stale.updateId)).status, "conflict")
      const [kept] = yield* sql<{ name: string }>`SELECT name FROM public.pages WHERE id = ${page!.id}`
      assert.strictEqual(kept!.name, "user")
      const conflicts = yield* admin.listConflicts({ projectId })
      assert.deepStrictEqual(conflicts.map((c) => [c.updateId, c.kind, c.userId, c.publicVersion]), [[stale.updateId, "edited_by_user", owner, Number(edited!.version)]])
      const events = yield* bus.since({ afterId: 0, projectId })
      assert.isTrue(events.some((e) => e.kind === "projection.conflict"))

      const based = yield* commands.upsert("page", { id: page!.id, projectId, name: "merged", route: "/", definition: {} }, { baseVersion: Number(edited!.version) })
      yield* worker.drain
      assert.strictEqual((yield* statusOf(based.updateId)).status, "applied")
      const [merged] = yield* sql<{ name: string; updated_by: string | null }>`SELECT name, updated_by FROM public.pages WHERE id = ${page!.id}`
      assert.deepStrictEqual(merged, { name: "merged", updated_by: null })

      // A user's delete of a projected row is an edit too.
      yield* database.asUser({ sub: owner }, sql`DELETE FROM public.pages WHERE id = ${page!.id}`)
      const resurrect = yield* commands.upsert("page", { id: page!.id, projectId, name: "again", route: "/", definition: {} })
      yield* worker.drain
      assert.strictEqual((yield* statusOf(resurrect.updateId)).status, "conflict")
      assert.strictEqual((yield* admin.listConflicts({ projectId })).at(-1)!.kind, "deleted_by_user")
      const again = yield* commands.upsert("page", { id: page!.id, projectId, name: "still", route: "/", definition: {} })
      yield* worker.drain
      assert.strictEqual((yield* statusOf(again.updateId)).status, "conflict")
      // Recreating it knowingly (any base version) is the agent's decision after reading the user's delete.
      const recreated = yield* commands.upsert("page", { id: page!.id, projectId, name: "recreated", route: "/", definition: {} }, { baseVersion: 0 })
      yield* worker.drain
      assert.strictEqual((yield* statusOf(recreated.updateId)).status, "applied")
    }))

  it.effect("a failing update is retried, parked as a dead letter without blocking others, and can be retried", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const admin = yield* ProjectionAdmin
      const sql = yield* PgClient.PgClient
      const projectId = uuidOf(930)
      const [, page] = yield* commands.write([
        { _tag: "upsert", kind: "project", state: projectState(projectId) },
        { _tag: "upsert", kind: "page", state: { projectId, name: "p", route: null, definition: {} } }
      ])
      const [first] = yield* commands.write([{ _tag: "upsert", kind: "project_page", state: { projectId, pageId: page!.id, position: 0, isHome: true } }])
      yield* (yield* ProjectionWorker).drain
      // public.project_pages is unique per (project, page): a second link of the page fails in public.
      const [second] = yield* commands.write([{ _tag: "upsert", kind: "project_page", state: { projectId, pageId: page!.id, position: 1, isHome: false } }])
      const other = yield* commands.upsert("component", { projectId, name: "c", kind: "component", definition: {}, properties: {} })
      yield* drainUntil(Effect.map(statusOf(second!.updateId), (row) => row.status === "dead"))
      const dead = yield* statusOf(second!.updateId)
      assert.strictEqual(dead.attempts, 3)
      assert.match(dead.last_error ?? "", /after 3 attempts/)
      assert.strictEqual((yield* statusOf(other.updateId)).status, "applied")
      const letters = yield* admin.listDeadLetters({ projectId })
      assert.deepStrictEqual(letters.map((l) => l.id), [second!.updateId])
      assert.strictEqual(yield* openRowsOutOfStep, 0)

      // Remove the first link, then retry: the dead letter applies.
      yield* commands.remove("project_page", first!.id)
      yield* (yield* ProjectionWorker).drain
      yield* admin.retryDeadLetter(second!.updateId)
      yield* (yield* ProjectionWorker).drain
      assert.strictEqual((yield* statusOf(second!.updateId)).status, "applied")
      assert.strictEqual(yield* openRowsOutOfStep, 0)
      const links = yield* sql<{ id: string }>`SELECT id FROM public.project_pages WHERE project_id = ${projectId}`
      assert.deepStrictEqual(links.map((l) => l.id), [second!.id])
      const notDead = yield* Effect.result(admin.retryDeadLetter(second!.updateId))
      assert.isTrue(Result.isFailure(notDead) && notDead.failure._tag === "DeadLetterNotFound")
    }))

  it.effect("the outbox status update can stay on its page (HOT): no index names a column the projector changes", () =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const changed = ["status", "attempts", "next_attempt_at", "last_error", "applied_at"]
      const indexes = yield* sql<{ name: string; columns: ReadonlyArray<string>; predicate: string | null; expressions: string | null }>`
        SELECT i.indexrelid::regclass::text AS name,
               ARRAY(SELECT a.attname::text FROM unnest(i.indkey) k JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k) AS columns,
               pg_get_expr(i.indpred, i.indrelid) AS predicate, pg_get_expr(i.indexprs, i.indrelid) AS expressions
        FROM pg_index i WHERE i.indrelid = 'cogo.project_updates'::regclass`
      assert.isAbove(indexes.length, 1)
      const blocking = indexes.filter((index) =>
        changed.some((column) =>
          index.columns.includes(column) || [index.predicate, index.expressions].some((text) => text !== null && text.includes(column))
        )
      )
      assert.deepStrictEqual(blocking.map((index) => index.name), [])
      const [table] = yield* sql<{ options: ReadonlyArray<string> | null }>`
        SELECT reloptions AS options FROM pg_class WHERE oid = 'cogo.project_updates'::regclass`
      assert.include(table!.options ?? [], "fillfactor=50")
    }))

  it.effect("bad payloads become dead letters with a clear error; good updates keep flowing; no crash loop", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const admin = yield* ProjectionAdmin
      const worker = yield* ProjectionWorker
      const sql = yield* PgClient.PgClient
      const projectId = uuidOf(940)
      yield* commands.upsert("project", projectState(projectId))
      const pageId = uuidOf(941)
      const insertRaw = (seq: number, updateType: string, schemaVersion: number, payload: string) =>
        sql<{ id: string }>`INSERT INTO cogo.project_updates (aggregate_type, aggregate_id, project_id, seq, update_type, schema_version, payload)
          VALUES ('page', ${pageId}, ${projectId}, ${seq}, ${updateType}, ${schemaVersion}, ${payload}::jsonb) RETURNING id`
      const bad = [
        yield* insertRaw(1, "widget.upserted", 2, "{}"),
        yield* insertRaw(2, "page.upserted", 2, JSON.stringify({ state: { id: pageId, projectId, name: 5 } })),
        yield* insertRaw(3, "page.upserted", 7, "{}"),
        yield* insertRaw(4, "page.upserted", 2, "[1, 2]"),
        yield* insertRaw(5, "page.upserted", 2, JSON.stringify({ state: { id: uuidOf(949), projectId, name: "x", route: null, definition: {} } }))
      ].map((rows) => Number(rows[0]!.id))
      // A valid v1 row after them, for the same aggregate: applies (dead letters do not block).
      const [v1] = yield* insertRaw(6, "page.upserted", 1, JSON.stringify({ id: pageId, projectId, name: "v1", route: null, definition: {} }))
      yield* worker.drain
      const letters = yield* admin.listDeadLetters({ projectId })
      assert.deepStrictEqual(letters.map((l) => l.id), bad)
      assert.match(letters[0]!.lastError!, /unknown update type 'widget.upserted'/)
      assert.match(letters[1]!.lastError!, /invalid payload for 'page.upserted'/)
      assert.match(letters[2]!.lastError!, /unsupported schema version 7/)
      assert.match(letters[3]!.lastError!, /not a JSON object/)
      assert.match(letters[4]!.lastError!, /but the row is for page/)
      assert.strictEqual((yield* statusOf(Number(v1!.id))).status, "applied")
      assert.strictEqual(yield* worker.drain, 0)
    }))

  it.effect("retry delays grow exponentially with jitter, stay under the cap, and end after the attempt budget", () =>
    Effect.gen(function*() {
      const applier = yield* ProjectionApplier
      const delays = yield* Effect.forEach([1, 2, 3], (attempt) => applier.retryDelay(attempt))
      assert.isTrue(Option.isSome(delays[0]!) && Option.isSome(delays[1]!))
      assert.isTrue(Option.isNone(delays[2]!))
      for (const delay of delays.filter(Option.isSome)) assert.isAtMost(Duration.toMillis(delay.value), 40 * 1.2)
    }))

  it.effect("metrics report applied updates and batch durations", () =>
    Effect.gen(function*() {
      const text = yield* PrometheusMetrics.format()
      assert.match(text, /projection_updates_total\{[^}]*outcome="applied"[^}]*\} [1-9]/)
      assert.match(text, /projection_batch_duration_seconds_bucket/)
      assert.match(text, /projection_dead_letters_total [1-9]/)
    }))
})

layer(projectionLayer({ worker: { enabled: true, concurrency: 2, pollMillis: 200, lagSampleMillis: 100 } }), { excludeTestServices: true })(
  "the background worker",
  (it) => {
    it.effect("wakes on the outbox notification and projects without being asked", () =>
      Effect.gen(function*() {
        const commands = yield* ProjectCommands
        const sql = yield* PgClient.PgClient
        const projectId = uuidOf(950)
        yield* commands.upsert("project", projectState(projectId))
        const page = yield* commands.upsert("page", { projectId, name: "live", route: null, definition: {} })
        // Up to 10 s: on a loaded machine the worker's wake-up and its transaction can take a while.
        for (let i = 0; i < 500; i++) {
          const rows = yield* sql<{ name: string }>`SELECT name FROM public.pages WHERE id = ${page.id}`
          if (rows.length === 1) return
          yield* Effect.sleep(Duration.millis(20))
        }
        assert.fail("page not projected within 10 s")
      }))
  }
)
