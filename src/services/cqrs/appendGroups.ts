/**
 * Group commit of checked appends (issue 16, goal 2). Single commands that arrive while others are being
 * written share ONE call of `cogo.append_project_updates` when that call is equivalent to running them one
 * after the other: their guards merge into one (every id read, with what each command expected of it) and
 * their outbox rows into one list. Pure: which appends may share a call, and the merged call's input.
 *
 * Two appends may share a call only when
 * - neither reads a whole project (a cascade guard: `projects` is not empty), since a project read is not a
 *   per-id read and could see the other's entities;
 * - neither writes an entity the other reads or writes: the merged guard is checked before any write, so a
 *   command that read page P must not share a call with the command that deletes P;
 * - what both read of a shared id (e.g. the project of two pages) is the same, so the merged guard holds
 *   exactly when each command's own guard holds.
 * Then the merged call writes all or nothing: when its guard fails or it errs, the caller writes each append
 * alone, and each gets its own answer.
 */
import type { CanonicalRow, EntityRead } from "../../domain/cqrs/EntityCommand.ts"

/** One outbox row as `cogo.append_project_updates` takes it (`ord`: its place in the call). */
export interface UpdateRow {
  readonly ord: number
  readonly aggregate_type: string
  readonly aggregate_id: string
  readonly project_id: string
  readonly update_type: string
  readonly schema_version: number
  readonly payload: unknown
  readonly base_version: number | null
  readonly traceparent: string | null
}

/** What a writer validated against: `cogo.command_reads(ids, projects)` as it read (or remembered) it. */
export interface ReadGuard {
  readonly ids: ReadonlyArray<string>
  readonly projects: ReadonlyArray<string>
  readonly expected: ReadonlyArray<EntityRead>
}

export interface CheckedAppend {
  /** Numbered from 0; canonical rows' `entry` points into them. */
  readonly rows: ReadonlyArray<UpdateRow>
  readonly canonical: ReadonlyArray<CanonicalRow>
  readonly guard: ReadGuard
}

/** The guard's rows as `cogo.append_project_updates` compares them: arrays ordered by id, then kind. */
export const expectedJson = (rows: ReadonlyArray<EntityRead>): string =>
  JSON.stringify(
    rows.map((r) => [r.entity_type, r.id, r.project_id, r.deleted, r.page_id] as const)
      .sort((a, b) => a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
  )

/** What the append expects of each id it reads (no rows: expected absent). */
const expectationsOf = (guard: ReadGuard): Map<string, string> =>
  new Map(guard.ids.map((id) => [id, expectedJson(guard.expected.filter((row) => row.id === id))]))

interface Group<A> {
  readonly members: Array<A>
  readonly written: Set<string>
  readonly expectations: Map<string, string>
  rows: number
}

const joins = <A extends CheckedAppend>(group: Group<A>, append: A, written: ReadonlyArray<string>, expectations: Map<string, string>, maxRows: number) =>
  group.rows + append.rows.length <= maxRows &&
  written.every((id) => !group.written.has(id) && !group.expectations.has(id)) &&
  [...expectations].every(([id, expected]) => !group.written.has(id) && (group.expectations.get(id) ?? expected) === expected)

/**
 * Splits appends into groups that may each share one call (first fit, in arrival order), at most `maxRows`
 * outbox rows per group (the call takes one advisory lock per aggregate).
 */
export const groupAppends = <A extends CheckedAppend>(appends: ReadonlyArray<A>, maxRows: number): Array<ReadonlyArray<A>> => {
  const groups: Array<Group<A>> = []
  const alone: Array<ReadonlyArray<A>> = []
  for (const append of appends) {
    if (append.guard.projects.length > 0) {
      alone.push([append])
      continue
    }
    const written = [...append.rows.map((row) => row.aggregate_id), ...append.canonical.map((row) => row.id)]
    const expectations = expectationsOf(append.guard)
    const group = groups.find((g) => joins(g, append, written, expectations, maxRows))
    if (group === undefined) {
      groups.push({ members: [append], written: new Set(written), expectations, rows: append.rows.length })
      continue
    }
    group.members.push(append)
    for (const id of written) group.written.add(id)
    for (const [id, expected] of expectations) group.expectations.set(id, expected)
    group.rows += append.rows.length
  }
  return [...groups.map((g) => g.members), ...alone]
}

/** The one call that writes a group: rows renumbered in order, canonical entries moved along, guards merged. */
export const mergeAppends = (appends: ReadonlyArray<CheckedAppend>): CheckedAppend => {
  const rows: Array<UpdateRow> = []
  const canonical: Array<CanonicalRow> = []
  const ids = new Set<string>()
  const expected = new Map<string, EntityRead>()
  for (const append of appends) {
    const offset = rows.length
    for (const row of append.rows) rows.push({ ...row, ord: row.ord + offset })
    for (const row of append.canonical) canonical.push({ ...row, entry: row.entry === null ? null : row.entry + offset })
    for (const id of append.guard.ids) ids.add(id)
    for (const row of append.guard.expected) expected.set(`${row.entity_type}:${row.id}`, row)
  }
  return { rows, canonical, guard: { ids: [...ids], projects: [], expected: [...expected.values()] } }
}
