/**
 * The indexing agent: chunks documents (project content, component definitions, uploaded text), embeds the
 * chunks in batches (cached by content hash in `cogo.caches`, so unchanged text is never embedded twice),
 * and upserts them into `cogo.vectors` (pgvector, HNSW, cosine). `search` returns the top-k chunks of one
 * scope for a query in one statement (`cogo.search_vectors`, migrations 0018 and 0026: exact below
 * VECTOR_EXACT_BELOW rows; below VECTOR_BINARY_BELOW rows, the VECTOR_RERANK best rows by sign bits re-ranked
 * in full precision; HNSW for a larger scope). Registers the job kind "index.documents".
 *
 * Scopes never mix: a project's vectors, one user's own vectors (indexed without a project; `owner_id`), and
 * platform-wide ones (no project, no owner: operators and jobs). The same source id in two scopes is two
 * sets of rows, so one user can neither overwrite nor read another's.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Effect, Layer, Metric } from "effect"
import { toSql } from "pgvector"
import type { SqlError } from "effect/sql/SqlError"
import { createHash } from "node:crypto"
import { type AgentError, StorageFailed } from "../../domain/agents/AgentError.ts"
import { type IndexDocumentInput, IndexDocumentsPayload, IndexProjectPayload, JobKinds } from "../../domain/jobs/Job.ts"
import { chunkText } from "../../domain/agents/TextFeatures.ts"
import { Database, DbRole } from "../platform/Database.ts"
import { Embeddings } from "./Embeddings.ts"
import { Orchestrator } from "../jobs/Orchestrator.ts"

export interface IndexReport {
  readonly documents: number
  readonly chunks: number
  /** Chunks whose embedding came from `cogo.caches` or was already stored, not from the provider. */
  readonly cached: number
  /** Stale chunks removed (a document that got shorter). */
  readonly removed: number
}

export interface SearchHit {
  readonly sourceType: string
  readonly sourceId: string
  readonly chunkIndex: number
  readonly content: string
  /** Cosine similarity in [-1, 1]; higher is closer. */
  readonly score: number
  readonly metadata: unknown
}

/** Whose vectors: a project's (its id), one user's own (`{ ownerId }`, no project), or platform-wide (null). */
export type VectorScope = string | null | { readonly ownerId: string }

/** The scope of a request or job: a project when given, else the owner's own vectors, else platform-wide. */
export const vectorScope = (projectId: string | null, ownerId: string | null | undefined): VectorScope =>
  projectId !== null ? projectId : ownerId === null || ownerId === undefined || ownerId === "" ? null : { ownerId }

/** pgvector's text form of a vector (`[1,2,3]`), for a `::vector` parameter. */
const vectorLiteral: (vector: ReadonlyArray<number>) => string = toSql

const scopeColumns = (scope: VectorScope) =>
  typeof scope === "string" || scope === null ? { projectId: scope, ownerId: null } : { projectId: null, ownerId: scope.ownerId }

/**
 * Searches by plan: "exact" (below VECTOR_EXACT_BELOW rows, every distance computed), "binary" (below
 * VECTOR_BINARY_BELOW rows: preselection by sign bits, full-precision re-rank), "hnsw" (the approximate
 * index), "empty".
 */
export const vectorSearches = Metric.counter("cogo_vector_searches_total", {
  description: "Vector searches, by plan (exact below VECTOR_EXACT_BELOW rows, binary below VECTOR_BINARY_BELOW rows, else hnsw)",
  incremental: true
})

interface SearchRow {
  readonly source_type: string
  readonly source_id: string
  readonly chunk_index: number
  readonly content: string
  readonly metadata: unknown
  readonly score: number
  readonly plan: "exact" | "binary" | "hnsw"
}

export const embeddingsComputed = Metric.counter("cogo_embeddings_total", {
  description: "Chunk embeddings needed by indexing, by where they came from (provider or cache)",
  incremental: true
})

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

/** The readable leaves of a JSON document as "path: value" lines (keys carry meaning: label, text, color...). */
export const jsonText = (value: unknown, maxLines = 2000): ReadonlyArray<string> => {
  const lines: Array<string> = []
  const walk = (node: unknown, path: string) => {
    if (lines.length >= maxLines || node === null || node === undefined) return
    if (typeof node === "string" || typeof node === "number" || typeof node === "boolean") {
      if (typeof node !== "string" || node.trim().length > 0) lines.push(path === "" ? String(node) : `${path}: ${String(node)}`)
      return
    }
    if (Array.isArray(node)) return node.forEach((item) => walk(item, path))
    if (typeof node === "object") {
      for (const [key, child] of Object.entries(node)) {
        if (!/^(id|.*Id|.*_id)$/.test(key)) walk(child, key)
      }
    }
  }
  walk(value, "")
  return lines.filter((line) => line.length > 0)
}

/** Storage errors become a retryable typed agent error (the job retries; the message keeps the cause). */
export const storageFailed = (operation: string) => (error: SqlError) =>
  new StorageFailed({ operation, message: error.message })

export class IndexingAgent extends Context.Service<IndexingAgent, {
  /** Indexes documents into `scope`. Re-indexing unchanged text embeds nothing. */
  readonly index: (scope: VectorScope, documents: ReadonlyArray<IndexDocumentInput>) => Effect.Effect<IndexReport, AgentError>
  /** Top-`k` chunks of `scope` by cosine similarity to `query`. */
  readonly search: (scope: VectorScope, query: string, k: number) => Effect.Effect<ReadonlyArray<SearchHit>, AgentError>
  /** Removes every chunk of one source of `scope`. */
  readonly remove: (scope: VectorScope, sourceType: string, sourceId: string) => Effect.Effect<number, AgentError>
  /**
   * Indexes a project's content as it is in `public.*` (the project, pages, components, action flows, as
   * text), and drops the vectors of entities that no longer exist.
   */
  readonly indexProject: (projectId: string) => Effect.Effect<IndexReport, AgentError>
}>()("cogo/IndexingAgent") {
  static readonly layer = Layer.effect(IndexingAgent, Effect.suspend(() => makeIndexingAgent))

  /** The "index.documents" and "index.project" job kinds (merged with the other kinds in src/layers). */
  static readonly jobs = [
    Orchestrator.handler({
      kind: JobKinds.indexDocuments,
      payload: IndexDocumentsPayload,
      concurrency: 2,
      timeout: "10 minutes",
      run: (payload, job) =>
        Effect.flatMap(Effect.service(IndexingAgent), (indexing) =>
          Effect.tap(indexing.index(vectorScope(payload.projectId, payload.ownerId), payload.documents), (report) => job.progress({ indexed: report })))
    }),
    Orchestrator.handler({
      kind: JobKinds.indexProject,
      payload: IndexProjectPayload,
      concurrency: 1,
      timeout: "10 minutes",
      run: (payload, job) =>
        Effect.flatMap(Effect.service(IndexingAgent), (indexing) =>
          Effect.tap(indexing.indexProject(payload.projectId), (report) => job.progress({ indexed: report })))
    })
  ] as const
}

const makeIndexingAgent = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const db = yield* Database
  const embeddings = yield* Embeddings
  const chunkChars = yield* Config.Int("INDEX_CHUNK_CHARS").pipe(Config.withDefault(800))
  const overlapChars = yield* Config.Int("INDEX_CHUNK_OVERLAP").pipe(Config.withDefault(120))
  // HNSW candidate list per search; chosen from `npm run bench -- vectors` (BENCHMARKS.md, "Performance (issue 16)").
  const efSearch = yield* Config.Int("VECTOR_EF_SEARCH").pipe(Config.withDefault(100))
  // A scope below VECTOR_BINARY_BELOW rows is not searched with HNSW (a filtered graph scan misses a small
  // scope's neighbours): below VECTOR_EXACT_BELOW rows exactly (every distance: cheapest there), else by its
  // VECTOR_RERANK best rows by sign bits, re-ranked in full precision. All chosen from the same bench.
  const exactBelow = yield* Config.Int("VECTOR_EXACT_BELOW").pipe(Config.withDefault(5_000))
  const binaryBelow = yield* Config.Int("VECTOR_BINARY_BELOW").pipe(Config.withDefault(20_000))
  const rerank = yield* Config.Int("VECTOR_RERANK").pipe(Config.withDefault(400))
  const namespace = `embedding:${embeddings.model}`
  const scopeFilter = (scope: VectorScope, table = "cogo.vectors") => {
    const { projectId, ownerId } = scopeColumns(scope)
    const column = (name: string) => sql.unsafe(`${table}.${name}`)
    return projectId !== null
      ? sql`${column("project_id")} = ${projectId}`
      : ownerId === null
      ? sql`${column("project_id")} IS NULL AND ${column("owner_id")} IS NULL`
      : sql`${column("project_id")} IS NULL AND ${column("owner_id")} = ${ownerId}`
  }

  const index = Effect.fn("IndexingAgent.index")(function*(scope: VectorScope, documents: ReadonlyArray<IndexDocumentInput>) {
    const { projectId, ownerId } = scopeColumns(scope)
    const chunks = documents.flatMap((doc) =>
      chunkText(doc.text, chunkChars, overlapChars).map((content, chunkIndex) => ({
        source_type: doc.sourceType,
        source_id: doc.sourceId,
        chunk_index: chunkIndex,
        content,
        content_hash: sha256(content),
        metadata: doc.metadata ?? {}
      }))
    )
    const hashes = Array.from(new Set(chunks.map((c) => c.content_hash)))
    const cachedRows = hashes.length === 0 ? [] : yield* sql<{ readonly key: string; readonly value: ReadonlyArray<number> }>`
      SELECT key, value FROM cogo.caches
      WHERE namespace = ${namespace} AND key = ANY(ARRAY(SELECT jsonb_array_elements_text(${JSON.stringify(hashes)}::jsonb)))`.pipe(
      Effect.mapError(storageFailed("read embedding cache"))
    )
    const known = new Map(cachedRows.map((row) => [row.key, row.value]))
    const missing = hashes.filter((hash) => !known.has(hash))
    const contentByHash = new Map(chunks.map((c) => [c.content_hash, c.content]))
    const fresh = yield* embeddings.embed(missing.map((hash) => contentByHash.get(hash)!))
    missing.forEach((hash, i) => known.set(hash, fresh[i]!))
    yield* Metric.update(Metric.withAttributes(embeddingsComputed, { source: "provider" }), missing.length)
    yield* Metric.update(Metric.withAttributes(embeddingsComputed, { source: "cache" }), hashes.length - missing.length)

    const rows = chunks.map((c) => ({ ...c, embedding: vectorLiteral(known.get(c.content_hash)!) }))
    const cacheRows = missing.map((hash) => ({ key: hash, value: known.get(hash) }))
    const sources = documents.map((doc) => ({
      source_type: doc.sourceType,
      source_id: doc.sourceId,
      chunks: rows.filter((r) => r.source_type === doc.sourceType && r.source_id === doc.sourceId).length
    }))
    const removed = yield* db.withRole(DbRole.agent, Effect.gen(function*() {
      if (cacheRows.length > 0) {
        yield* sql`
          INSERT INTO cogo.caches (namespace, key, value)
          SELECT ${namespace}, key, value FROM jsonb_to_recordset(${JSON.stringify(cacheRows)}::jsonb) AS x(key text, value jsonb)
          ON CONFLICT (namespace, key) DO NOTHING`
      }
      if (rows.length > 0) {
        yield* sql`
          INSERT INTO cogo.vectors (project_id, owner_id, source_type, source_id, chunk_index, content, content_hash, embedding, model, metadata)
          SELECT ${projectId}::uuid, ${ownerId}::uuid, source_type, source_id, chunk_index, content, content_hash, embedding::vector, ${embeddings.model}, metadata
          FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS x(
            source_type text, source_id text, chunk_index int, content text, content_hash text, embedding text, metadata jsonb)
          ON CONFLICT ((coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid)),
                       (coalesce(owner_id, '00000000-0000-0000-0000-000000000000'::uuid)), source_type, source_id, chunk_index)
          DO UPDATE SET content = excluded.content, content_hash = excluded.content_hash, embedding = excluded.embedding,
                        model = excluded.model, metadata = excluded.metadata, updated_at = now()
          WHERE cogo.vectors.content_hash IS DISTINCT FROM excluded.content_hash OR cogo.vectors.model <> excluded.model
             OR cogo.vectors.metadata IS DISTINCT FROM excluded.metadata`
      }
      // Chunks past a document's new end belong to an older, longer version.
      const deleted = yield* sql<{ readonly n: string }>`
        WITH gone AS (
          DELETE FROM cogo.vectors v
          USING jsonb_to_recordset(${JSON.stringify(sources)}::jsonb) AS x(source_type text, source_id text, chunks int)
          WHERE ${scopeFilter(scope, "v")}
            AND v.source_type = x.source_type AND v.source_id = x.source_id AND v.chunk_index >= x.chunks
          RETURNING 1
        ) SELECT count(*) AS n FROM gone`
      return Number(deleted[0]?.n ?? 0)
    })).pipe(Effect.mapError(storageFailed("upsert vectors")))
    return { documents: documents.length, chunks: chunks.length, cached: chunks.length - missing.length, removed } satisfies IndexReport
  })

  const search = Effect.fn("IndexingAgent.search")(function*(scope: VectorScope, query: string, k: number) {
    const [vector] = yield* embeddings.embed([query])
    const { projectId, ownerId } = scopeColumns(scope)
    const limit = Math.max(1, Math.min(100, Math.floor(k)))
    // One statement, one round trip: the function runs as the agent role and chooses the plan (migration 0026).
    const rows = yield* sql<SearchRow>`
      SELECT source_type, source_id, chunk_index, content, metadata, score, plan
      FROM cogo.search_vectors(${projectId}::uuid, ${ownerId}::uuid, ${embeddings.model}, ${vectorLiteral(vector!)}::vector,
                               ${limit}, ${Math.max(efSearch, limit * 4)}, ${exactBelow}, ${binaryBelow}, ${rerank})`.pipe(Effect.mapError(storageFailed("vector search")))
    const plan = rows[0]?.plan ?? "empty"
    yield* Metric.update(Metric.withAttributes(vectorSearches, { plan }), 1)
    return rows
      .map((row): SearchHit => ({
        sourceType: row.source_type,
        sourceId: row.source_id,
        chunkIndex: row.chunk_index,
        content: row.content,
        score: Number(row.score),
        metadata: row.metadata
      }))
      .sort((a, b) => b.score - a.score)
  })

  const remove = Effect.fn("IndexingAgent.remove")(function*(scope: VectorScope, sourceType: string, sourceId: string) {
    const rows = yield* db.withRole(DbRole.agent, sql`
      DELETE FROM cogo.vectors WHERE ${scopeFilter(scope)} AND source_type = ${sourceType} AND source_id = ${sourceId}
      RETURNING 1`).pipe(Effect.mapError(storageFailed("remove vectors")))
    return rows.length
  })

  const indexProject = Effect.fn("IndexingAgent.indexProject")(function*(projectId: string) {
    const rows = yield* sql<{ readonly source_type: string; readonly id: string; readonly name: string; readonly extra: string | null; readonly body: unknown }>`
      SELECT 'project' AS source_type, id, name, description AS extra, settings AS body FROM public.projects WHERE id = ${projectId}
      UNION ALL SELECT 'page', id, name, route, definition FROM public.pages WHERE project_id = ${projectId}
      UNION ALL SELECT 'component', id, name, kind, jsonb_build_object('definition', definition, 'properties', properties)
        FROM public.components WHERE project_id = ${projectId}
      UNION ALL SELECT 'action_flow', id, name, NULL, jsonb_build_object('trigger', trigger, 'definition', definition)
        FROM public.action_flows WHERE project_id = ${projectId}`.pipe(Effect.mapError(storageFailed("read project content")))
    const documents = rows.map((row): IndexDocumentInput => ({
      sourceType: row.source_type,
      sourceId: row.id,
      text: [`${row.source_type.replace("_", " ")} ${row.name}${row.extra === null ? "" : ` (${row.extra})`}.`, ...jsonText(row.body)].join("\n"),
      metadata: { name: row.name }
    }))
    const report = yield* index(projectId, documents)
    // Entities deleted since the last run.
    const gone = yield* db.withRole(DbRole.agent, sql<{ readonly n: string }>`
      WITH gone AS (
        DELETE FROM cogo.vectors
        WHERE project_id = ${projectId} AND source_type IN ('project', 'page', 'component', 'action_flow')
          AND source_id NOT IN (SELECT jsonb_array_elements_text(${JSON.stringify(rows.map((r) => r.id))}::jsonb))
        RETURNING 1
      ) SELECT count(*) AS n FROM gone`).pipe(Effect.mapError(storageFailed("remove deleted entities")))
    return { ...report, removed: report.removed + Number(gone[0]?.n ?? 0) } satisfies IndexReport
  })

  return IndexingAgent.of({ index, search, remove, indexProject })
})
