/**
 * The inputs of the project tools the chat assistant offers a model (read tools and write tools). The
 * project is never part of an input: a tool acts in the chat's project only. Definitions are COGO UI JSON
 * (`{ tree: CogoWidget, ... }`, see src/domain/figma/CogoUi.ts); `validateDefinition` checks them before any
 * write. Names follow OpenAI's function-name rule (`[a-zA-Z0-9_-]`).
 */
import { Result, Schema } from "effect"
import { CogoWidget } from "../figma/CogoUi.ts"
import { Uuid } from "../platform/Uuid.ts"
import { JsonPatch } from "./JsonPatch.ts"

const Name = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200))
const JsonObject = Schema.Record(Schema.String, Schema.Unknown)
const Definition = JsonObject.annotate({
  description: "COGO UI JSON definition: an object whose `tree` is a COGO UI widget, e.g. " +
    "{\"tree\":{\"type\":\"Container\",\"color\":\"#14b8a6ff\",\"child\":{\"type\":\"Text\",\"data\":\"Buy\"}}}"
})
const Patch = JsonPatch.annotate({ description: "RFC 6902 JSON Patch applied to the current definition" })

export const NoInput = Schema.Struct({})
export const ById = Schema.Struct({ id: Uuid })
export const SearchKnowledge = Schema.Struct({
  query: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(2_000)),
  k: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 20 })))
})

export const CreatePage = Schema.Struct({
  name: Name,
  route: Schema.optionalKey(Schema.String.check(Schema.isMaxLength(500))),
  definition: Schema.optionalKey(Definition)
})
export const CreateComponent = Schema.Struct({
  name: Name,
  definition: Definition,
  properties: Schema.optionalKey(JsonObject)
})
/** Replace the definition, or patch it (one of the two). */
export const UpdateDefinition = Schema.Struct({
  id: Uuid,
  definition: Schema.optionalKey(Definition),
  patch: Schema.optionalKey(Patch)
})
export const SetThemeTokens = Schema.Struct({
  themeId: Schema.optionalKey(Uuid),
  name: Schema.optionalKey(Name),
  tokens: JsonObject.annotate({ description: "token name -> value, merged into the theme's tokens (null removes one)" })
})
export const Rename = Schema.Struct({
  kind: Schema.Literals(["page", "component", "symbol", "theme"]),
  id: Uuid,
  name: Name
})
export const LinkComponent = Schema.Struct({ pageId: Uuid, componentId: Uuid })

/** The write tools: they go through the project commands and can be undone (read tools change nothing). */
export const writeToolNames = [
  "create_page", "update_page", "delete_page", "create_component", "update_component", "delete_component",
  "set_theme_tokens", "rename", "link_component"
] as const
export type WriteToolName = typeof writeToolNames[number]
export const isWriteTool = (name: string): name is WriteToolName => (writeToolNames as ReadonlyArray<string>).includes(name)

const decodeWidget = Schema.decodeUnknownResult(CogoWidget)

/** Checks that a definition's `tree` is a COGO UI widget; the message says where it is not. */
export const validateDefinition = (definition: Readonly<Record<string, unknown>>): Result.Result<void, string> => {
  if (!("tree" in definition)) return Result.fail("a definition needs a `tree` (a COGO UI widget)")
  const decoded = decodeWidget(definition["tree"])
  return Result.isFailure(decoded) ? Result.fail(`the tree is not COGO UI JSON: ${decoded.failure.message}`) : Result.succeed(undefined)
}

/**
 * A `SymbolInstance` of the component, rendering the component's tree (an empty `SizedBox` when it has
 * none), appended to the page's tree (a `Page` is created around a leaf).
 */
export const linkIntoTree = (tree: unknown, componentId: string, componentTree: unknown): unknown => {
  const instance = { type: "SymbolInstance", symbolId: componentId, child: componentTree ?? { type: "SizedBox" } }
  if (typeof tree === "object" && tree !== null && Array.isArray((tree as { children?: unknown }).children)) {
    const container = tree as { readonly children: ReadonlyArray<unknown> }
    return { ...container, children: [...container.children, instance] }
  }
  return { type: "Page", children: tree === undefined || tree === null ? [instance] : [tree, instance] }
}
