/**
 * Span names per the OpenTelemetry semantic conventions: HTTP server spans `{method} {http.route}`
 * (`POST /functions/v1/figma-plugin`), database client spans `{db.operation.name} {db.collection.name}`
 * (`SELECT cogo.jobs`), or the operation alone when a statement names no table (`BEGIN`).
 */

export interface DbOperation {
  readonly operation: string
  readonly collection: string | undefined
}

const identifier = String.raw`("?[A-Za-z_][\w$]*"?(?:\."?[A-Za-z_][\w$]*"?)?)`
const tableAfter: Record<string, RegExp> = {
  SELECT: new RegExp(String.raw`\bFROM\s+(?:ONLY\s+)?${identifier}`, "i"),
  DELETE: new RegExp(String.raw`\bFROM\s+(?:ONLY\s+)?${identifier}`, "i"),
  INSERT: new RegExp(String.raw`\bINTO\s+${identifier}`, "i"),
  UPDATE: new RegExp(String.raw`^\s*UPDATE\s+(?:ONLY\s+)?${identifier}`, "i"),
  MERGE: new RegExp(String.raw`\bINTO\s+${identifier}`, "i")
}

/** The operation (first keyword; for `WITH ...` the main statement's) and the table it works on, if any. */
export const dbOperation = (queryText: string): DbOperation | undefined => {
  const text = queryText.replace(/--[^\n]*/g, " ").trim()
  const first = /^[A-Za-z]+/.exec(text)?.[0]?.toUpperCase()
  if (first === undefined) return undefined
  let operation = first
  let body = text
  if (first === "WITH") {
    // The main statement follows the last CTE's closing parenthesis.
    const main = /\)\s*(SELECT|INSERT|UPDATE|DELETE|MERGE)\b([\s\S]*)$/i.exec(text)
    if (main === null) return { operation: "WITH", collection: undefined }
    operation = main[1]!.toUpperCase()
    body = `${main[1]}${main[2]}`
  }
  const found = tableOf(operation, body)
  if (first === "WITH" && (found === undefined || cteNames(text).has(found.toLowerCase()))) {
    // `WITH changed AS (UPDATE t ...) SELECT ... FROM changed`: the data-modifying CTE is the operation.
    const dml = new RegExp(String.raw`\(\s*(?:(UPDATE)\s+(?:ONLY\s+)?|(INSERT)\s+INTO\s+|(DELETE)\s+FROM\s+(?:ONLY\s+)?)${identifier}`, "i").exec(text)
    if (dml !== null) return { operation: (dml[1] ?? dml[2] ?? dml[3]!).toUpperCase(), collection: dml[4]!.replace(/"/g, "") }
  }
  return { operation, collection: found }
}

const tableOf = (operation: string, body: string): string | undefined => {
  const pattern = tableAfter[operation]
  const collection = (pattern === undefined ? null : pattern.exec(body))?.[1]?.replace(/"/g, "")
  return collection === undefined || /^(?:select|lateral|unnest)$/i.test(collection) ? undefined : collection
}

const cteNames = (text: string): Set<string> =>
  new Set([...text.matchAll(/(?:WITH|,)\s*(?:RECURSIVE\s+)?"?([A-Za-z_][\w$]*)"?\s+AS\s+(?:NOT\s+)?(?:MATERIALIZED\s+)?\(/gi)].map((m) => m[1]!.toLowerCase()))

export const dbSpanName = (db: DbOperation): string => (db.collection === undefined ? db.operation : `${db.operation} ${db.collection}`)

export const httpServerSpanName = (method: string, route: string): string => `${method} ${route}`
