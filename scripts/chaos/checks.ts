/**
 * What the chaos run counts once the load has stopped and the system is quiet, from the database:
 * jobs lost/doubled, outbox updates lost/doubled, IDE writes lost/doubled and realtime ids missed/duplicated.
 */
import { query } from "./cluster.ts"
import type { EditLog, ImportLog, Subscriber } from "./load.ts"

export interface Losses {
  readonly jobsLost: number
  readonly jobsDoubled: number
  readonly outboxLost: number
  readonly outboxDoubled: number
  readonly editsLost: number
  readonly editsDoubled: number
  readonly eventsMissed: number
  readonly eventsDuplicated: number
}

/**
 * Every accepted import ends `succeeded` exactly once (its streamed `succeeded` bus events: the audit trail
 * derives that event from the job row); no job exists that the client did not ask for twice.
 */
const jobLosses = async (url: string, imports: ImportLog) => {
  const rows = await query<{ id: string; state: string; idempotency_key: string | null; succeeded: string }>(url, `
    SELECT j.id, j.state, j.idempotency_key,
      (SELECT count(*) FROM cogo.bus_events e WHERE e.job_id = j.id AND e.topic = 'job' AND e.kind = 'succeeded') AS succeeded
    FROM cogo.jobs j WHERE j.kind = 'figma.import'`)
  const byId = new Map(rows.map((r) => [r.id, r]))
  let lost = 0
  for (const jobId of imports.accepted.values()) if (byId.get(jobId)?.state !== "succeeded") lost++
  const doubled = rows.filter((r) => Number(r.succeeded) > 1).length +
    rows.filter((r) => r.idempotency_key !== null && imports.accepted.get(r.idempotency_key) !== undefined &&
      imports.accepted.get(r.idempotency_key) !== r.id).length
  return { lost, doubled, unfinished: rows.filter((r) => r.state !== "succeeded").map((r) => `${r.id} (${r.state})`) }
}

/**
 * Outbox: nothing left pending or dead; every aggregate's last update is the one its projection state says
 * was applied, and a projected aggregate has its public row. Doubled: an aggregate whose projection state is
 * ahead of its own updates (applied twice), or more applied updates than sequence numbers.
 */
const outboxLosses = async (url: string, projects: ReadonlyArray<string>) => {
  const list = projects.map((p) => `'${p}'`).join(",")
  const [row] = await query<{ stuck: string; behind: string; ahead: string; missing: string }>(url, `
    WITH last AS (
      SELECT aggregate_type, aggregate_id, max(seq) AS seq FROM cogo.project_updates
      WHERE project_id IN (${list}) GROUP BY 1, 2)
    SELECT
      (SELECT count(*) FROM cogo.project_updates WHERE project_id IN (${list}) AND status IN ('pending', 'dead')) AS stuck,
      (SELECT count(*) FROM last l LEFT JOIN cogo.projection_state s USING (aggregate_type, aggregate_id)
        WHERE s.applied_seq IS NULL OR s.applied_seq < l.seq) AS behind,
      (SELECT count(*) FROM last l JOIN cogo.projection_state s USING (aggregate_type, aggregate_id) WHERE s.applied_seq > l.seq) AS ahead,
      (SELECT count(*) FROM cogo.projection_state s WHERE s.project_id IN (${list}) AND s.projected AND s.aggregate_type = 'component'
        AND NOT EXISTS (SELECT 1 FROM public.components c WHERE c.id = s.aggregate_id)) AS missing`)
  return { lost: Number(row!.stuck) + Number(row!.behind) + Number(row!.missing), doubled: Number(row!.ahead) }
}

/**
 * The project's final version is 1 + the writes the IDE saw applied + the project updates the projection
 * applied to it (an import also upserts its project): one more is a write applied twice, one fewer a lost one.
 */
const editLosses = async (url: string, edits: ReadonlyMap<string, EditLog>, details: Array<string>) => {
  let lost = 0
  let doubled = 0
  for (const [projectId, log] of edits) {
    const [row] = await query<{ version: string; projected: string }>(url, `
      SELECT p.version, (SELECT count(*) FROM cogo.project_updates u
        WHERE u.aggregate_type = 'project' AND u.aggregate_id = p.id AND u.status = 'applied') AS projected
      FROM public.projects p WHERE p.id = '${projectId}'`)
    const extra = Number(row!.version) - 1 - log.applied.length - Number(row!.projected)
    if (extra > 0) doubled += extra
    if (extra < 0) lost -= extra
    if (extra !== 0) details.push(`project ${projectId}: version ${row!.version}, IDE writes seen applied ${log.applied.length} (${log.ambiguous} ambiguous), project updates applied ${row!.projected}`)
  }
  return { lost, doubled }
}

/** Each subscriber got every bus event of its project after its start, once, in order. */
const eventLosses = async (url: string, subscribers: ReadonlyArray<Subscriber>) => {
  let missed = 0
  let duplicated = 0
  for (const sub of subscribers) {
    const rows = await query<{ id: string }>(url, `SELECT id FROM cogo.bus_events WHERE project_id = '${sub.projectId}' AND id > ${sub.since} ORDER BY id`)
    const got = new Set(sub.received)
    duplicated += sub.received.length - got.size
    for (const r of rows) if (!got.has(Number(r.id))) missed++
  }
  return { missed, duplicated }
}

/** The id up to which each subscriber must have caught up. */
export const lastEventIds = (url: string, projects: ReadonlyArray<string>) =>
  query<{ project_id: string; id: string }>(url, `SELECT project_id, max(id) AS id FROM cogo.bus_events WHERE project_id IN (${projects.map((p) => `'${p}'`).join(",")}) GROUP BY 1`)

/** Jobs of the run still not finished (the run waits for none). */
export const unfinishedImports = async (url: string) =>
  Number((await query<{ n: string }>(url, `SELECT count(*) AS n FROM cogo.jobs WHERE kind = 'figma.import' AND state IN ('queued', 'running')`))[0]!.n) +
  Number((await query<{ n: string }>(url, `SELECT count(*) AS n FROM cogo.project_updates WHERE status = 'pending'`))[0]!.n)

export const losses = async (url: string, imports: ImportLog, projects: ReadonlyArray<string>, edits: ReadonlyMap<string, EditLog>, subscribers: ReadonlyArray<Subscriber>) => {
  const jobs = await jobLosses(url, imports)
  const outbox = await outboxLosses(url, projects)
  const details: Array<string> = []
  const ide = await editLosses(url, edits, details)
  const events = await eventLosses(url, subscribers)
  const result: Losses = {
    jobsLost: jobs.lost, jobsDoubled: jobs.doubled, outboxLost: outbox.lost, outboxDoubled: outbox.doubled,
    editsLost: ide.lost, editsDoubled: ide.doubled, eventsMissed: events.missed, eventsDuplicated: events.duplicated
  }
  return { losses: result, details: [...details, ...jobs.unfinished.map((j) => `import job not succeeded: ${j}`)] }
}
