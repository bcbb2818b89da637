/**
 * The research agent: for a question, retrieves evidence (vector search over `cogo.vectors` plus previously
 * recorded `cogo.knowledge`), merges duplicate and overlapping evidence, and records the merged knowledge
 * with its provenance (which sources, which job) in `cogo.knowledge` / `cogo.evidence`.
 * Registers the job kind "research.question".
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Effect, Layer } from "effect"
import { createHash } from "node:crypto"
import type { AgentError } from "../../domain/agents/AgentError.ts"
import { type EvidenceItem, type EvidenceSource, mergeEvidence } from "../../domain/agents/Evidence.ts"
import { JobKinds, ResearchQuestionPayload } from "../../domain/jobs/Job.ts"
import { cosine, hashedEmbedding } from "../../domain/agents/TextFeatures.ts"
import { Database, DbRole } from "../platform/Database.ts"
import { IndexingAgent, storageFailed } from "./IndexingAgent.ts"
import { Orchestrator } from "../jobs/Orchestrator.ts"


/** One merged piece of evidence: overlapping excerpts of the same or different sources become one. */
export type MergedEvidence = EvidenceItem

export interface ResearchResult {
  readonly question: string
  readonly evidence: ReadonlyArray<MergedEvidence>
  /** Ids of the `cogo.knowledge` rows written or refreshed (empty for `retrieve`). */
  readonly knowledgeIds: ReadonlyArray<string>
}

export interface ResearchRequest {
  readonly projectId: string | null
  readonly question: string
  /** How many chunks to retrieve before merging (default 8). */
  readonly k?: number | undefined
  /** Recorded as provenance on knowledge/evidence rows. */
  readonly jobId?: string | undefined
}

export class ResearchAgent extends Context.Service<ResearchAgent, {
  /** Retrieves and merges evidence without writing anything (for answering a chat turn quickly). */
  readonly retrieve: (request: ResearchRequest) => Effect.Effect<ResearchResult, AgentError>
  /** Retrieves, merges and records the merged knowledge with provenance. */
  readonly research: (request: ResearchRequest) => Effect.Effect<ResearchResult, AgentError>
}>()("cogo/ResearchAgent") {
  static readonly layer = Layer.effect(ResearchAgent, Effect.suspend(() => makeResearchAgent))

  /** The "research.question" job kind. */
  static readonly jobs = Layer.unwrap(Effect.gen(function*() {
    const research = yield* ResearchAgent
    return Orchestrator.handler({
      kind: JobKinds.research,
      payload: ResearchQuestionPayload,
      concurrency: 4,
      timeout: "2 minutes",
      run: (payload, job) =>
        Effect.map(research.research({ ...payload, jobId: job.job.id }), (result) => ({
          knowledgeIds: result.knowledgeIds,
          evidence: result.evidence.length
        }))
    })
  }))
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")
const knowledgeDimensions = 384

const makeResearchAgent = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const db = yield* Database
  const indexing = yield* IndexingAgent
  const minScore = yield* Config.Number("RESEARCH_MIN_SCORE").pipe(Config.withDefault(0.15))

  /** Recorded knowledge of the project close to the question (lexical features, no provider call). */
  const relatedKnowledge = (projectId: string | null, question: string, k: number) =>
    Effect.gen(function*() {
      const rows = yield* sql<{ readonly id: string; readonly content: string; readonly sources: ReadonlyArray<EvidenceSource> }>`
        SELECT id, content, sources FROM cogo.knowledge
        WHERE ${projectId === null ? sql`project_id IS NULL` : sql`project_id = ${projectId}`}
        ORDER BY updated_at DESC LIMIT 200`.pipe(Effect.mapError(storageFailed("read knowledge")))
      const target = hashedEmbedding(question, knowledgeDimensions)
      return rows
        .map((row): EvidenceItem => ({
          content: row.content,
          score: cosine(target, hashedEmbedding(row.content, knowledgeDimensions)),
          // Knowledge carries its original sources forward, so provenance survives re-merging.
          sources: row.sources
        }))
        .filter((item) => item.score >= minScore)
        .sort((a, b) => b.score - a.score)
        .slice(0, Math.ceil(k / 2))
    })

  const retrieve = Effect.fn("ResearchAgent.retrieve")(function*(request: ResearchRequest) {
    const k = request.k ?? 8
    const [hits, knowledge] = yield* Effect.all([
      indexing.search(request.projectId, request.question, k),
      relatedKnowledge(request.projectId, request.question, k)
    ], { concurrency: 2 })
    const fromVectors = hits
      .filter((hit) => hit.score >= minScore)
      .map((hit): EvidenceItem => ({
        content: hit.content,
        score: hit.score,
        sources: [{ sourceType: hit.sourceType, sourceId: hit.sourceId, score: hit.score }]
      }))
    return { question: request.question, evidence: mergeEvidence([...fromVectors, ...knowledge]), knowledgeIds: [] } satisfies ResearchResult
  })

  const research = Effect.fn("ResearchAgent.research")(function*(request: ResearchRequest) {
    const retrieved = yield* retrieve(request)
    if (retrieved.evidence.length === 0) return retrieved
    const items = retrieved.evidence.map((item) => ({
      content: item.content,
      content_hash: sha256(item.content),
      sources: item.sources,
      confidence: item.score
    }))
    const knowledgeIds = yield* db.withRole(DbRole.agent, Effect.gen(function*() {
      const rows = yield* sql<{ readonly id: string; readonly content_hash: string }>`
        INSERT INTO cogo.knowledge (project_id, topic, content, content_hash, sources, job_id, confidence)
        SELECT ${request.projectId}::uuid, ${request.question}, content, content_hash, sources, ${request.jobId ?? null}::uuid, confidence
        FROM jsonb_to_recordset(${JSON.stringify(items)}::jsonb) AS x(content text, content_hash text, sources jsonb, confidence real)
        ON CONFLICT ((coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid)), content_hash)
        DO UPDATE SET
          sources = (
            SELECT jsonb_agg(s ORDER BY (s->>'score')::float8 DESC) FROM (
              SELECT DISTINCT ON (s->>'sourceType', s->>'sourceId') s
              FROM jsonb_array_elements(cogo.knowledge.sources || excluded.sources) AS s
              ORDER BY s->>'sourceType', s->>'sourceId', (s->>'score')::float8 DESC
            ) best
          ),
          job_id = coalesce(excluded.job_id, cogo.knowledge.job_id),
          confidence = greatest(cogo.knowledge.confidence, excluded.confidence),
          updated_at = now()
        RETURNING id, content_hash`
      const idByHash = new Map(rows.map((row) => [row.content_hash, row.id]))
      const evidence = items.flatMap((item) =>
        item.sources.map((source) => ({
          knowledge_id: idByHash.get(item.content_hash)!,
          source_type: source.sourceType,
          source_id: source.sourceId,
          excerpt: item.content.slice(0, 2000),
          score: source.score
        }))
      )
      yield* sql`
        INSERT INTO cogo.evidence (knowledge_id, project_id, source_type, source_id, excerpt, score, job_id)
        SELECT x.knowledge_id, ${request.projectId}::uuid, x.source_type, x.source_id, x.excerpt, x.score, ${request.jobId ?? null}::uuid
        FROM jsonb_to_recordset(${JSON.stringify(evidence)}::jsonb) AS x(knowledge_id uuid, source_type text, source_id text, excerpt text, score real)
        WHERE NOT EXISTS (
          SELECT 1 FROM cogo.evidence e
          WHERE e.knowledge_id = x.knowledge_id AND e.source_type = x.source_type AND e.source_id = x.source_id
            AND e.job_id IS NOT DISTINCT FROM ${request.jobId ?? null}::uuid
        )`
      return items.map((item) => idByHash.get(item.content_hash)!)
    })).pipe(Effect.mapError(storageFailed("record knowledge")))
    return { ...retrieved, knowledgeIds } satisfies ResearchResult
  })

  return ResearchAgent.of({ retrieve, research })
})
