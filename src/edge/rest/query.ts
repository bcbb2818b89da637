/**
 * The pure part of the PostgREST-compatible read API (src/edge/rest/Postgrest.ts): parsing and validating a
 * query string against the catalogue of readable columns. No I/O; a bad query is a `QueryError` (a 400).
 */
import { uuidPattern } from "../../domain/platform/Uuid.ts"

export type ColumnKind = "uuid" | "int" | "bigint" | "bool" | "text" | "time" | "json" | "number"
export type Catalogue = ReadonlyMap<string, ReadonlyMap<string, ColumnKind>>

/** The kind of a column from its `information_schema.columns.data_type`. */
export const kindOf = (dataType: string): ColumnKind => {
  switch (dataType) {
    case "uuid":
      return "uuid"
    case "integer":
    case "smallint":
      return "int"
    case "bigint":
      return "bigint"
    case "boolean":
      return "bool"
    case "jsonb":
    case "json":
      return "json"
    case "real":
    case "double precision":
    case "numeric":
      return "number"
    default:
      return dataType.startsWith("timestamp") || dataType === "date" ? "time" : "text"
  }
}

export type FilterOp = "eq" | "neq" | "gt" | "gte" | "lt" | "lte" | "in" | "is"
export interface Filter {
  readonly column: string
  readonly op: FilterOp
  readonly values: ReadonlyArray<string | null | boolean>
}
export interface Order {
  readonly column: string
  readonly descending: boolean
  readonly nulls: "first" | "last" | undefined
}
export interface ReadQuery {
  readonly table: string
  readonly columns: ReadonlyArray<string> | "*"
  readonly filters: ReadonlyArray<Filter>
  readonly order: ReadonlyArray<Order>
  readonly limit: number | undefined
  readonly offset: number | undefined
}

/** A 400 in PostgREST's error shape (code/message/details/hint) and problem+json's. */
export class QueryError {
  readonly _tag = "QueryError"
  constructor(readonly parameter: string, readonly message: string) {}
}

export const maxLimit = 10_000
const comparisons: ReadonlySet<string> = new Set(["eq", "neq", "gt", "gte", "lt", "lte"])
const reserved: ReadonlySet<string> = new Set(["select", "order", "limit", "offset", "on_conflict", "columns"])

const int4Max = 2_147_483_647
const timePattern = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/
const numberPattern = /^-?\d{1,30}(?:\.\d{1,30})?(?:[eE][+-]?\d{1,3})?$/

/** Whether `value` is a literal Postgres accepts for a column of `kind` (so a filter never fails in SQL). */
export const validFor = (kind: ColumnKind, value: string): boolean => {
  switch (kind) {
    case "uuid":
      return uuidPattern.test(value)
    case "int":
      return /^-?\d{1,10}$/.test(value) && Math.abs(Number(value)) <= int4Max
    case "bigint":
      return /^-?\d{1,18}$/.test(value)
    case "number":
      return numberPattern.test(value) && Number.isFinite(Number(value))
    case "bool":
      return value === "true" || value === "false"
    case "time":
      return timePattern.test(value) && !Number.isNaN(Date.parse(value.replace(" ", "T")))
    case "text":
      return !value.includes("\u0000")
    case "json":
      return false
  }
}

const checkValue = (parameter: string, kind: ColumnKind, value: string): QueryError | undefined =>
  validFor(kind, value)
    ? undefined
    : new QueryError(parameter, kind === "json" ? "json columns cannot be filtered" : `not a valid ${kind}: ${JSON.stringify(value)}`)

/** Splits `(a,"b,c",d)` into values (PostgREST's quoting). */
export const parseList = (raw: string): ReadonlyArray<string> | undefined => {
  if (!raw.startsWith("(") || !raw.endsWith(")")) return undefined
  const inner = raw.slice(1, -1)
  const values: Array<string> = []
  let current = ""
  let quoted = false
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!
    if (quoted) {
      if (c === "\\" && i + 1 < inner.length) current += inner[++i]!
      else if (c === "\"") quoted = false
      else current += c
    } else if (c === "\"") quoted = true
    else if (c === ",") {
      values.push(current)
      current = ""
    } else current += c
  }
  if (quoted) return undefined
  if (inner !== "") values.push(current)
  return values
}

type Columns = ReadonlyMap<string, ColumnKind>

const unknownColumn = (columns: Columns, parameter: string, name: string) =>
  columns.has(name) ? undefined : new QueryError(parameter, `unknown column ${JSON.stringify(name)}`)

/** `select=a,b` (or `*`, or absent) against the table's columns. */
export const parseSelect = (columns: Columns, params: URLSearchParams): ReadonlyArray<string> | "*" | QueryError => {
  const select = params.get("select")
  if (select === null || select.trim() === "*" || select.trim() === "") return "*"
  const names = select.split(",").map((s) => s.trim())
  for (const name of names) {
    const bad = unknownColumn(columns, "select", name)
    if (bad) return bad
  }
  return names
}

/** The filters (`col=op.value`) of a query string; every other parameter is one of `reserved`. */
export const parseFilters = (columns: Columns, params: URLSearchParams): ReadonlyArray<Filter> | QueryError => {
  const filters: Array<Filter> = []
  for (const [name, raw] of params) {
    if (reserved.has(name)) continue
    const bad = unknownColumn(columns, name, name)
    if (bad) return bad
    const kind = columns.get(name)!
    const dot = raw.indexOf(".")
    const op = dot < 0 ? raw : raw.slice(0, dot)
    const operand = dot < 0 ? "" : raw.slice(dot + 1)
    if (comparisons.has(op)) {
      const invalid = checkValue(name, kind, operand)
      if (invalid) return invalid
      filters.push({ column: name, op: op as FilterOp, values: [operand] })
    } else if (op === "in") {
      const values = parseList(operand)
      if (values === undefined) return new QueryError(name, "in. expects a list like (a,b,c)")
      if (values.length > 1000) return new QueryError(name, "in. accepts at most 1000 values")
      for (const value of values) {
        const invalid = checkValue(name, kind, value)
        if (invalid) return invalid
      }
      filters.push({ column: name, op: "in", values })
    } else if (op === "is") {
      const value = operand === "null" ? null : operand === "true" ? true : operand === "false" ? false : undefined
      if (value === undefined) return new QueryError(name, "is. expects null, true or false")
      if (value !== null && kind !== "bool") return new QueryError(name, "is.true / is.false need a boolean column")
      filters.push({ column: name, op: "is", values: [value] })
    } else {
      return new QueryError(name, `unsupported operator ${JSON.stringify(op)} (eq, neq, gt, gte, lt, lte, in, is)`)
    }
  }
  return filters
}

/** Parses and validates a PostgREST query string against the catalogue. */
export const parseReadQuery = (catalogue: Catalogue, table: string, params: URLSearchParams): ReadQuery | QueryError => {
  const columns = catalogue.get(table)
  if (columns === undefined) return new QueryError("table", `unknown table ${JSON.stringify(table)}`)
  const column = (parameter: string, name: string) => unknownColumn(columns, parameter, name)
  const selected = parseSelect(columns, params)
  if (selected instanceof QueryError) return selected
  const filters = parseFilters(columns, params)
  if (filters instanceof QueryError) return filters

  const order: Array<Order> = []
  const orderParam = params.get("order")
  if (orderParam !== null && orderParam !== "") {
    for (const term of orderParam.split(",")) {
      const [name = "", ...modifiers] = term.trim().split(".")
      const bad = column("order", name)
      if (bad) return bad
      let descending = false
      let nulls: Order["nulls"] = undefined
      for (const modifier of modifiers) {
        if (modifier === "asc") descending = false
        else if (modifier === "desc") descending = true
        else if (modifier === "nullsfirst") nulls = "first"
        else if (modifier === "nullslast") nulls = "last"
        else return new QueryError("order", `unknown order modifier ${JSON.stringify(modifier)}`)
      }
      order.push({ column: name, descending, nulls })
    }
  }

  const count = (name: "limit" | "offset") => {
    const raw = params.get(name)
    if (raw === null) return undefined
    if (!/^\d{1,9}$/.test(raw)) return new QueryError(name, "must be a non-negative integer")
    return Math.min(Number(raw), maxLimit)
  }
  const limit = count("limit")
  if (limit instanceof QueryError) return limit
  const offset = count("offset")
  if (offset instanceof QueryError) return offset
  return { table, columns: selected, filters, order, limit, offset }
}
