/**
 * What users may store as authored content (issue 12): a page's, component's or symbol's `definition` is an
 * object whose `tree`, when present, is COGO UI JSON (the same `CogoWidget` Schema the Figma import writes);
 * a theme's `tokens` is an object whose `tokens`, when present, are design tokens. Other keys (`source`,
 * `fileKey`, `figmaNodeId`, editor metadata) are free. A refusal names the JSON path of the first issue.
 */
import { Result, Schema, SchemaIssue } from "effect"
import { CogoWidget } from "../figma/CogoUi.ts"
import { DesignToken } from "../figma/Uui.ts"

const opt = Schema.optionalKey

export const AuthoredDefinition = Schema.Struct({
  tree: opt(CogoWidget),
  source: opt(Schema.String),
  fileKey: opt(Schema.String),
  figmaNodeId: opt(Schema.String)
})

export const AuthoredTokens = Schema.Struct({
  tokens: opt(Schema.Array(DesignToken)),
  source: opt(Schema.String),
  fileKey: opt(Schema.String)
})

type Check = (value: unknown) => Result.Result<unknown, Schema.SchemaError>
const checkDefinition: Check = Schema.decodeUnknownResult(AuthoredDefinition)
const checkTokens: Check = Schema.decodeUnknownResult(AuthoredTokens)

/** The validated content columns, by table. */
const contentColumns: Readonly<Record<string, Readonly<Record<string, Check>>>> = {
  pages: { definition: checkDefinition },
  components: { definition: checkDefinition },
  symbols: { definition: checkDefinition },
  themes: { tokens: checkTokens }
}

export interface ContentIssue {
  /** JSON path from the column, e.g. `["definition", "tree", "children", 0, "type"]`. */
  readonly path: ReadonlyArray<string | number>
  readonly message: string
}

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

const segment = (s: PropertyKey | { readonly key: PropertyKey }): string | number => {
  const key = typeof s === "object" ? s.key : s
  return typeof key === "number" ? key : String(key)
}

/** The first issue of `value` as `table.column`'s content, or undefined when it is valid (or not content). */
export const contentIssue = (table: string, column: string, value: unknown): ContentIssue | undefined => {
  const check = contentColumns[table]?.[column]
  if (check === undefined) return undefined
  const decoded = check(value)
  if (Result.isSuccess(decoded)) return undefined
  const first = formatIssues(decoded.failure.issue).issues[0]
  return { path: [column, ...(first?.path ?? []).map(segment)], message: first?.message ?? "invalid content" }
}

/** `definition.tree.children.0: message`. */
export const formatContentIssue = (issue: ContentIssue): string => `${issue.path.join(".")}: ${issue.message}`
