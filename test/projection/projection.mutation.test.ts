/**
 * Projection bookkeeping as the database holds it (docs/projection.md): which projects a batch claims and in
 * what order, the applied-seq guard, exactly-once acknowledgement of each outbox row (status, attempts,
 * last error, next attempt, applied time), retries that hold back their aggregate, dead letters and conflict
 * rows. Written for mutation testing of src/projection/{apply,claim,bookkeeping}.ts (scripts/mutation.ts).
 */
import { assert, layer } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import { ProjectionApplier } from "../../src/projection/Applier.ts"
import { ProjectionAdmin } from "../../src/projection/ProjectionAdmin.ts"
import { ProjectCommands } from "../../src/services/cqrs/ProjectCommands.ts"
import { Database } from "../../src/services/platform/Database.ts"
import { projectionLayer, uuidOf } from "./support.ts"

// Small batches (one project, four updates) and a long retry delay (a retry stays not due unless a test makes it due).
const config = { batchSize: 4, projectsPerBatch: 1, maxAttempts: 2, retryBaseMillis: 60_000, retryCapMillis: 120_000 }

const owner = uuidOf(1, 0xaa)
const projectState = (id: string) => ({ id, name: "P", description: null, ownerId: owner, settings: {} })

interface OutboxRow {
  readonly status: string
  readonly attempts: number
  readonly last_error: string | null
  readonly retry_in: number | null
  readonly acknowledged: boolean
}

const rowOf = (id: number) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    const [row] = yield* sql<OutboxRow>`
      SELECT status, attempts, last_error, applied_at IS NOT NULL AS acknowledged,
             extract(epoch FROM next_attempt_at - now())::float8 AS retry_in
      FROM cogo.project_updates WHERE id = ${id}`
    return row!
  })

const statuses = (ids: ReadonlyArray<number>) => Effect.forEach(ids, (id) => Effect.map(rowOf(id), (row) => row.status))

const stateOf = (aggregateId: string) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    const rows = yield* sql<{ applied_seq: string; applied_update_id: string; projected: boolean }>`
      SELECT applied_seq, applied_update_id, projected FROM cogo.projection_state WHERE aggregate_id = ${aggregateId}`
    return rows.map((row) => ({ appliedSeq: Number(row.applied_seq), appliedUpdateId: Number(row.applied_update_id), projected: row.projected }))
  })

const seqOf = (id: number) =>
  Effect.gen(function*() {
    const sql = yield* PgClient.PgClient
    const [row] = yield* sql<{ seq: string }>`SELECT seq FROM cogo.project_updates WHERE id = ${id}`
    return Number(row!.seq)
  })

/** Project `p` with pages p and q and a link to p, all projected. */
const linkedProject = (p: string) =>
  Effect.gen(function*() {
    const commands = yield* ProjectCommands
    const applier = yield* ProjectionApplier
    const [, page, other] = yield* commands.write([
      { _tag: "upsert", kind: "project", state: projectState(p) },
      { _tag: "upsert", kind: "page", state: { projectId: p, name: "p", route: null, definition: {} } },
      { _tag: "upsert", kind: "page", state: { projectId: p, name: "q", route: null, definition: {} } }
    ])
    const [link] = yield* commands.write([{ _tag: "upsert", kind: "project_page", state: { projectId: p, pageId: page!.id, position: 0, isHome: true } }])
    while ((yield* applier.processBatch).claimed > 0) {}
    return { page: page!, other: other!, link: link! }
  })

const summaryCounts = (s: { claimed: number; applied: number; superseded: number; conflicts: number; retried: number; dead: number; held: number }) =>
  [s.claimed, s.applied, s.superseded, s.conflicts, s.retried, s.dead, s.held]

layer(projectionLayer({ applier: config }), { excludeTestServices: true })("projection bookkeeping", (it) => {
  it.effect("a batch claims the project with the oldest due update, at most batchSize updates in id order; each is applied once", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const applier = yield* ProjectionApplier
      const a = uuidOf(1001)
      const b = uuidOf(1002)
      const [projectA] = yield* commands.write([{ _tag: "upsert", kind: "project", state: projectState(a) }])
      const [projectB] = yield* commands.write([{ _tag: "upsert", kind: "project", state: projectState(b) }])
      const pagesA = yield* commands.write([1, 2, 3, 4, 5].map((n) => ({
        _tag: "upsert" as const, kind: "page" as const, state: { projectId: a, name: `a${n}`, route: null, definition: {} }
      })))
      const pagesB = yield* commands.write([1, 2].map((n) => ({
        _tag: "upsert" as const, kind: "page" as const, state: { projectId: b, name: `b${n}`, route: null, definition: {} }
      })))
      const idsA = [projectA!.updateId, ...pagesA.map((p) => p.updateId)]
      const idsB = [projectB!.updateId, ...pagesB.map((p) => p.updateId)]

      const first = yield* applier.processBatch
      assert.deepStrictEqual(summaryCounts(first), [4, 4, 0, 0, 0, 0, 0])
      assert.strictEqual(first.mode, "set")
      assert.isTrue(first.saturated)
      assert.deepStrictEqual(yield* statuses(idsA), ["applied", "applied", "applied", "applied", "pending", "pending"])
      assert.deepStrictEqual(yield* statuses(idsB), ["pending", "pending", "pending"])
      const applied = yield* rowOf(idsA[1]!)
      assert.deepStrictEqual(applied, { status: "applied", attempts: 0, last_error: null, retry_in: null, acknowledged: true })
      assert.strictEqual((yield* rowOf(idsA[5]!)).acknowledged, false)

      // A's oldest due update is now younger than B's: B next.
      const second = yield* applier.processBatch
      assert.deepStrictEqual(summaryCounts(second), [3, 3, 0, 0, 0, 0, 0])
      assert.deepStrictEqual(yield* statuses(idsB), ["applied", "applied", "applied"])
      assert.deepStrictEqual(yield* statuses(idsA), ["applied", "applied", "applied", "applied", "pending", "pending"])

      const third = yield* applier.processBatch
      assert.deepStrictEqual(summaryCounts(third), [2, 2, 0, 0, 0, 0, 0])
      assert.deepStrictEqual(yield* statuses(idsA), idsA.map(() => "applied"))
      assert.strictEqual((yield* applier.processBatch).claimed, 0)

      const sql = yield* PgClient.PgClient
      const pages = yield* sql<{ name: string }>`SELECT name FROM public.pages WHERE project_id IN (${a}, ${b}) ORDER BY name`
      assert.deepStrictEqual(pages.map((p) => p.name), ["a1", "a2", "a3", "a4", "a5", "b1", "b2"])
      const page = pagesA[0]!
      assert.deepStrictEqual(yield* stateOf(page.id), [{ appliedSeq: yield* seqOf(page.updateId), appliedUpdateId: page.updateId, projected: true }])
      assert.deepStrictEqual(yield* stateOf(a), [{ appliedSeq: 1, appliedUpdateId: projectA!.updateId, projected: true }])
    }))

  it.effect("an update at or below the applied seq is superseded: acknowledged, not applied, the applied seq kept", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const applier = yield* ProjectionApplier
      const sql = yield* PgClient.PgClient
      const p = uuidOf(1010)
      yield* commands.upsert("project", projectState(p))
      const page = yield* commands.upsert("page", { projectId: p, name: "v1", route: null, definition: {} })
      while ((yield* applier.processBatch).claimed > 0) {}
      const stale = yield* commands.upsert("page", { id: page.id, projectId: p, name: "v2", route: null, definition: {} })
      const staleSeq = yield* seqOf(stale.updateId)
      // Another applier (a rebuild, a replica) already applied through exactly this seq.
      yield* sql`UPDATE cogo.projection_state SET applied_seq = ${staleSeq}, applied_update_id = ${stale.updateId} WHERE aggregate_id = ${page.id}`
      const batch = yield* applier.processBatch
      assert.deepStrictEqual(summaryCounts(batch), [1, 0, 1, 0, 0, 0, 0])
      assert.deepStrictEqual(yield* rowOf(stale.updateId), { status: "superseded", attempts: 0, last_error: null, retry_in: null, acknowledged: true })
      const [row] = yield* sql<{ name: string }>`SELECT name FROM public.pages WHERE id = ${page.id}`
      assert.strictEqual(row!.name, "v1")
      assert.deepStrictEqual(yield* stateOf(page.id), [{ appliedSeq: staleSeq, appliedUpdateId: stale.updateId, projected: true }])

      // The next update (seq one above) applies, and the applied seq moves to it.
      const next = yield* commands.upsert("page", { id: page.id, projectId: p, name: "v3", route: null, definition: {} })
      assert.strictEqual(yield* seqOf(next.updateId), staleSeq + 1)
      assert.deepStrictEqual(summaryCounts(yield* applier.processBatch), [1, 1, 0, 0, 0, 0, 0])
      const [after] = yield* sql<{ name: string }>`SELECT name FROM public.pages WHERE id = ${page.id}`
      assert.strictEqual(after!.name, "v3")
      assert.deepStrictEqual(yield* stateOf(page.id), [{ appliedSeq: staleSeq + 1, appliedUpdateId: next.updateId, projected: true }])

      // A deleted aggregate's state says it is no longer projected.
      const removed = yield* commands.remove("page", page.id)
      assert.deepStrictEqual(summaryCounts(yield* applier.processBatch), [1, 1, 0, 0, 0, 0, 0])
      assert.deepStrictEqual(yield* stateOf(page.id), [{ appliedSeq: staleSeq + 2, appliedUpdateId: removed.updateId, projected: false }])
    }))

  it.effect("a conflict is acknowledged without a retry, recorded, and advances the applied seq", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const applier = yield* ProjectionApplier
      const admin = yield* ProjectionAdmin
      const database = yield* Database
      const sql = yield* PgClient.PgClient
      const p = uuidOf(1020)
      yield* commands.upsert("project", projectState(p))
      const page = yield* commands.upsert("page", { projectId: p, name: "agent", route: null, definition: {} })
      while ((yield* applier.processBatch).claimed > 0) {}
      yield* database.asUser({ sub: owner }, sql`UPDATE public.pages SET name = 'user' WHERE id = ${page.id}`)
      const stale = yield* commands.upsert("page", { id: page.id, projectId: p, name: "agent 2", route: null, definition: {} })
      assert.deepStrictEqual(summaryCounts(yield* applier.processBatch), [1, 0, 0, 1, 0, 0, 0])
      assert.deepStrictEqual(yield* rowOf(stale.updateId), { status: "conflict", attempts: 0, last_error: null, retry_in: null, acknowledged: true })
      assert.deepStrictEqual(yield* stateOf(page.id), [{ appliedSeq: yield* seqOf(stale.updateId), appliedUpdateId: stale.updateId, projected: true }])
      const conflicts = yield* admin.listConflicts({ projectId: p })
      assert.deepStrictEqual(conflicts.map((c) => [c.updateId, c.aggregateId, c.kind, c.userId]), [[stale.updateId, page.id, "edited_by_user", owner]])
      const [kept] = yield* sql<{ name: string }>`SELECT name FROM public.pages WHERE id = ${page.id}`
      assert.strictEqual(kept!.name, "user")
      assert.strictEqual((yield* applier.processBatch).claimed, 0)
    }))

  it.effect("a failing update is retried later and holds back its aggregate only; then it becomes a dead letter", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const applier = yield* ProjectionApplier
      const admin = yield* ProjectionAdmin
      const sql = yield* PgClient.PgClient
      const p = uuidOf(1030)
      const [, page] = yield* commands.write([
        { _tag: "upsert", kind: "project", state: projectState(p) },
        { _tag: "upsert", kind: "page", state: { projectId: p, name: "p", route: null, definition: {} } }
      ])
      const [link] = yield* commands.write([{ _tag: "upsert", kind: "project_page", state: { projectId: p, pageId: page!.id, position: 0, isHome: true } }])
      while ((yield* applier.processBatch).claimed > 0) {}
      // public.project_pages is unique per (project, page): a second link of the page fails in public, twice.
      const dup = uuidOf(1031)
      const [bad, badAgain, other] = yield* commands.write([
        { _tag: "upsert", kind: "project_page", state: { id: dup, projectId: p, pageId: page!.id, position: 1, isHome: false } },
        { _tag: "upsert", kind: "project_page", state: { id: dup, projectId: p, pageId: page!.id, position: 2, isHome: false } },
        { _tag: "upsert", kind: "component", state: { projectId: p, name: "c", kind: "component", definition: {}, properties: {} } }
      ])

      const first = yield* applier.processBatch
      assert.strictEqual(first.mode, "isolated")
      assert.deepStrictEqual(summaryCounts(first), [3, 1, 0, 0, 1, 0, 1])
      const retry = yield* rowOf(bad!.updateId)
      assert.strictEqual(retry.status, "pending")
      assert.strictEqual(retry.attempts, 1)
      assert.isFalse(retry.acknowledged)
      assert.match(retry.last_error ?? "", /failed/)
      assert.isAbove(retry.retry_in!, 60 * 0.7)
      assert.isBelow(retry.retry_in!, 60 * 1.3)
      // The later update of the same aggregate was not tried: untouched.
      assert.deepStrictEqual(yield* rowOf(badAgain!.updateId), { status: "pending", attempts: 0, last_error: null, retry_in: null, acknowledged: false })
      assert.deepStrictEqual(yield* rowOf(other!.updateId), { status: "applied", attempts: 0, last_error: null, retry_in: null, acknowledged: true })
      assert.deepStrictEqual(yield* stateOf(other!.id), [{ appliedSeq: 1, appliedUpdateId: other!.updateId, projected: true }])
      assert.deepStrictEqual(yield* stateOf(dup), [])

      // Not due yet: the waiting retry holds back the due update behind it.
      const waiting = yield* applier.processBatch
      assert.deepStrictEqual(summaryCounts(waiting), [2, 0, 0, 0, 0, 0, 2])
      assert.strictEqual((yield* rowOf(badAgain!.updateId)).attempts, 0)
      assert.strictEqual((yield* rowOf(bad!.updateId)).attempts, 1)

      // Due now: the second failure is the last attempt (maxAttempts 2): a dead letter, out of the claim.
      yield* sql`UPDATE cogo.project_updates SET next_attempt_at = now() - interval '1 second' WHERE id = ${bad!.updateId}`
      const last = yield* applier.processBatch
      assert.deepStrictEqual(summaryCounts(last), [2, 0, 0, 0, 0, 1, 1])
      const dead = yield* rowOf(bad!.updateId)
      assert.deepStrictEqual({ ...dead, last_error: null }, { status: "dead", attempts: 2, last_error: null, retry_in: null, acknowledged: false })
      assert.match(dead.last_error ?? "", /\(after 2 attempts\)$/)
      assert.deepStrictEqual((yield* admin.listDeadLetters({ projectId: p })).map((l) => [l.id, l.attempts]), [[bad!.updateId, 2]])
      assert.strictEqual((yield* rowOf(badAgain!.updateId)).attempts, 0)

      // The dead letter no longer holds its aggregate back: the next update is tried (and fails on its own).
      const after = yield* applier.processBatch
      assert.deepStrictEqual(summaryCounts(after), [1, 0, 0, 0, 1, 0, 0])
      assert.strictEqual((yield* rowOf(badAgain!.updateId)).attempts, 1)
      const links = yield* sql<{ id: string }>`SELECT id FROM public.project_pages WHERE project_id = ${p}`
      assert.deepStrictEqual(links.map((l) => l.id), [link!.id])
    }))

  it.effect("a link cascaded away by a delete in the same batch is not projected, so re-linking it applies (no false conflict)", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const applier = yield* ProjectionApplier
      const sql = yield* PgClient.PgClient
      const p = uuidOf(1040)
      const { page, other, link } = yield* linkedProject(p)
      // One batch: the link is updated, then its page is deleted (the delete cascades to the link in public).
      const [moved] = yield* commands.write([
        { _tag: "upsert", kind: "project_page", state: { id: link!.id, projectId: p, pageId: page!.id, position: 3, isHome: true } },
        { _tag: "delete", kind: "page", id: page!.id }
      ])
      assert.deepStrictEqual(summaryCounts(yield* applier.processBatch), [2, 2, 0, 0, 0, 0, 0])
      assert.deepStrictEqual(yield* stateOf(link!.id), [{ appliedSeq: yield* seqOf(moved!.updateId), appliedUpdateId: moved!.updateId, projected: false }])
      assert.deepStrictEqual(yield* stateOf(other!.id), [{ appliedSeq: 1, appliedUpdateId: other!.updateId, projected: true }])
      assert.strictEqual((yield* sql<{ id: string }>`SELECT id FROM public.project_pages WHERE id = ${link!.id}`).length, 0)
      const relinked = yield* commands.upsert("project_page", { id: link!.id, projectId: p, pageId: other!.id, position: 0, isHome: true })
      assert.deepStrictEqual(summaryCounts(yield* applier.processBatch), [1, 1, 0, 0, 0, 0, 0])
      assert.strictEqual((yield* rowOf(relinked.updateId)).status, "applied")
      const [row] = yield* sql<{ page_id: string }>`SELECT page_id FROM public.project_pages WHERE id = ${link!.id}`
      assert.strictEqual(row!.page_id, other!.id)
    }))

  it.effect("a conflict on a row a user created leaves the aggregate not projected: once the user deletes it, the agent's upsert applies", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const applier = yield* ProjectionApplier
      const admin = yield* ProjectionAdmin
      const database = yield* Database
      const sql = yield* PgClient.PgClient
      const p = uuidOf(1050)
      const x = uuidOf(1051)
      yield* commands.upsert("project", projectState(p))
      while ((yield* applier.processBatch).claimed > 0) {}
      // The user creates the page first; the projector never wrote it.
      yield* database.asUser({ sub: owner }, sql`INSERT INTO public.pages (id, project_id, name) VALUES (${x}, ${p}, 'user')`)
      const agent = yield* commands.upsert("page", { id: x, projectId: p, name: "agent", route: null, definition: {} })
      assert.deepStrictEqual(summaryCounts(yield* applier.processBatch), [1, 0, 0, 1, 0, 0, 0])
      assert.deepStrictEqual((yield* admin.listConflicts({ projectId: p })).map((c) => [c.updateId, c.kind]), [[agent.updateId, "edited_by_user"]])
      assert.deepStrictEqual(
        yield* stateOf(x),
        [{ appliedSeq: yield* seqOf(agent.updateId), appliedUpdateId: agent.updateId, projected: false }],
        "the conflict does not make the user's row the projector's"
      )
      // The user deletes their own page: not a delete of a projected row, so the agent's next upsert creates it.
      yield* database.asUser({ sub: owner }, sql`DELETE FROM public.pages WHERE id = ${x}`)
      const again = yield* commands.upsert("page", { id: x, projectId: p, name: "agent 2", route: null, definition: {} })
      assert.deepStrictEqual(summaryCounts(yield* applier.processBatch), [1, 1, 0, 0, 0, 0, 0])
      assert.strictEqual((yield* rowOf(again.updateId)).status, "applied")
      const [row] = yield* sql<{ name: string; updated_by: string | null }>`SELECT name, updated_by FROM public.pages WHERE id = ${x}`
      assert.deepStrictEqual(row, { name: "agent 2", updated_by: null })
      assert.deepStrictEqual(yield* stateOf(x), [{ appliedSeq: yield* seqOf(again.updateId), appliedUpdateId: again.updateId, projected: true }])
    }))

  it.effect("deleting a page or a project forgets the rows its cascade removed: linking or creating them again applies (no deleted_by_user)", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const applier = yield* ProjectionApplier
      const admin = yield* ProjectionAdmin
      const sql = yield* PgClient.PgClient
      const p = uuidOf(1060)
      const { page, other, link } = yield* linkedProject(p)
      assert.deepStrictEqual((yield* stateOf(link!.id)).map((s) => s.projected), [true])

      // The page's delete alone in its batch: the link goes with it in public, and the link is no longer the projector's.
      yield* commands.remove("page", page!.id)
      assert.deepStrictEqual(summaryCounts(yield* applier.processBatch), [1, 1, 0, 0, 0, 0, 0])
      assert.deepStrictEqual((yield* stateOf(link!.id)).map((s) => s.projected), [false])
      const relinked = yield* commands.upsert("project_page", { id: link!.id, projectId: p, pageId: other!.id, position: 1, isHome: true })
      assert.deepStrictEqual(summaryCounts(yield* applier.processBatch), [1, 1, 0, 0, 0, 0, 0])
      assert.strictEqual((yield* rowOf(relinked.updateId)).status, "applied")
      const links = yield* sql<{ page_id: string }>`SELECT page_id FROM public.project_pages WHERE id = ${link!.id}`
      assert.deepStrictEqual(links.map((l) => l.page_id), [other!.id])

      // The project's delete alone in its batch: its pages and links go with it; created again later, they apply.
      yield* commands.remove("project", p)
      assert.deepStrictEqual(summaryCounts(yield* applier.processBatch), [1, 1, 0, 0, 0, 0, 0])
      assert.deepStrictEqual((yield* stateOf(other!.id)).map((s) => s.projected), [false])
      const [, again] = yield* commands.write([
        { _tag: "upsert", kind: "project", state: projectState(p) },
        { _tag: "upsert", kind: "page", state: { id: other!.id, projectId: p, name: "q again", route: null, definition: {} } }
      ])
      assert.deepStrictEqual(summaryCounts(yield* applier.processBatch), [2, 2, 0, 0, 0, 0, 0])
      assert.strictEqual((yield* rowOf(again!.updateId)).status, "applied")
      assert.deepStrictEqual(yield* admin.listConflicts({ projectId: p }), [])
      const [row] = yield* sql<{ name: string }>`SELECT name FROM public.pages WHERE id = ${other!.id}`
      assert.strictEqual(row?.name, "q again")
      assert.deepStrictEqual((yield* stateOf(other!.id)).map((s) => s.projected), [true])
    }))

  it.effect("upserts of one aggregate collapse within a batch, with or without deletes: its public version moves once", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const applier = yield* ProjectionApplier
      const sql = yield* PgClient.PgClient
      const p = uuidOf(1070)
      const [, page, doomed] = yield* commands.write([
        { _tag: "upsert", kind: "project", state: projectState(p) },
        { _tag: "upsert", kind: "page", state: { projectId: p, name: "v0", route: null, definition: {} } },
        { _tag: "upsert", kind: "page", state: { projectId: p, name: "doomed", route: null, definition: {} } }
      ])
      while ((yield* applier.processBatch).claimed > 0) {}
      const versionOf = Effect.map(
        sql<{ name: string; version: string }>`SELECT name, version FROM public.pages WHERE id = ${page!.id}`,
        ([row]) => ({ name: row!.name, version: Number(row!.version) })
      )
      const before = yield* versionOf
      const renames = (names: ReadonlyArray<string>) =>
        names.map((name) => ({ _tag: "upsert" as const, kind: "page" as const, state: { id: page!.id, projectId: p, name, route: null, definition: {} } }))

      // Upserts only (three states of the page, then the same ahead of a delete): one write of the last state each time.
      yield* commands.write(renames(["v1", "v2", "v3"]))
      assert.deepStrictEqual(summaryCounts(yield* applier.processBatch), [3, 3, 0, 0, 0, 0, 0])
      assert.deepStrictEqual(yield* versionOf, { name: "v3", version: before.version + 1 })

      yield* commands.write([...renames(["v4", "v5", "v6"]), { _tag: "delete", kind: "page", id: doomed!.id }])
      assert.deepStrictEqual(summaryCounts(yield* applier.processBatch), [4, 4, 0, 0, 0, 0, 0])
      assert.deepStrictEqual(yield* versionOf, { name: "v6", version: before.version + 2 })
      assert.strictEqual((yield* sql`SELECT id FROM public.pages WHERE id = ${doomed!.id}`).length, 0)
    }))

  it.effect("in a batch redone one update at a time, a conflicting update stays a conflict: the user's row is kept", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const applier = yield* ProjectionApplier
      const admin = yield* ProjectionAdmin
      const database = yield* Database
      const sql = yield* PgClient.PgClient
      const p = uuidOf(1080)
      const [, page] = yield* commands.write([
        { _tag: "upsert", kind: "project", state: projectState(p) },
        { _tag: "upsert", kind: "page", state: { projectId: p, name: "agent", route: null, definition: {} } }
      ])
      yield* commands.write([{ _tag: "upsert", kind: "project_page", state: { projectId: p, pageId: page!.id, position: 0, isHome: true } }])
      while ((yield* applier.processBatch).claimed > 0) {}
      yield* database.asUser({ sub: owner }, sql`UPDATE public.pages SET name = 'user' WHERE id = ${page!.id}`)
      // A second link of the page fails in public (forcing the one-by-one redo); the page update conflicts with the user's edit.
      const [bad, stale] = yield* commands.write([
        { _tag: "upsert", kind: "project_page", state: { projectId: p, pageId: page!.id, position: 1, isHome: false } },
        { _tag: "upsert", kind: "page", state: { id: page!.id, projectId: p, name: "agent 2", route: null, definition: {} } }
      ])
      const batch = yield* applier.processBatch
      assert.strictEqual(batch.mode, "isolated")
      assert.deepStrictEqual(summaryCounts(batch), [2, 0, 0, 1, 1, 0, 0])
      assert.strictEqual((yield* rowOf(bad!.updateId)).status, "pending")
      assert.deepStrictEqual(yield* rowOf(stale!.updateId), { status: "conflict", attempts: 0, last_error: null, retry_in: null, acknowledged: true })
      assert.deepStrictEqual((yield* admin.listConflicts({ projectId: p })).map((c) => [c.updateId, c.kind]), [[stale!.updateId, "edited_by_user"]])
      const [kept] = yield* sql<{ name: string }>`SELECT name FROM public.pages WHERE id = ${page!.id}`
      assert.strictEqual(kept!.name, "user")
    }))

  it.effect("a rebuild over several pages of updates (batchSize 4) restores the live projection of the project", () =>
    Effect.gen(function*() {
      const commands = yield* ProjectCommands
      const applier = yield* ProjectionApplier
      const sql = yield* PgClient.PgClient
      const p = uuidOf(1090)
      const [, a, b, c] = yield* commands.write([
        { _tag: "upsert", kind: "project", state: projectState(p) },
        { _tag: "upsert", kind: "page", state: { projectId: p, name: "a1", route: null, definition: {} } },
        { _tag: "upsert", kind: "page", state: { projectId: p, name: "b1", route: null, definition: {} } },
        { _tag: "upsert", kind: "page", state: { projectId: p, name: "c1", route: null, definition: {} } }
      ])
      // Later states of the same pages: replayed in a later page of the rebuild than their first state.
      yield* commands.write([
        { _tag: "upsert", kind: "page", state: { id: a!.id, projectId: p, name: "a2", route: "/a", definition: {} } },
        { _tag: "upsert", kind: "page", state: { id: b!.id, projectId: p, name: "b2", route: null, definition: {} } },
        { _tag: "upsert", kind: "page", state: { id: a!.id, projectId: p, name: "a3", route: "/a3", definition: {} } }
      ])
      while ((yield* applier.processBatch).claimed > 0) {}
      const pages = sql<{ id: string; name: string; route: string | null }>`SELECT id, name, route FROM public.pages WHERE project_id = ${p} ORDER BY name`
      const live = yield* pages
      assert.deepStrictEqual(live.map((row) => row.name), ["a3", "b2", "c1"])
      const state = yield* stateOf(a!.id)
      // Drift: a row edited, one lost.
      yield* sql`UPDATE public.pages SET name = 'drifted' WHERE id = ${b!.id}`
      yield* sql`DELETE FROM public.pages WHERE id = ${c!.id}`

      assert.deepStrictEqual(yield* applier.rebuildProject(p), { replayed: 7 })
      assert.deepStrictEqual(yield* pages, live)
      assert.deepStrictEqual(yield* stateOf(a!.id), state)
    }))
})
