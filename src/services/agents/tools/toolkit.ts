/**
 * Typed tools erased to JSON in and out (with the JSON Schema of their input), as the chat loop offers and
 * runs them; and the services and scope the project tools are built from.
 */
import type { PgClient } from "@effect/sql-pg"
import { Effect, Schema } from "effect"
import { type AgentError, InvalidToolInput, ToolFailed } from "../../../domain/agents/AgentError.ts"
import type { Tool } from "../../../domain/agents/Tool.ts"
import type { ProjectCommands } from "../../cqrs/ProjectCommands.ts"
import type { Database } from "../../platform/Database.ts"
import type { ResearchAgent } from "../ResearchAgent.ts"

export type ToolServices = {
  readonly sql: PgClient.PgClient
  readonly db: typeof Database.Service
  readonly commands: typeof ProjectCommands.Service
  readonly research: typeof ResearchAgent.Service
}

/** A tool with its types erased to JSON, as the chat loop runs it. */
export interface ProjectTool {
  readonly name: string
  readonly description: string
  readonly write: boolean
  /** JSON Schema of the input (the `parameters` of an OpenAI function). */
  readonly parameters: Record<string, unknown>
  readonly run: (input: unknown) => Effect.Effect<unknown, AgentError>
  /** Undoes a succeeded run (a no-op for read tools). */
  readonly compensate: (input: unknown, output: unknown) => Effect.Effect<void, AgentError>
}

/** Where the tools act: the chat's project; `origin` marks every write (e.g. `chat:<run id>`). */
export interface ToolScope {
  readonly projectId: string
  readonly origin: string
}

const jsonSchemaOf = (schema: Schema.Top): Record<string, unknown> => {
  const document = Schema.toJsonSchemaDocument(schema)
  const definitions = document.definitions
  return Object.keys(definitions).length === 0 ? { ...document.schema } : { ...document.schema, $defs: definitions }
}

/** Erases a typed tool: input decoded (bad input -> InvalidToolInput), output encoded to JSON. */
export const erase = <I, O>(definition: Tool<I, O>, write: boolean): ProjectTool => {
  const decodeInput = Schema.decodeUnknownEffect(definition.input)
  const decodeOutput = Schema.decodeUnknownEffect(definition.output)
  const encodeOutput = Schema.encodeUnknownEffect(definition.output)
  const invalid = (what: string) => (error: Schema.SchemaError) => new InvalidToolInput({ tool: definition.name, message: `${what}: ${error.message}` })
  return {
    name: definition.name,
    description: definition.description,
    write,
    parameters: jsonSchemaOf(definition.input),
    run: (input) =>
      decodeInput(input).pipe(
        Effect.mapError(invalid("invalid input")),
        Effect.flatMap(definition.run),
        Effect.flatMap((output) =>
          Effect.mapError(encodeOutput(output), (error) =>
            new ToolFailed({ tool: definition.name, message: `output does not encode: ${error.message}`, retryable: false })))
      ),
    compensate: (input, output) => {
      const undo = definition.compensate
      if (undo === undefined) return Effect.void
      return Effect.all([decodeInput(input), decodeOutput(output)]).pipe(
        Effect.mapError(invalid("stored step does not decode")),
        Effect.flatMap(([i, o]) => undo(i, o))
      )
    }
  }
}

