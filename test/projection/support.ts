/**
 * Shared pieces of the projection tests: the service layers over a test database, a seeded workload of
 * project commands, a snapshot of `public.*` content, and the reference model (updates applied one by one
 * in memory, with the cascades of the public schema) that the projection must equal.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Result } from "effect"
import { decodeStoredUpdate, type EntityKind, isUpsert, type ProjectUpdate } from "../../src/domain/cqrs/ProjectUpdate.ts"
import { ProjectionAdmin } from "../../src/projection/ProjectionAdmin.ts"
import { type ApplierConfig, ProjectionApplier } from "../../src/projection/Applier.ts"
import { entityTables } from "../../src/projection/Projectors.ts"
import { ProjectionWorker, type WorkerConfig } from "../../src/projection/ProjectionWorker.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { Notifications } from "../../src/services/platform/Notifications.ts"
import { Outbox } from "../../src/services/cqrs/Outbox.ts"
import { type EntityCommand, ProjectCommands } from "../../src/services/cqrs/ProjectCommands.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"

export const testApplierConfig: ApplierConfig = {
  batchSize: 500,
  projectsPerBatch: 8,
  maxAttempts: 3,
  retryBaseMillis: 10,
  retryCapMillis: 40
}

export const manualWorker: WorkerConfig = { enabled: false, concurrency: 1, pollMillis: 100, lagSampleMillis: 1000 }

/** Database + platform + outbox + commands + projection services; the worker fibers only when asked. */
export const projectionLayer = (options: { readonly worker?: WorkerConfig; readonly applier?: ApplierConfig; readonly env?: Record<string, string> } = {}) => {
  const applier = ProjectionApplier.layerWith(options.applier ?? testApplierConfig)
  const projection = Layer.mergeAll(
    ProjectionWorker.layerWith(options.worker ?? manualWorker),
    ProjectionAdmin.layer
  ).pipe(Layer.provideMerge(applier))
  return Layer.mergeAll(projection, ProjectCommands.layer).pipe(
    Layer.provideMerge(Outbox.layer),
    Layer.provideMerge(EventBus.layer),
    Layer.provideMerge(Notifications.layer),
    Layer.provideMerge(TestDatabaseLive(options.env))
  )
}

/** Deterministic pseudo-random numbers (mulberry32). */
export const seeded = (seed: number) => {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A deterministic uuid from a number (readable in failures). */
export const uuidOf = (n: number, prefix = 0) =>
  `${prefix.toString(16).padStart(8, "0")}-0000-4000-8000-${n.toString(16).padStart(12, "0")}`

/**
 * `count` commands over `projects` projects: projects first, then upserts of every kind (new and
 * repeated), links of pages, symbols of components, and deletes of pages and components. Every command is
 * valid against the state the previous ones leave, so the batch can be written in any chunking.
 */
export const workload = (options: { readonly projects: number; readonly count: number; readonly seed: number; readonly idPrefix?: number }) => {
  const random = seeded(options.seed)
  const pick = <A>(items: ReadonlyArray<A>): A | undefined => items.length === 0 ? undefined : items[Math.floor(random() * items.length)]
  const prefix = options.idPrefix ?? 1
  let next = 1
  const fresh = () => uuidOf(next++, prefix)
  const commands: Array<EntityCommand> = []
  const projectIds: Array<string> = []
  const live = new Map<string, { pages: Array<string>; components: Array<string>; linked: Set<string> }>()
  for (let p = 0; p < options.projects; p++) {
    const id = fresh()
    projectIds.push(id)
    live.set(id, { pages: [], components: [], linked: new Set() })
    commands.push({ _tag: "upsert", kind: "project", state: { id, name: `project ${p}`, description: null, ownerId: uuidOf(p + 1, 0xaa), settings: { p } } })
  }
  while (commands.length < options.count) {
    const projectId = pick(projectIds)!
    const project = live.get(projectId)!
    const roll = random()
    const n = commands.length
    if (roll < 0.05) {
      commands.push({ _tag: "upsert", kind: "project", state: { id: projectId, name: `project renamed ${n}`, description: `d${n}`, ownerId: uuidOf(1, 0xaa), settings: { n } } })
    } else if (roll < 0.3) {
      const id = random() < 0.5 ? pick(project.pages) ?? fresh() : fresh()
      if (!project.pages.includes(id)) project.pages.push(id)
      commands.push({ _tag: "upsert", kind: "page", state: { id, projectId, name: `page ${n}`, route: `/p${n}`, definition: { n, nodes: [n, n + 1] } } })
    } else if (roll < 0.45) {
      const id = random() < 0.5 ? pick(project.components) ?? fresh() : fresh()
      if (!project.components.includes(id)) project.components.push(id)
      commands.push({ _tag: "upsert", kind: "component", state: { id, projectId, name: `component ${n}`, kind: "component", definition: { n }, properties: { size: n % 7 } } })
    } else if (roll < 0.55) {
      // public.project_pages is unique per (project, page): link each live page at most once.
      const pageId = pick(project.pages.filter((page) => !project.linked.has(page)))
      if (pageId === undefined) continue
      project.linked.add(pageId)
      const id = fresh()
      commands.push({ _tag: "upsert", kind: "project_page", state: { id, projectId, pageId, position: n % 13, isHome: n % 5 === 0 } })
    } else if (roll < 0.63) {
      const componentId = pick(project.components) ?? null
      const id = fresh()
      commands.push({ _tag: "upsert", kind: "symbol", state: { id, projectId, name: `symbol ${n}`, componentId, definition: { n } } })
    } else if (roll < 0.71) {
      const id = fresh()
      commands.push({ _tag: "upsert", kind: "theme", state: { id, projectId, name: `theme ${n}`, tokens: { color: `#${(n % 4096).toString(16)}` }, isDefault: n % 2 === 0 } })
    } else if (roll < 0.79) {
      const id = fresh()
      commands.push({
        _tag: "upsert", kind: "asset",
        state: { id, projectId, name: `asset ${n}`, kind: "image", mimeType: "image/png", url: `https://cdn.example/${n}.png`, sizeBytes: n * 10, contentHash: `h${n}`, metadata: {} }
      })
    } else if (roll < 0.87) {
      const id = fresh()
      commands.push({ _tag: "upsert", kind: "action_flow", state: { id, projectId, name: `flow ${n}`, trigger: { on: "tap" }, definition: { steps: n % 3 } } })
    } else if (roll < 0.94) {
      const pageId = pick(project.pages)
      if (pageId === undefined) continue
      project.pages.splice(project.pages.indexOf(pageId), 1)
      project.linked.delete(pageId)
      commands.push({ _tag: "delete", kind: "page", id: pageId })
    } else {
      const componentId = pick(project.components)
      if (componentId === undefined) continue
      project.components.splice(project.components.indexOf(componentId), 1)
      commands.push({ _tag: "delete", kind: "component", id: componentId })
    }
  }
  return { commands, projectIds }
}

export type Snapshot = Record<string, Record<string, Record<string, unknown>>>

const contentColumns = (kind: EntityKind) => ["project_id", ...entityTables[kind].columns.map((c) => c.column)].filter((v, i, a) => a.indexOf(v) === i)

/** The content of every public table (no versions or timestamps), keyed by table then id. */
export const publicSnapshot = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const snapshot: Snapshot = {}
  for (const kind of Object.keys(entityTables) as ReadonlyArray<EntityKind>) {
    const columns = kind === "project" ? entityTables[kind].columns.map((c) => c.column) : contentColumns(kind)
    const rows = yield* sql.unsafe<Record<string, unknown>>(`SELECT id, ${columns.join(", ")} FROM ${entityTables[kind].table} ORDER BY id`)
    snapshot[kind] = Object.fromEntries(rows.map(({ id, ...rest }) => [String(id), normalize(rest)]))
  }
  return snapshot
})

const normalize = (row: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : typeof v === "string" && /^\d+$/.test(v) && k === "size_bytes" ? Number(v) : v]))

/** Reference: every outbox update, in id order, applied one at a time to an in-memory copy of `public.*`. */
export const sequentialModel = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const rows = yield* sql<{ update_type: string; schema_version: number; payload: unknown; status: string }>`
    SELECT update_type, schema_version, payload, status FROM cogo.project_updates ORDER BY id`
  const model: Snapshot = Object.fromEntries(Object.keys(entityTables).map((kind) => [kind, {}]))
  for (const row of rows) {
    const decoded = decodeStoredUpdate({ updateType: row.update_type, schemaVersion: row.schema_version, payload: row.payload })
    if (Result.isFailure(decoded)) continue
    applyToModel(model, decoded.success)
  }
  return model
})

export const applyToModel = (model: Snapshot, update: ProjectUpdate) => {
  const kind = update._tag.slice(0, update._tag.lastIndexOf(".")) as EntityKind
  const table = model[kind]!
  if (isUpsert(update)) {
    const state = update.state as unknown as Record<string, unknown>
    const row: Record<string, unknown> = {}
    if (kind !== "project") row["project_id"] = state["projectId"]
    for (const col of entityTables[kind].columns) row[col.column] = state[col.field] ?? null
    table[String(state["id"])] = row
    return
  }
  const id = (update as { readonly id: string }).id
  delete table[id]
  if (kind === "project") {
    for (const child of Object.keys(model) as ReadonlyArray<EntityKind>) {
      if (child === "project") continue
      for (const [childId, row] of Object.entries(model[child]!)) if (row["project_id"] === id) delete model[child]![childId]
    }
  }
  if (kind === "page") {
    for (const [linkId, row] of Object.entries(model["project_page"]!)) if (row["page_id"] === id) delete model["project_page"]![linkId]
  }
  if (kind === "component") {
    for (const row of Object.values(model["symbol"]!)) if (row["component_id"] === id) row["component_id"] = null
  }
}

/** Outbox statuses by count, and the number of updates applied more than once (must be 0). */
export const outboxStatusCounts = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const rows = yield* sql<{ status: string; n: string }>`SELECT status, count(*) AS n FROM cogo.project_updates GROUP BY status`
  return Object.fromEntries(rows.map((row) => [row.status, Number(row.n)])) as Record<string, number>
})

/**
 * Outbox rows whose entry in `cogo.project_updates_open` (migration 0023) disagrees with their status: an
 * entry exactly while pending (dead = false, same next_attempt_at) or dead (dead = true). Must be 0.
 */
export const openRowsOutOfStep = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const [row] = yield* sql<{ n: string }>`
    SELECT count(*) AS n FROM cogo.project_updates u
    FULL JOIN cogo.project_updates_open o ON o.id = u.id AND o.project_id = u.project_id
    WHERE CASE
      WHEN u.id IS NULL THEN true
      WHEN u.status = 'pending' THEN o.id IS NULL OR o.dead OR o.next_attempt_at IS DISTINCT FROM u.next_attempt_at
      WHEN u.status = 'dead' THEN o.id IS NULL OR NOT o.dead
      ELSE o.id IS NOT NULL END`
  return Number(row!.n)
})

export const writeInChunks = (commands: ReadonlyArray<EntityCommand>, chunk: number) =>
  Effect.gen(function*() {
    const projectCommands = yield* ProjectCommands
    for (let i = 0; i < commands.length; i += chunk) yield* projectCommands.write(commands.slice(i, i + chunk))
  })
