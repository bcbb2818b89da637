/**
 * Read tools over one project's canonical state (`cogo.project_entities`, which includes changes not yet
 * projected) and its indexed knowledge. They change nothing, so they never need approval.
 */
import { Effect, Schema } from "effect"
import { ToolFailed } from "../../../domain/agents/AgentError.ts"
import type { EntityKind } from "../../../domain/cqrs/ProjectUpdate.ts"
import { ById, NoInput, SearchKnowledge } from "../../../domain/agents/ProjectTools.ts"
import { tool } from "../../../domain/agents/Tool.ts"
import { DbRole } from "../../platform/Database.ts"
import { storageFailed } from "../IndexingAgent.ts"
import { erase, type ProjectTool, type ToolScope, type ToolServices } from "./toolkit.ts"

const Summary = Schema.Struct({ id: Schema.String, name: Schema.String, version: Schema.Number })
const Summaries = Schema.Array(Summary)
const Entity = Schema.Struct({ id: Schema.String, version: Schema.Number, state: Schema.Unknown })
const Evidence = Schema.Array(Schema.Struct({ content: Schema.String, score: Schema.Number, source: Schema.String }))

/** Live entities of a kind, summarized, newest first (at most 200). */
const listOf = (services: ToolServices, scope: ToolScope, kind: EntityKind, name: string, description: string) =>
  tool({
    name,
    description,
    input: NoInput,
    output: Summaries,
    run: () =>
      services.db.withRole(DbRole.agent, services.sql<{ id: string; name: string | null; version: string }>`
        SELECT id, state->>'name' AS name, version FROM cogo.project_entities
        WHERE project_id = ${scope.projectId} AND entity_type = ${kind} AND NOT deleted
        ORDER BY version DESC LIMIT 200`).pipe(
        Effect.map((rows) => rows.map((row) => ({ id: row.id, name: row.name ?? "", version: Number(row.version) }))),
        Effect.mapError(storageFailed(name))
      )
  })

/** One live entity of a kind in this project, with its full state. */
const getOf = (services: ToolServices, scope: ToolScope, kind: EntityKind, name: string, description: string) =>
  tool({
    name,
    description,
    input: ById,
    output: Entity,
    run: ({ id }) =>
      services.commands.get(kind, id).pipe(
        Effect.mapError(storageFailed(name)),
        Effect.flatMap((found) =>
          found._tag === "Some" && !found.value.deleted && found.value.projectId === scope.projectId
            ? Effect.succeed({ id, version: found.value.version, state: found.value.state })
            : Effect.fail(new ToolFailed({ tool: name, message: `no ${kind} ${id} in this project`, retryable: false })))
      )
  })

export const readTools = (services: ToolServices, scope: ToolScope): ReadonlyArray<ProjectTool> => [
  erase(listOf(services, scope, "page", "list_pages", "List the project's pages (id, name)"), false),
  erase(getOf(services, scope, "page", "get_page", "Get one page with its COGO UI JSON definition"), false),
  erase(listOf(services, scope, "component", "list_components", "List the project's components (id, name)"), false),
  erase(getOf(services, scope, "component", "get_component", "Get one component with its COGO UI JSON definition"), false),
  erase(listOf(services, scope, "symbol", "list_symbols", "List the project's symbols (id, name)"), false),
  erase(listOf(services, scope, "theme", "list_themes", "List the project's themes (id, name)"), false),
  erase(tool({
    name: "search_knowledge",
    description: "Search the project's indexed knowledge (documents, imported designs) for evidence",
    input: SearchKnowledge,
    output: Evidence,
    run: ({ query, k }) =>
      Effect.map(services.research.retrieve({ projectId: scope.projectId, question: query, k: k ?? 6 }), (found) =>
        found.evidence.map((evidence) => ({
          content: evidence.content,
          score: evidence.score,
          source: `${evidence.sources[0]?.sourceType ?? "knowledge"}:${evidence.sources[0]?.sourceId ?? ""}`
        })))
  }), false)
]
