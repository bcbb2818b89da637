/**
 * Write tools: each plans entity commands for the chat's project and applies them through
 * `ProjectCommands.write` (cogo state + outbox, one transaction, under the agents' role; the projection
 * worker carries them to `public.*`). The output records every touched entity's state before the write,
 * and the compensation restores it (or deletes what the step created), in reverse order. Definitions are
 * validated as COGO UI JSON before anything is written; patches are RFC 6902 against the current definition.
 */
import { Effect, Option, Result, Schema } from "effect"
import { type AgentError, InvalidToolInput, ToolFailed } from "../../../domain/agents/AgentError.ts"
import { applyPatch } from "../../../domain/agents/JsonPatch.ts"
import {
  CreateComponent,
  CreatePage,
  ById,
  LinkComponent,
  linkIntoTree,
  Rename,
  SetThemeTokens,
  UpdateDefinition,
  validateDefinition
} from "../../../domain/agents/ProjectTools.ts"
import { tool } from "../../../domain/agents/Tool.ts"
import { type EntityKind, EntityKindSchema } from "../../../domain/cqrs/ProjectUpdate.ts"
import { EntityCommand } from "../../cqrs/ProjectCommands.ts"
import { commandError } from "../ExecutorAgent.ts"
import { storageFailed } from "../IndexingAgent.ts"
import { erase, type ProjectTool, type ToolScope, type ToolServices } from "./toolkit.ts"

export const WriteOutput = Schema.Struct({
  changed: Schema.Array(Schema.Struct({ kind: EntityKindSchema, id: Schema.String, version: Schema.Number, updateId: Schema.Number })),
  /** Each written entity's state before the write (null: it did not exist), for the compensation. */
  previous: Schema.Array(Schema.Struct({ kind: EntityKindSchema, id: Schema.String, state: Schema.NullOr(Schema.Unknown) }))
})
export type WriteOutput = typeof WriteOutput.Type

type JsonObject = Readonly<Record<string, unknown>>
const decodeCommand = Schema.decodeUnknownEffect(EntityCommand)
const emptyPage = { tree: { type: "Page", children: [] } }
const slug = (name: string) => name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "page"

export const writeTools = (services: ToolServices, scope: ToolScope): ReadonlyArray<ProjectTool> => {
  const rejected = (name: string, message: string) => new InvalidToolInput({ tool: name, message })

  /** The live state of an entity of this project, or a rejection the model can read. */
  const live = (name: string, kind: EntityKind, id: string) =>
    services.commands.get(kind, id).pipe(
      Effect.mapError(storageFailed(name)),
      Effect.flatMap((found) =>
        Option.isSome(found) && !found.value.deleted && found.value.projectId === scope.projectId
          ? Effect.succeed(found.value.state as JsonObject)
          : Effect.fail(rejected(name, `no ${kind} ${id} in this project`)))
    )

  const upsert = (name: string, kind: EntityKind, state: JsonObject, origin = scope.origin) =>
    decodeCommand({ _tag: "upsert", kind, state, origin }).pipe(Effect.mapError((error) => rejected(name, error.message)))

  const validated = (name: string, definition: JsonObject) =>
    Result.match(validateDefinition(definition), {
      onFailure: (message) => Effect.fail(rejected(name, message)),
      onSuccess: () => Effect.succeed(definition)
    })

  /** A write tool from a plan of commands; run records the previous states, compensate restores them. */
  const writeTool = <I>(spec: {
    readonly name: string
    readonly description: string
    readonly input: Schema.Codec<I, unknown>
    readonly plan: (input: I) => Effect.Effect<ReadonlyArray<EntityCommand>, AgentError>
  }): ProjectTool =>
    erase(tool({
      name: spec.name,
      description: spec.description,
      input: spec.input,
      output: WriteOutput,
      transactional: true,
      run: (input) =>
        Effect.gen(function*() {
          const planned = yield* spec.plan(input)
          const previous = yield* Effect.forEach(planned, (command) => {
            const id = command._tag === "delete" ? command.id : command.state.id!
            return services.commands.get(command.kind, id).pipe(
              Effect.mapError(storageFailed(spec.name)),
              Effect.map((found) => ({
                kind: command.kind,
                id,
                state: Option.isSome(found) && !found.value.deleted ? found.value.state : null
              }))
            )
          })
          const results = yield* services.commands.write(planned).pipe(Effect.mapError(commandError(spec.name)))
          return {
            changed: results.map((r) => ({ kind: r.kind, id: r.id, version: r.version, updateId: r.updateId })),
            previous
          }
        }),
      compensate: (_input, output) =>
        Effect.forEach([...output.previous].reverse(), (entity) =>
          entity.state === null
            ? Effect.succeed<EntityCommand>({ _tag: "delete", kind: entity.kind, id: entity.id, origin: `${scope.origin}:undo` })
            : upsert(spec.name, entity.kind, entity.state as JsonObject, `${scope.origin}:undo`)).pipe(
          Effect.flatMap((restore) => Effect.mapError(services.commands.write(restore), commandError(spec.name))),
          Effect.mapError((error) => error._tag === "InvalidToolInput" ? new ToolFailed({ tool: spec.name, message: error.message, retryable: false }) : error),
          Effect.asVoid
        )
    }), true)

  /** The new definition of an update: a replacement or a patch of the current one (exactly one of the two). */
  const nextDefinition = (name: string, current: JsonObject, input: typeof UpdateDefinition.Type) => {
    if ((input.definition === undefined) === (input.patch === undefined)) {
      return Effect.fail(rejected(name, "give either `definition` or `patch`"))
    }
    if (input.definition !== undefined) return validated(name, input.definition)
    return Result.match(applyPatch(current["definition"] ?? {}, input.patch!), {
      onFailure: (message) => Effect.fail(rejected(name, message)),
      onSuccess: (patched) =>
        typeof patched === "object" && patched !== null && !Array.isArray(patched)
          ? validated(name, patched as JsonObject)
          : Effect.fail(rejected(name, "the patched definition is not an object"))
    })
  }

  const updateOf = (kind: "page" | "component", name: string) =>
    writeTool({
      name,
      description: `Replace a ${kind}'s COGO UI JSON definition, or patch it with an RFC 6902 JSON Patch`,
      input: UpdateDefinition,
      plan: (input) =>
        Effect.gen(function*() {
          const current = yield* live(name, kind, input.id)
          const definition = yield* nextDefinition(name, current, input)
          return [yield* upsert(name, kind, { ...current, definition })]
        })
    })

  const deleteOf = (kind: "page" | "component", name: string) =>
    writeTool({
      name,
      description: `Delete a ${kind}`,
      input: ById,
      plan: ({ id }) => Effect.as(live(name, kind, id), [{ _tag: "delete", kind, id, origin: scope.origin }])
    })

  return [
    writeTool({
      name: "create_page",
      description: "Create a page (an empty Page tree unless a COGO UI JSON definition is given)",
      input: CreatePage,
      plan: (input) =>
        Effect.flatMap(validated("create_page", input.definition ?? emptyPage), (definition) =>
          Effect.map(upsert("create_page", "page", {
            id: crypto.randomUUID(),
            projectId: scope.projectId,
            name: input.name,
            route: input.route ?? `/${slug(input.name)}`,
            definition
          }), (command) => [command]))
    }),
    updateOf("page", "update_page"),
    deleteOf("page", "delete_page"),
    writeTool({
      name: "create_component",
      description: "Create a component from a COGO UI JSON definition",
      input: CreateComponent,
      plan: (input) =>
        Effect.flatMap(validated("create_component", input.definition), (definition) =>
          Effect.map(upsert("create_component", "component", {
            id: crypto.randomUUID(),
            projectId: scope.projectId,
            name: input.name,
            kind: "component",
            definition,
            properties: input.properties ?? {}
          }), (command) => [command]))
    }),
    updateOf("component", "update_component"),
    deleteOf("component", "delete_component"),
    writeTool({
      name: "set_theme_tokens",
      description: "Set design tokens on a theme (merged; a null value removes a token); without themeId a new theme is created",
      input: SetThemeTokens,
      plan: (input) =>
        Effect.gen(function*() {
          const current: JsonObject = input.themeId === undefined
            ? { id: crypto.randomUUID(), projectId: scope.projectId, name: input.name ?? "Theme", tokens: {}, isDefault: false }
            : yield* live("set_theme_tokens", "theme", input.themeId)
          const tokens: Record<string, unknown> = { ...(current["tokens"] as JsonObject | undefined) }
          for (const [token, value] of Object.entries(input.tokens)) {
            if (value === null) delete tokens[token]
            else tokens[token] = value
          }
          return [yield* upsert("set_theme_tokens", "theme", { ...current, ...(input.name === undefined ? {} : { name: input.name }), tokens })]
        })
    }),
    writeTool({
      name: "rename",
      description: "Rename a page, component, symbol or theme",
      input: Rename,
      plan: (input) =>
        Effect.flatMap(live("rename", input.kind, input.id), (current) =>
          Effect.map(upsert("rename", input.kind, { ...current, name: input.name }), (command) => [command]))
    }),
    writeTool({
      name: "link_component",
      description: "Place a component on a page (a SymbolInstance appended to the page's tree)",
      input: LinkComponent,
      plan: (input) =>
        Effect.gen(function*() {
          const page = yield* live("link_component", "page", input.pageId)
          const component = yield* live("link_component", "component", input.componentId)
          const definition = (page["definition"] ?? {}) as JsonObject
          const componentTree = (component["definition"] as JsonObject | undefined)?.["tree"]
          const linked = yield* validated("link_component", { ...definition, tree: linkIntoTree(definition["tree"], input.componentId, componentTree) })
          return [yield* upsert("link_component", "page", { ...page, definition: linked })]
        })
    })
  ]
}
