/**
 * The `figma.import` job: converts a Figma export (any input shape) with `planFigmaImport` and writes the plan
 * through `ProjectCommands.writeChunked` (canonical state + outbox rows, in bounded transactions so a
 * 4,000-frame import never exhausts PostgreSQL's lock table), so the projection worker materializes it into
 * `public.*`. Every id is a UUID v5 of (project, kind, Figma id): importing the same file again upserts the
 * same entities (updates, no duplicates), which is also why an attempt cut short after some chunks (worker
 * crash) is simply run again. Conversion warnings and the list of what was written are the job's result
 * (kept in `cogo.jobs`; job events carry a bounded summary); progress is reported as job events ("converted",
 * "written").
 *
 * Mapping (see docs/figma-service.md):
 * - project: created when missing, owned by the payload's `userId` (set by the figma-plugin ingress to the
 *   AUTHENTICATED user, never taken from the request body; absent for project-token uploads, which cannot
 *   create projects); a project that exists only in
 *   `public.projects` (created by the IDE) is adopted into canonical state with its current fields;
 * - components: component sets and standalone components (`definition.tree` is the COGO UI JSON tree);
 * - symbols: every component (a variant of a set references the set's component row);
 * - pages + project_pages: the frames marked as screens (payload `screens` node ids or the plugin's
 *   `sharedPluginData.cogo.screen`), else the top-level frames; the first page is the home page;
 * - themes: one per variable collection / style group, the first is the default;
 * - assets: one per image fill `imageRef` (Figma's content hash), with the nodes that use it.
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Option, Result, Schema } from "effect"
import { StorageFailed, ToolFailed } from "../../domain/agents/AgentError.ts"
import { type EntityKind, type EntityStateOf, Uuid } from "../../domain/cqrs/ProjectUpdate.ts"
import { planFigmaImport } from "./convert/index.ts"
import { FIGMA_IMPORT_NAMESPACE, type ImportPlan, uuidV5 } from "./convert/importPlan.ts"
import type { ConversionWarning } from "../../domain/figma/ConversionWarning.ts"
import { Database, DbRole } from "../platform/Database.ts"
import { canEdit, PluginTokens } from "../auth/PluginTokens.ts"
import { type JobContext, Orchestrator } from "../jobs/Orchestrator.ts"
import { type EntityCommand, ProjectCommands } from "../cqrs/ProjectCommands.ts"

export const figmaImportKind = "figma.import"

/** The job payload, also the figma-plugin request body. `document` is any Figma input shape. */
export const FigmaImportPayload = Schema.Struct({
  projectId: Uuid,
  /**
   * Owner of the project when the import creates it; recorded as the job's creator. In a plugin request it is
   * ignored: the ingress replaces it with the authenticated user (or drops it for a project token).
   */
  userId: Schema.optionalKey(Uuid),
  /** The Figma file key (kept on the project and every imported entity's definition). */
  fileKey: Schema.optionalKey(Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(200))),
  /** Node ids of the frames that become pages (otherwise the top-level frames do). */
  screens: Schema.optionalKey(Schema.Array(Schema.String).check(Schema.isMaxLength(10_000))),
  document: Schema.Unknown
}).annotate({ identifier: "FigmaImportPayload" })
export type FigmaImportPayload = typeof FigmaImportPayload.Type

export interface ImportedEntity {
  readonly id: string
  readonly figmaId: string
  readonly name: string
}

/** What the job stores as its result. */
export interface FigmaImportResult {
  readonly projectId: string
  readonly fileKey: string | null
  readonly projectCreated: boolean
  readonly counts: { readonly components: number; readonly symbols: number; readonly pages: number; readonly themes: number; readonly assets: number }
  readonly components: ReadonlyArray<ImportedEntity>
  readonly symbols: ReadonlyArray<ImportedEntity>
  readonly pages: ReadonlyArray<ImportedEntity>
  readonly themes: ReadonlyArray<ImportedEntity>
  readonly assets: ReadonlyArray<ImportedEntity>
  /** Outbox rows appended (one per written entity). */
  readonly updates: number
  readonly warnings: ReadonlyArray<ConversionWarning>
}

const origin = "figma"

/** The stable id of a page's project_pages link (same derivation as the plan's ids). */
export const projectPageId = (projectId: string, figmaNodeId: string): string =>
  uuidV5(FIGMA_IMPORT_NAMESPACE, `${projectId}\u0000project_page\u0000${figmaNodeId}`)

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * Marks the nodes listed in `screens` the way the plugin's shared plugin data does
 * (`sharedPluginData.cogo.screen = "true"`), which is what the converter reads. Mutates `document`: the job
 * calls it on its own freshly decoded copy of the payload. Iterative, so deep documents cannot overflow.
 */
export const markScreens = (document: unknown, screens: ReadonlyArray<string>): void => {
  if (screens.length === 0) return
  const wanted = new Set(screens)
  const stack: Array<unknown> = [document]
  while (stack.length > 0) {
    const value = stack.pop()
    if (Array.isArray(value)) {
      for (const item of value) stack.push(item)
    } else if (isRecord(value)) {
      if (typeof value["id"] === "string" && typeof value["type"] === "string" && wanted.has(value["id"])) {
        const shared = isRecord(value["sharedPluginData"]) ? value["sharedPluginData"] : {}
        const cogo = isRecord(shared["cogo"]) ? shared["cogo"] : {}
        value["sharedPluginData"] = { ...shared, cogo: { ...cogo, screen: "true" } }
      }
      for (const child of Object.values(value)) if (typeof child === "object" && child !== null) stack.push(child)
    }
  }
}

const nonEmpty = (name: string, fallback: string): string => (name.trim().length > 0 ? name : fallback).slice(0, 200)

const slug = (name: string): string =>
  name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "") || "page"

const documentName = (document: unknown): string | undefined =>
  isRecord(document) && typeof document["name"] === "string" && document["name"].trim().length > 0 ? document["name"] : undefined

/** Variant options of each component set, collected from its variants (`{ Size: ["S", "M"] }`). */
const variantOptions = (plan: ImportPlan): Map<string, Record<string, Array<string>>> => {
  const out = new Map<string, Record<string, Array<string>>>()
  for (const symbol of plan.symbols) {
    if (symbol.variant === undefined) continue
    const options = out.get(symbol.componentId) ?? {}
    for (const [key, value] of Object.entries(symbol.variant)) {
      const values = options[key] ?? []
      if (!values.includes(value)) values.push(value)
      options[key] = values
    }
    out.set(symbol.componentId, options)
  }
  return out
}

/** An upsert command (`write` decodes every command against the real Schema as well). */
const upsertOf = <K extends EntityKind>(kind: K, state: EntityStateOf[K], baseVersion?: number): EntityCommand =>
  ({ _tag: "upsert", kind, origin, state, ...(baseVersion === undefined ? {} : { baseVersion }) }) as EntityCommand

/** The commands that write `plan` (the project command, if any, first). */
export const importCommands = (plan: ImportPlan, fileKey: string | undefined): Array<EntityCommand> => {
  const projectId = plan.projectId
  const source = { source: origin, ...(fileKey === undefined ? {} : { fileKey }) }
  const variants = variantOptions(plan)
  const commands: Array<EntityCommand> = []
  for (const component of plan.components) {
    const options = variants.get(component.id)
    commands.push(upsertOf("component", {
        id: component.id,
        projectId,
        name: nonEmpty(component.name, component.figmaNodeId),
        kind: component.kind === "componentSet" ? "component_set" : "component",
        definition: { ...source, figmaNodeId: component.figmaNodeId, tree: component.tree },
        properties: options === undefined ? {} : { variants: options }
    }))
  }
  for (const symbol of plan.symbols) {
    commands.push(upsertOf("symbol", {
        id: symbol.id,
        projectId,
        name: nonEmpty(symbol.name, symbol.figmaNodeId),
        componentId: symbol.componentId,
        definition: { ...source, figmaNodeId: symbol.figmaNodeId, ...(symbol.variant === undefined ? {} : { variant: symbol.variant }), tree: symbol.tree }
    }))
  }
  for (const [position, page] of plan.pages.entries()) {
    const name = nonEmpty(page.name, page.figmaNodeId)
    commands.push(
      upsertOf("page", { id: page.id, projectId, name, route: `/${slug(name)}`, definition: { ...source, figmaNodeId: page.figmaNodeId, tree: page.tree } }),
      upsertOf("project_page", { id: projectPageId(projectId, page.figmaNodeId), projectId, pageId: page.id, position, isHome: position === 0 })
    )
  }
  for (const [index, theme] of plan.themes.entries()) {
    commands.push(upsertOf("theme", { id: theme.id, projectId, name: nonEmpty(theme.name, "Figma"), tokens: { ...source, tokens: theme.tokens }, isDefault: index === 0 }))
  }
  for (const asset of plan.assets) {
    commands.push(upsertOf("asset", {
        id: asset.id,
        projectId,
        name: nonEmpty(asset.imageRef, asset.id),
        kind: "image",
        mimeType: null,
        url: null,
        sizeBytes: null,
        contentHash: asset.imageRef,
        metadata: { ...source, imageRef: asset.imageRef, nodeIds: asset.nodeIds }
    }))
  }
  return commands
}

const permanent = (message: string) => new ToolFailed({ tool: figmaImportKind, message, retryable: false })
const storage = (operation: string) => (error: { readonly message: string }) => new StorageFailed({ operation, message: error.message })

export class FigmaImport extends Context.Service<FigmaImport, {
  /** Runs one import (the `figma.import` job's handler). */
  readonly run: (payload: FigmaImportPayload, context: JobContext) => Effect.Effect<FigmaImportResult, ToolFailed | StorageFailed>
}>()("cogo/FigmaImport") {
  static readonly layer = Layer.effect(
    FigmaImport,
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const database = yield* Database
      const projectCommands = yield* ProjectCommands
      const pluginTokens = yield* PluginTokens

      /**
       * An import for a user into a project that exists needs that user to be an owner/editor NOW (the
       * ingress checked it too, but membership can change, or two uploads raced to create the same id).
       * An import without a user came with a project token, which the ingress checked against this project.
       */
      const requireEditor = Effect.fn("FigmaImport.requireEditor")(function*(payload: FigmaImportPayload) {
        if (payload.userId === undefined) return
        const access = yield* pluginTokens.access(payload.userId, payload.projectId).pipe(Effect.mapError(storage("figma.import.access")))
        if (!canEdit(access)) return yield* permanent(`user ${payload.userId} may not edit project ${payload.projectId}`)
      })

      const convert = Effect.fn("FigmaImport.convert")(function*(payload: FigmaImportPayload) {
        markScreens(payload.document, payload.screens ?? [])
        const planned = planFigmaImport(payload.projectId, payload.document)
        if (Result.isFailure(planned)) {
          const first = planned.failure.issues[0]
          const where = first === undefined ? "" : ` at ${first.path.length === 0 ? "the root" : first.path.join(".")}: ${first.message}`
          return yield* permanent(`${planned.failure.message}${where}`)
        }
        const plan = planned.success.value
        yield* Effect.annotateCurrentSpan({
          "figma.components": plan.components.length,
          "figma.pages": plan.pages.length,
          "figma.warnings": planned.success.warnings.length
        })
        return planned.success
      })

      /** The project command an import needs: none (known), adopt the IDE's row, or create it. */
      const projectCommand = Effect.fn("FigmaImport.project")(function*(payload: FigmaImportPayload) {
        const known = yield* projectCommands.get("project", payload.projectId).pipe(Effect.mapError(storage("figma.import.project")))
        if (Option.isSome(known) && !known.value.deleted) {
          yield* requireEditor(payload)
          return undefined
        }
        const rows = yield* database.withRole(DbRole.agent, sql<{
          readonly name: string
          readonly description: string | null
          readonly owner_id: string
          readonly settings: Record<string, unknown>
          readonly version: string
        }>`SELECT name, description, owner_id, settings, version FROM public.projects WHERE id = ${payload.projectId}`).pipe(
          Effect.mapError(storage("figma.import.project"))
        )
        const row = rows[0]
        if (row !== undefined) {
          yield* requireEditor(payload)
          const state = { id: payload.projectId, name: row.name, description: row.description, ownerId: row.owner_id, settings: row.settings }
          return { command: upsertOf("project", state, Number(row.version)), created: false }
        }
        if (payload.userId === undefined) {
          return yield* permanent(`project ${payload.projectId} does not exist; only a user credential can create it`)
        }
        const state = {
          id: payload.projectId,
          name: nonEmpty(documentName(payload.document) ?? "Figma import", "Figma import"),
          description: null,
          ownerId: payload.userId,
          settings: { figma: payload.fileKey === undefined ? {} : { fileKey: payload.fileKey } }
        }
        return { command: upsertOf("project", state), created: true }
      })

      const write = Effect.fn("FigmaImport.write")(function*(commands: ReadonlyArray<EntityCommand>) {
        yield* Effect.annotateCurrentSpan({ "figma.commands": commands.length })
        return yield* projectCommands.writeChunked(commands).pipe(
          Effect.catchTags({
            ProjectCommandRejected: (error) => Effect.fail(permanent(`project commands refused (#${error.index}, ${error.reason}): ${error.message}`)),
            SqlError: (error) => Effect.fail(storage("figma.import.write")(error)),
            NotInTransaction: (error) => Effect.fail(storage("figma.import.write")(error))
          })
        )
      })

      const run = Effect.fn("FigmaImport.run")(function*(payload: FigmaImportPayload, context: JobContext) {
        const converted = yield* convert(payload)
        const plan = converted.value
        const counts = {
          components: plan.components.length,
          symbols: plan.symbols.length,
          pages: plan.pages.length,
          themes: plan.themes.length,
          assets: plan.assets.length
        }
        yield* context.progress({ stage: "converted", counts, warnings: converted.warnings.length })
        const project = yield* projectCommand(payload)
        const commands = importCommands(plan, payload.fileKey)
        const results = yield* write(project === undefined ? commands : [project.command, ...commands])
        yield* context.progress({ stage: "written", updates: results.length })
        const byNode = (entity: { readonly id: string; readonly figmaNodeId: string; readonly name: string }): ImportedEntity =>
          ({ id: entity.id, figmaId: entity.figmaNodeId, name: entity.name })
        return {
          projectId: payload.projectId,
          fileKey: payload.fileKey ?? null,
          projectCreated: project?.created ?? false,
          counts,
          components: plan.components.map(byNode),
          symbols: plan.symbols.map(byNode),
          pages: plan.pages.map(byNode),
          themes: plan.themes.map((theme) => ({ id: theme.id, figmaId: theme.name, name: theme.name })),
          assets: plan.assets.map((asset) => ({ id: asset.id, figmaId: asset.imageRef, name: asset.imageRef })),
          updates: results.length,
          warnings: converted.warnings
        } satisfies FigmaImportResult
      })

      return FigmaImport.of({ run })
    })
  )

  /** Registers the `figma.import` job kind with the orchestrator (two imports at a time per process). */
  static readonly jobs = Orchestrator.handler({
    kind: figmaImportKind,
    payload: FigmaImportPayload,
    concurrency: 2,
    timeout: "5 minutes",
    run: (payload, context) => Effect.flatMap(Effect.service(FigmaImport), (figmaImport) => figmaImport.run(payload, context))
  })
}

