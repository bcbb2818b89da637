/**
 * Single commands written as one checked autocommit call (issue 16): what a writer remembered or read is
 * checked under the aggregates' locks, so a stale memory (another writer, e.g. another replica, changed the
 * entities) costs a retry, never a wrong write; concurrent writers of one aggregate keep its order; the
 * writes run as the agent role; the outbox rows carry the trace.
 */
import { assert, describe, layer } from "@effect/vitest"
import { PgClient } from "@effect/sql-pg"
import { Effect, Exit, Layer } from "effect"
import { ProjectCommands } from "../../src/services/cqrs/ProjectCommands.ts"
import { projectionLayer, uuidOf } from "./support.ts"

const owner = uuidOf(1, 0xcc)
const project = (n: number) => ({ id: uuidOf(n, 0xc1), name: `project ${n}`, description: null, ownerId: owner, settings: {} })
const page = (n: number, projectId: string, name = `page ${n}`) => ({ id: uuidOf(n, 0xc2), projectId, name, route: null, definition: { n } })

/** A second ProjectCommands over the same database: its own memory of recent entities, like another replica. */
const otherWriter = Effect.gen(function*() {
  const other = yield* Effect.service(ProjectCommands).pipe(Effect.provide(Layer.fresh(ProjectCommands.layer)))
  assert.notStrictEqual(other, yield* ProjectCommands)
  return other
})

const outboxRows = (aggregateId: string) =>
  Effect.flatMap(Effect.service(PgClient.PgClient), (sql) =>
    sql<{ id: string; seq: string; payload: { state?: { name: string } }; traceparent: string | null }>`
      SELECT id, seq, payload, traceparent FROM cogo.project_updates WHERE aggregate_id = ${aggregateId} ORDER BY id`)

describe("project commands, checked writes", () => {
  layer(projectionLayer(), { excludeTestServices: true })("one database, two writers", (it) => {
    it.effect("a remembered parent deleted by another writer: the check fails, the fresh read rejects, nothing written", () =>
      Effect.gen(function*() {
        const commands = yield* ProjectCommands
        const other = yield* otherWriter
        const p = project(1)
        yield* commands.upsert("project", p)
        yield* commands.upsert("page", page(1, p.id))
        // This writer remembers project 1 and page 1 as live; the other deletes the project (cascade).
        yield* other.remove("project", p.id)
        const before = yield* outboxRows(uuidOf(1, 0xc2))
        const error = yield* Effect.flip(commands.upsert("page", page(1, p.id, "renamed")))
        assert.strictEqual(error._tag === "ProjectCommandRejected" ? error.reason : error._tag, "parent_missing")
        const after = yield* outboxRows(uuidOf(1, 0xc2))
        assert.strictEqual(after.length, before.length)
        const canonical = yield* commands.get("page", uuidOf(1, 0xc2))
        assert.isTrue(canonical._tag === "Some" && canonical.value.deleted)
      }))

    it.effect("an entity another writer created is not guessed absent into a wrong write: project moves are refused", () =>
      Effect.gen(function*() {
        const commands = yield* ProjectCommands
        const other = yield* otherWriter
        const p2 = project(2)
        const p3 = project(3)
        yield* commands.upsert("project", p2)
        yield* commands.upsert("project", p3)
        // Page 2 is created in project 2 by the other writer: this one has never seen it.
        yield* other.upsert("page", page(2, p2.id))
        const error = yield* Effect.flip(commands.upsert("page", page(2, p3.id)))
        assert.strictEqual(error._tag === "ProjectCommandRejected" ? error.reason : error._tag, "project_mismatch")
        // With the entity known now, a valid update goes through with the next version.
        const updated = yield* commands.upsert("page", page(2, p2.id, "second"))
        assert.strictEqual(updated.version, 2)
        const rows = yield* outboxRows(uuidOf(2, 0xc2))
        assert.deepStrictEqual(rows.map((row) => Number(row.seq)), [1, 2])
      }))

    it.effect("concurrent single commands on one aggregate: consecutive seqs, id order = seq order, last state wins", () =>
      Effect.gen(function*() {
        const commands = yield* ProjectCommands
        const other = yield* otherWriter
        const p = project(4)
        yield* commands.upsert("project", p)
        yield* commands.upsert("page", page(4, p.id, "start"))
        const writers = 16
        const results = yield* Effect.forEach(Array.from({ length: writers }, (_, w) => w), (w) =>
          (w % 2 === 0 ? commands : other).upsert("page", page(4, p.id, `writer ${w}`)), { concurrency: writers })
        const versions = results.map((r) => r.version).sort((a, b) => a - b)
        assert.deepStrictEqual(versions, Array.from({ length: writers }, (_, i) => i + 2))
        const rows = yield* outboxRows(uuidOf(4, 0xc2))
        assert.deepStrictEqual(rows.map((row) => Number(row.seq)), Array.from({ length: writers + 1 }, (_, i) => i + 1))
        const last = rows.at(-1)!
        const canonical = yield* commands.get("page", uuidOf(4, 0xc2))
        assert.isTrue(canonical._tag === "Some")
        if (canonical._tag === "Some") {
          assert.strictEqual(canonical.value.version, writers + 1)
          assert.strictEqual((canonical.value.state as { name: string }).name, last.payload.state!.name)
        }
      }))

    it.effect("concurrent single commands on different entities share calls (group commit), each with its own result and trace", () =>
      Effect.gen(function*() {
        const commands = yield* ProjectCommands
        const sql = yield* PgClient.PgClient
        const p = project(7)
        yield* commands.upsert("project", p)
        const writers = 16
        const written = yield* Effect.forEach(Array.from({ length: writers }, (_, w) => w), (w) =>
          commands.upsert("page", page(700 + w, p.id)).pipe(
            Effect.flatMap((result) => Effect.map(Effect.currentSpan, (span) => ({ result, traceId: span.traceId }))),
            Effect.withSpan(`test.writer ${w}`)
          ), { concurrency: writers })
        for (const [w, { result }] of written.entries()) {
          assert.strictEqual(result.id, uuidOf(700 + w, 0xc2))
          assert.strictEqual(result.version, 1)
        }
        assert.strictEqual(new Set(written.map(({ result }) => result.updateId)).size, writers)
        const rows = yield* sql<{ id: string; aggregate_id: string; traceparent: string; tx: string }>`
          SELECT id, aggregate_id, traceparent, xmin::text AS tx FROM cogo.project_updates
          WHERE aggregate_id = ANY(${`{${written.map(({ result }) => result.id).join(",")}}`}::uuid[])`
        assert.strictEqual(rows.length, writers)
        // Fewer transactions than commands: some shared a call.
        assert.isBelow(new Set(rows.map((r) => r.tx)).size, writers)
        for (const { result, traceId } of written) {
          const row = rows.find((r) => r.aggregate_id === result.id)!
          assert.strictEqual(Number(row.id), result.updateId)
          assert.include(row.traceparent, traceId)
        }
      }))

    it.effect("a stale memory inside a shared call: the others are written, the stale command re-reads and is refused", () =>
      Effect.gen(function*() {
        const commands = yield* ProjectCommands
        const other = yield* otherWriter
        const stale = project(8)
        const live = project(9)
        yield* commands.upsert("project", stale)
        yield* commands.upsert("project", live)
        // This writer remembers project 8 as live; the other deletes it.
        yield* other.remove("project", stale.id)
        const outcomes = yield* Effect.forEach(Array.from({ length: 9 }, (_, n) => n), (n) =>
          Effect.result(commands.upsert("page", n === 4 ? page(800, stale.id) : page(900 + n, live.id))), { concurrency: 9 })
        for (const [n, outcome] of outcomes.entries()) {
          if (n === 4) {
            assert.isTrue(outcome._tag === "Failure" && outcome.failure._tag === "ProjectCommandRejected" && outcome.failure.reason === "parent_missing")
          } else {
            assert.isTrue(outcome._tag === "Success" && outcome.success.version === 1 && outcome.success.id === uuidOf(900 + n, 0xc2))
          }
        }
        assert.strictEqual((yield* outboxRows(uuidOf(800, 0xc2))).length, 0)
      }))

    it.effect("the write runs as the agent role: without the agent's grant it is refused", () =>
      Effect.gen(function*() {
        const commands = yield* ProjectCommands
        const sql = yield* PgClient.PgClient
        const p = project(5)
        yield* commands.upsert("project", p)
        yield* commands.upsert("page", page(5, p.id))
        yield* sql`REVOKE INSERT ON cogo.project_updates FROM cogo_agent`
        const exit = yield* Effect.exit(commands.upsert("page", page(5, p.id, "denied")))
        yield* sql`GRANT INSERT ON cogo.project_updates TO cogo_agent`
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) assert.match(exit.cause.toString(), /permission denied/i)
        const written = yield* commands.upsert("page", page(5, p.id, "allowed"))
        assert.strictEqual(written.version, 2)
      }))

    it.effect("outbox rows carry the writer's trace", () =>
      Effect.gen(function*() {
        const commands = yield* ProjectCommands
        const p = project(6)
        yield* commands.upsert("project", p)
        const traceId = yield* commands.upsert("page", page(6, p.id)).pipe(
          Effect.andThen(Effect.currentSpan),
          Effect.map((span) => span.traceId),
          Effect.withSpan("test.write")
        )
        const [row] = yield* outboxRows(uuidOf(6, 0xc2))
        assert.isNotNull(row!.traceparent)
        assert.include(row!.traceparent!, traceId)
      }))
  })
})
