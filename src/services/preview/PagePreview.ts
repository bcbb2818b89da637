/**
 * Preview of what is in `public.*`: a page's or a component's COGO UI JSON tree rendered to HTML with the
 * project's themes (tokens), assets (image URLs) and symbols (placeholder instances), read as the caller
 * under RLS, so a non-member sees nothing (`PreviewNotFound`, as if the row did not exist).
 */
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Result, Schema } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { CogoWidget } from "../../domain/figma/CogoUi.ts"
import { DesignToken } from "../../domain/figma/Uui.ts"
import type { Principal } from "../auth/Auth.ts"
import { Database, DbRole } from "../platform/Database.ts"
import { renderTree } from "./document.ts"

export class PreviewNotFound extends Schema.TaggedError<PreviewNotFound>()("PreviewNotFound", {
  kind: Schema.Literals(["page", "component"]),
  id: Schema.String
}) {}

/** The stored tree is not COGO UI JSON (e.g. an editor wrote something else): nothing to render. */
export class PreviewInvalid extends Schema.TaggedError<PreviewInvalid>()("PreviewInvalid", {
  kind: Schema.Literals(["page", "component"]),
  id: Schema.String,
  message: Schema.String
}) {}

export interface RenderedPreview {
  readonly projectId: string
  readonly html: string
}

const decodeTree = Schema.decodeUnknownResult(CogoWidget)
const isToken = Schema.is(DesignToken)

interface EntityRow { readonly project_id: string; readonly name: string; readonly definition: unknown }
interface ThemeRow { readonly tokens: unknown }
interface AssetRow { readonly image_ref: string | null; readonly url: string }
interface SymbolRow { readonly definition: unknown }

const field = (value: unknown, key: string): unknown =>
  typeof value === "object" && value !== null && key in value ? (value as Record<string, unknown>)[key] : undefined

const themeTokens = (rows: ReadonlyArray<ThemeRow>): ReadonlyArray<DesignToken> =>
  rows.flatMap((row) => {
    const tokens = field(row.tokens, "tokens")
    return Array.isArray(tokens) ? tokens.filter(isToken) : []
  })

export class PagePreview extends Context.Service<PagePreview, {
  /** The page `id` as HTML for `principal`, with the live-reload script using `nonce`. */
  readonly page: (principal: Principal, id: string, nonce: string) => Effect.Effect<RenderedPreview, PreviewNotFound | PreviewInvalid | SqlError>
  readonly component: (principal: Principal, id: string, nonce: string) => Effect.Effect<RenderedPreview, PreviewNotFound | PreviewInvalid | SqlError>
}>()("cogo/PagePreview") {
  static readonly layer = Layer.effect(
    PagePreview,
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const db = yield* Database

      const asCaller = <A, E, R>(principal: Principal, effect: Effect.Effect<A, E, R>) =>
        principal.role === "service_role" ? db.withRole(DbRole.service, effect) : db.asUser(principal.claims, effect)

      const load = (kind: "page" | "component", id: string) =>
        Effect.gen(function*() {
          const rows = kind === "page"
            ? yield* sql<EntityRow>`SELECT project_id, name, definition FROM public.pages WHERE id = ${id}::uuid`
            : yield* sql<EntityRow>`SELECT project_id, name, definition FROM public.components WHERE id = ${id}::uuid`
          const row = rows[0]
          if (row === undefined) return undefined
          const projectId = row.project_id
          const themes = yield* sql<ThemeRow>`SELECT tokens FROM public.themes WHERE project_id = ${projectId}::uuid ORDER BY is_default, name`
          const assets = yield* sql<AssetRow>`
            SELECT metadata->>'imageRef' AS image_ref, url FROM public.assets WHERE project_id = ${projectId}::uuid AND url IS NOT NULL`
          const symbols = yield* sql<SymbolRow>`SELECT definition FROM public.symbols WHERE project_id = ${projectId}::uuid`
          return { row, themes, assets, symbols }
        })

      const render = (kind: "page" | "component") =>
        Effect.fn(`PagePreview.${kind}`)(function*(principal: Principal, id: string, nonce: string) {
          const loaded = yield* asCaller(principal, load(kind, id))
          if (loaded === undefined) return yield* new PreviewNotFound({ kind, id })
          const tree = decodeTree(field(loaded.row.definition, "tree"))
          if (Result.isFailure(tree)) return yield* new PreviewInvalid({ kind, id, message: "the stored tree is not COGO UI JSON" })
          const symbols = loaded.symbols.flatMap((s) => {
            const figmaId = field(s.definition, "figmaNodeId")
            const symbolTree = decodeTree(field(s.definition, "tree"))
            return typeof figmaId === "string" && Result.isSuccess(symbolTree) ? [[figmaId, symbolTree.success] as const] : []
          })
          const html = renderTree(tree.success, {
            title: loaded.row.name,
            tokens: themeTokens(loaded.themes),
            assets: new Map(loaded.assets.flatMap((a) => (a.image_ref === null ? [] : [[a.image_ref, a.url] as const]))),
            symbols: new Map(symbols),
            live: { projectId: loaded.row.project_id, nonce }
          })
          yield* Effect.annotateCurrentSpan({ "preview.html_bytes": html.length })
          return { projectId: loaded.row.project_id, html }
        })

      return PagePreview.of({ page: render("page"), component: render("component") })
    })
  )
}
