/**
 * The PostgREST query parser's value rules and error messages (src/edge/rest/query.ts), written from what
 * Postgres accepts for each column type and from PostgREST's syntax: a filter value that would fail in SQL
 * must be a 400 here, and a valid one must pass. Complements postgrest-query.test.ts (the query shapes).
 */
import { assert, describe, it } from "@effect/vitest"
import { type Catalogue, kindOf, parseList, parseReadQuery, parseSelect, QueryError, type ReadQuery, validFor } from "../../src/edge/rest/query.ts"

const columns = new Map([
  ["id", kindOf("uuid")],
  ["name", kindOf("text")],
  ["version", kindOf("integer")],
  ["archived", kindOf("boolean")],
  ["created_at", kindOf("timestamp with time zone")]
])
const catalogue: Catalogue = new Map([["projects", columns]])

const parse = (query: string, table = "projects") => parseReadQuery(catalogue, table, new URLSearchParams(query))

const ok = (query: string): ReadQuery => {
  const parsed = parse(query)
  if (parsed instanceof QueryError) throw new Error(`expected a query, got ${parsed.parameter}: ${parsed.message}`)
  return parsed
}

const refused = (query: string, table = "projects"): { readonly tag: string; readonly parameter: string; readonly message: string } => {
  const parsed = parse(query, table)
  if (!(parsed instanceof QueryError)) throw new Error(`expected a QueryError for ${query}`)
  return { tag: parsed._tag, parameter: parsed.parameter, message: parsed.message }
}

describe("validFor: int (int4)", () => {
  it("accepts the int4 range, inclusive, and nothing beyond it", () => {
    assert.isTrue(validFor("int", "2147483647"))
    assert.isTrue(validFor("int", "-2147483647"))
    assert.isTrue(validFor("int", "0"))
    assert.isFalse(validFor("int", "2147483648"))
    assert.isFalse(validFor("int", "12345678901"))
    assert.isFalse(validFor("int", "1.5"))
    assert.isFalse(validFor("int", ""))
  })
})

describe("validFor: number", () => {
  it("accepts decimal and exponent forms", () => {
    for (const value of ["1", "-1", "1.5", "-0.25", "1e3", "1E+3", "1.5e-3", "1e10", "1e308", "1".repeat(30), `0.${"1".repeat(30)}`]) {
      assert.isTrue(validFor("number", value), value)
    }
  })

  it("refuses anything Postgres would not parse as a number, and infinities", () => {
    for (const value of ["abc", "a1", "1a", " 1", "1.", ".5", "--1", "+1", "1e", "1e1234", "1".repeat(31), `0.${"1".repeat(31)}`, "1e+-3", "1x5"]) {
      assert.isFalse(validFor("number", value), value)
    }
    assert.isFalse(validFor("number", `1${"0".repeat(29)}e999`), "overflows to Infinity")
  })
})

describe("validFor: bool, json, text", () => {
  it("bool is exactly true or false", () => {
    assert.strictEqual(validFor("bool", "true"), true)
    assert.strictEqual(validFor("bool", "false"), true)
    for (const value of ["", "TRUE", "1", "t", "yes"]) assert.strictEqual(validFor("bool", value), false, value)
  })

  it("json columns are never filterable", () => {
    assert.strictEqual(validFor("json", "{}"), false)
    assert.strictEqual(validFor("json", ""), false)
  })

  it("text refuses only NUL", () => {
    assert.strictEqual(validFor("text", "anything at all"), true)
    assert.strictEqual(validFor("text", "a\u0000b"), false)
  })
})

describe("validFor: time", () => {
  it("accepts dates, date-times with T or a space, fractions up to microseconds and zone offsets", () => {
    for (
      const value of [
        "2026-01-01",
        "2026-01-01T10:00",
        "2026-01-01 10:00",
        "2026-01-01T10:00:59",
        "2026-01-01T10:00:00.1",
        "2026-01-01T10:00:00.123456",
        "2026-01-01T10:00:00Z",
        "2026-01-01T10:00:00+02:00",
        "2026-01-01T10:00:00-0530"
      ]
    ) assert.isTrue(validFor("time", value), value)
  })

  it("refuses partial, padded, over-precise and impossible values", () => {
    for (
      const value of [
        "x2026-01-01",
        "-2026-01-01",
        "02026-01-01",
        "2026-01-01x",
        "2026-01-01T10",
        "2026-01-01T10:00:00.1234567",
        "2026-01-01T10:00:00.",
        "2026-01-01T10:00:00+2",
        "2026-01-01T10:00:00+02:0",
        "2026-01-01T10:00:00*02:00",
        "2026-01-01T10:00:00+ab:cd",
        "2026-13-45",
        "26-01-01"
      ]
    ) assert.isFalse(validFor("time", value), value)
  })
})

describe("parseList edge cases", () => {
  it("needs both parentheses", () => {
    assert.strictEqual(parseList("a,b)"), undefined)
    assert.strictEqual(parseList("(a,b"), undefined)
  })

  it("a trailing backslash inside a quote is kept literally, then the unclosed quote is refused", () => {
    assert.deepStrictEqual(parseList("(a\\)"), ["a\\"])
    assert.strictEqual(parseList("(\"a\\)"), undefined)
    assert.deepStrictEqual(parseList("(\"a\\\\\")"), ["a\\"])
  })
})

describe("select", () => {
  it("blank or padded `*` selects every column", () => {
    assert.strictEqual(parseSelect(columns, new URLSearchParams("select=%20*%20")), "*")
    assert.strictEqual(parseSelect(columns, new URLSearchParams("select=%20%20")), "*")
    assert.strictEqual(parseSelect(columns, new URLSearchParams("")), "*")
    assert.deepStrictEqual(parseSelect(columns, new URLSearchParams("select=id,%20name")), ["id", "name"])
  })
})

describe("filters", () => {
  it("an unknown filter column is refused by name", () => {
    assert.deepStrictEqual(refused("nope=eq.1"), { tag: "QueryError", parameter: "nope", message: "unknown column \"nope\"" })
  })

  it("an operator without a value compares with the empty string; an empty operator is unsupported", () => {
    assert.deepStrictEqual(ok("name=eq").filters, [{ column: "name", op: "eq", values: [""] }])
    assert.deepStrictEqual(refused("name=.x"), {
      tag: "QueryError",
      parameter: "name",
      message: "unsupported operator \"\" (eq, neq, gt, gte, lt, lte, in, is)"
    })
  })

  it("a bad value names its column and kind", () => {
    assert.deepStrictEqual(refused("version=eq.x"), { tag: "QueryError", parameter: "version", message: "not a valid int: \"x\"" })
    assert.deepStrictEqual(refused("archived=eq.yes"), { tag: "QueryError", parameter: "archived", message: "not a valid bool: \"yes\"" })
  })
})

describe("table, order, limit and offset errors", () => {
  it("an unknown table is refused with its name", () => {
    assert.deepStrictEqual(refused("", "nope"), { tag: "QueryError", parameter: "table", message: "unknown table \"nope\"" })
  })

  it("order terms are trimmed; an empty order is no order; a bad modifier names the `order` parameter", () => {
    assert.deepStrictEqual(ok("order=name.desc,%20version").order, [
      { column: "name", descending: true, nulls: undefined },
      { column: "version", descending: false, nulls: undefined }
    ])
    assert.deepStrictEqual(ok("order=").order, [])
    assert.deepStrictEqual(refused("order=name.sideways"), { tag: "QueryError", parameter: "order", message: "unknown order modifier \"sideways\"" })
  })

  it("limit and offset must be non-negative integers", () => {
    assert.deepStrictEqual(refused("limit=-1"), { tag: "QueryError", parameter: "limit", message: "must be a non-negative integer" })
    assert.deepStrictEqual(refused("offset=1.5"), { tag: "QueryError", parameter: "offset", message: "must be a non-negative integer" })
  })
})
