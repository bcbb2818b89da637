/**
 * Group commit of checked appends: which single commands may share one call of
 * `cogo.append_project_updates`, and the merged call's input. The rules come from the requirement that a
 * shared call must be equivalent to the commands written one after the other (src/services/cqrs/appendGroups.ts).
 */
import { assert, describe, it } from "@effect/vitest"
import type { EntityRead } from "../../src/domain/cqrs/EntityCommand.ts"
import { type CheckedAppend, groupAppends, mergeAppends, type UpdateRow } from "../../src/services/cqrs/appendGroups.ts"

const project = "00000000-0000-4000-8000-0000000000a1"
const id = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`
const liveProject: EntityRead = { entity_type: "project", id: project, project_id: project, deleted: false, page_id: null }

const row = (aggregate: string, ord: number): UpdateRow => ({
  ord,
  aggregate_type: "page",
  aggregate_id: aggregate,
  project_id: project,
  update_type: "page.upserted",
  schema_version: 1,
  payload: { n: ord },
  base_version: null,
  traceparent: `trace-${aggregate}`
})

/** A page upsert that read its project (as `expected`) and found the page absent. */
const pageUpsert = (page: string, expected: ReadonlyArray<EntityRead> = [liveProject], extra: Partial<CheckedAppend> = {}): CheckedAppend => ({
  rows: [row(page, 0)],
  canonical: [{ entity_type: "page", id: page, project_id: project, state: { id: page }, deleted: false, entry: 0 }],
  guard: { ids: [page, project], projects: [], expected },
  ...extra
})

const sizes = (groups: ReadonlyArray<ReadonlyArray<CheckedAppend>>) => groups.map((g) => g.length)

describe("group commit of checked appends", () => {
  it("commands on different entities that read the same project alike share one call", () => {
    const appends = [pageUpsert(id(1)), pageUpsert(id(2)), pageUpsert(id(3))]
    const groups = groupAppends(appends, 256)
    assert.deepStrictEqual(sizes(groups), [3])
    assert.deepStrictEqual(groups[0], appends)
  })

  it("a shared id read differently (one saw the project deleted) splits them", () => {
    const deleted = { ...liveProject, deleted: true }
    assert.deepStrictEqual(sizes(groupAppends([pageUpsert(id(1)), pageUpsert(id(2), [deleted])], 256)), [1, 1])
    // Read absent by one and present by the other: also different.
    assert.deepStrictEqual(sizes(groupAppends([pageUpsert(id(1)), pageUpsert(id(2), [])], 256)), [1, 1])
  })

  it("two writes of one entity never share a call (each needs the other's outcome)", () => {
    assert.deepStrictEqual(sizes(groupAppends([pageUpsert(id(1)), pageUpsert(id(1))], 256)), [1, 1])
  })

  it("a command that reads what another writes waits for it: the project's own update splits from its pages", () => {
    const projectUpdate: CheckedAppend = {
      rows: [{ ...row(project, 0), aggregate_type: "project" }],
      canonical: [{ entity_type: "project", id: project, project_id: project, state: {}, deleted: false, entry: 0 }],
      guard: { ids: [project], projects: [], expected: [liveProject] }
    }
    assert.deepStrictEqual(sizes(groupAppends([pageUpsert(id(1)), projectUpdate, pageUpsert(id(2))], 256)), [2, 1])
    assert.deepStrictEqual(sizes(groupAppends([projectUpdate, pageUpsert(id(1))], 256)), [1, 1])
  })

  it("a cascade (a read of a whole project) is always written alone", () => {
    const cascade = pageUpsert(id(9), [liveProject], { guard: { ids: [id(9)], projects: [project], expected: [] } })
    const groups = groupAppends([pageUpsert(id(1)), cascade, pageUpsert(id(2))], 256)
    assert.deepStrictEqual(sizes(groups), [2, 1])
    assert.strictEqual(groups[1]![0], cascade)
  })

  it("a call holds at most maxRows outbox rows", () => {
    const appends = Array.from({ length: 5 }, (_, n) => pageUpsert(id(n + 1)))
    assert.deepStrictEqual(sizes(groupAppends(appends, 2)), [2, 2, 1])
  })

  it("the merged call renumbers rows in order, moves canonical entries along and unions the guards", () => {
    const first = pageUpsert(id(1))
    const second: CheckedAppend = {
      rows: [row(id(2), 0), row(id(3), 1)],
      canonical: [
        { entity_type: "page", id: id(2), project_id: project, state: {}, deleted: false, entry: 1 },
        { entity_type: "page", id: id(4), project_id: project, state: {}, deleted: true, entry: null }
      ],
      guard: { ids: [id(2), id(3), project], projects: [], expected: [liveProject] }
    }
    const merged = mergeAppends([first, second])
    assert.deepStrictEqual(merged.rows.map((r) => [r.ord, r.aggregate_id, r.traceparent]), [
      [0, id(1), `trace-${id(1)}`],
      [1, id(2), `trace-${id(2)}`],
      [2, id(3), `trace-${id(3)}`]
    ])
    assert.deepStrictEqual(merged.canonical.map((c) => [c.id, c.entry]), [[id(1), 0], [id(2), 2], [id(4), null]])
    assert.deepStrictEqual([...merged.guard.ids].sort(), [id(1), project, id(2), id(3)].sort())
    assert.deepStrictEqual(merged.guard.projects, [])
    assert.deepStrictEqual(merged.guard.expected, [liveProject])
  })
})
