/**
 * The project tools the chat assistant offers a model, bound to one project: read tools (pages, components,
 * symbols, themes, knowledge search) and write tools (through `ProjectCommands`: cogo state + outbox under the
 * agents' role, never `public.*`). Each is a typed executor `Tool` (Schema in and out, see
 * src/domain/agents/Tool.ts), erased to JSON in and out with its JSON Schema for function calling (toolkit.ts).
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer } from "effect"
import { ProjectCommands } from "../../cqrs/ProjectCommands.ts"
import { Database } from "../../platform/Database.ts"
import { ResearchAgent } from "../ResearchAgent.ts"
import { readTools } from "./ReadTools.ts"
import { writeTools } from "./WriteTools.ts"
import type { ProjectTool, ToolScope } from "./toolkit.ts"

export type { ProjectTool, ToolScope } from "./toolkit.ts"

export class ProjectTools extends Context.Service<ProjectTools, {
  /** The tools for one project: read tools always, write tools only when `write` (the caller may edit). */
  readonly forProject: (scope: ToolScope, options: { readonly write: boolean }) => ReadonlyArray<ProjectTool>
}>()("cogo/ProjectTools") {
  static readonly layer = Layer.effect(
    ProjectTools,
    Effect.gen(function*() {
      const services = {
        sql: yield* PgClient.PgClient,
        db: yield* Database,
        commands: yield* ProjectCommands,
        research: yield* ResearchAgent
      }
      return ProjectTools.of({
        forProject: (scope, options) => [
          ...readTools(services, scope),
          ...(options.write ? writeTools(services, scope) : [])
        ]
      })
    })
  )
}

