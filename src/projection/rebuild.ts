/**
 * Rebuilding one project's `public.*` rows from its applied updates (see docs/projection.md, "Rebuild"),
 * holding the project's lock: deletes the project's entity rows (the project row and its members stay) and
 * projection state, then replays through the batch code, without conflict checks or status changes.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect } from "effect"
import { applyRows, loadAppliedStates } from "./apply.ts"
import { projectionStateUpsert } from "./bookkeeping.ts"
import { publishAll } from "./busEvents.ts"
import { appliedRowsAfter, lockProject } from "./claim.ts"
import { asProjector } from "./client.ts"
import { applyOrder, entityTables } from "./Projectors.ts"

/** One transaction under the projector role; `pageSize` updates per replayed batch. */
export const rebuildProject = Effect.fn("Projection.rebuildProject")(function*(sql: PgClient.PgClient, projectId: string, pageSize: number) {
  return yield* asProjector(sql, replay(sql, projectId, pageSize))
})

const replay = (sql: PgClient.PgClient, projectId: string, pageSize: number) => Effect.gen(function*() {
  yield* lockProject(sql, projectId)
  // The project row itself stays (its members are not projected state); replay overwrites it, or deletes
  // it when its last update did. Children go, links and symbols first.
  for (const kind of [...applyOrder].reverse()) {
    if (kind !== "project") yield* sql.unsafe(`DELETE FROM ${entityTables[kind].table} WHERE project_id = $1`, [projectId])
  }
  yield* sql`DELETE FROM cogo.projection_state WHERE project_id = ${projectId}`
  let replayed = 0
  let afterId = 0
  while (true) {
    const rows = yield* appliedRowsAfter(sql, projectId, afterId, pageSize)
    if (rows.length === 0) break
    const { state } = yield* applyRows(sql, { rows, states: yield* loadAppliedStates(sql, rows), current: new Map() }, { mode: "set", replay: true })
    // The next page's replay reads this state (applied seqs).
    if (state.length > 0) yield* projectionStateUpsert(sql, state)
    replayed += rows.length
    afterId = rows[rows.length - 1]!.id
  }
  yield* publishAll(sql, [{ topic: "project", kind: "projection.rebuilt", projectId, payload: { replayed } }])
  return { replayed }
})
