/**
 * Handler of `embed`. Texts (≤ 256) are embedded synchronously. Documents are indexed synchronously when small
 * (`COGO_EMBED_SYNC_MAX_CHARS` total, default 50k characters), otherwise submitted as an `index.documents`
 * job (202). Indexing into a project requires editor membership (checked as the user, RLS); without a
 * project, a user's documents go to that user's own vectors (a service-role caller's to platform-wide ones).
 */
import { Config, Effect } from "effect"
import { HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { SqlClient } from "effect/sql/SqlClient"
import { describeAgentError } from "../../domain/agents/AgentError.ts"
import { JobKinds } from "../../domain/jobs/Job.ts"
import { BadRequest, Forbidden, problem, ServiceUnavailable } from "../../domain/platform/Problem.ts"
import { CurrentUser } from "../../services/auth/Auth.ts"
import { Database } from "../../services/platform/Database.ts"
import { embeddingDimensions, Embeddings } from "../../services/agents/Embeddings.ts"
import { IndexingAgent, vectorScope } from "../../services/agents/IndexingAgent.ts"
import { JobQueue } from "../../services/jobs/JobQueue.ts"
import { Api } from "../Api.ts"
import { embeddingList, inputsOf, type OpenAiEmbeddingRequest } from "./openAiEmbeddings.ts"

export const EmbedLive = HttpApiBuilder.group(Api, "embed", Effect.fn(function*(handlers) {
  const embeddings = yield* Embeddings
  const indexing = yield* IndexingAgent
  const jobs = yield* JobQueue
  const db = yield* Database
  const sql = yield* SqlClient
  const syncMaxChars = yield* Config.Int("COGO_EMBED_SYNC_MAX_CHARS").pipe(Config.withDefault(50_000))

  const unavailable = (error: Parameters<typeof describeAgentError>[0]) =>
    new ServiceUnavailable(problem(503, "embedding-unavailable", "Service Unavailable", describeAgentError(error).message))

  /** OpenAI's embeddings API (the official SDK's `client.embeddings.create`). */
  const openAiEmbeddings = (payload: OpenAiEmbeddingRequest) =>
    Effect.gen(function*() {
      if (payload.dimensions !== undefined && payload.dimensions > embeddingDimensions) {
        return yield* new BadRequest({
          ...problem(400, "invalid-request", "Bad Request", `dimensions: at most ${embeddingDimensions}`),
          errors: [{ path: ["payload", "dimensions"], message: `at most ${embeddingDimensions}` }]
        })
      }
      const vectors = yield* embeddings.embed(inputsOf(payload)).pipe(Effect.mapError(unavailable))
      return embeddingList(payload, embeddings.model, vectors)
    })

  return handlers
    .handle("embeddings", ({ payload }) => openAiEmbeddings(payload))
    .handle("embedEmbeddings", ({ payload }) => openAiEmbeddings(payload))
    .handle("embed", ({ payload }) =>
    Effect.gen(function*() {
      if ("input" in payload) return HttpServerResponse.jsonUnsafe(yield* openAiEmbeddings(payload))
      const principal = yield* CurrentUser
      const projectId = payload.projectId ?? null
      const hasDocuments = payload.documents !== undefined
      if (hasDocuments === (payload.texts !== undefined)) {
        return yield* new BadRequest({
          ...problem(400, "invalid-request", "Bad Request", "send exactly one of `documents` or `texts`"),
          errors: [{ path: ["payload", hasDocuments ? "texts" : "documents"], message: "exactly one of documents or texts" }]
        })
      }
      if (payload.texts !== undefined) {
        const vectors = yield* embeddings.embed(payload.texts).pipe(Effect.mapError(unavailable))
        return { mode: "texts" as const, model: embeddings.model, dimensions: vectors[0]?.length ?? 0, embeddings: vectors }
      }
      const documents = payload.documents ?? []
      if (projectId !== null && principal.role !== "service_role") {
        const rows = yield* db.asUser(principal.claims, sql<{ ok: boolean }>`SELECT public.is_project_member(${projectId}::uuid, 'editor') AS ok`).pipe(Effect.orDie)
        if (rows[0]?.ok !== true) return yield* new Forbidden(problem(403, "not-an-editor", "Forbidden", "indexing needs editor membership of the project"))
      }
      const ownerId = principal.role === "service_role" ? null : principal.userId
      const totalChars = documents.reduce((sum, doc) => sum + doc.text.length, 0)
      if (totalChars <= syncMaxChars) {
        const report = yield* indexing.index(vectorScope(projectId, ownerId), documents).pipe(Effect.mapError(unavailable))
        return { mode: "indexed" as const, documents: report.documents, chunks: report.chunks, cached: report.cached, removed: report.removed }
      }
      const job = yield* jobs.submit({ kind: JobKinds.indexDocuments, payload: { projectId, ownerId, documents }, ...(projectId === null ? {} : { projectId }) })
      return HttpServerResponse.jsonUnsafe({ mode: "job", jobId: job.id, state: job.state }, { status: 202 })
    }).pipe(Effect.catchTag("SqlError", Effect.die)))
}))
