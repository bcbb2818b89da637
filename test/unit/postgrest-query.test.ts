/** The PostgREST query parser (src/edge/rest/query.ts), directly: no server, no database. */
import { assert, describe, it } from "@effect/vitest"
import { type Catalogue, kindOf, maxLimit, parseList, parseReadQuery, QueryError, type ReadQuery } from "../../src/edge/rest/query.ts"

const catalogue: Catalogue = new Map([
  ["projects", new Map([
    ["id", kindOf("uuid")],
    ["name", kindOf("text")],
    ["version", kindOf("integer")],
    ["seq", kindOf("bigint")],
    ["archived", kindOf("boolean")],
    ["score", kindOf("double precision")],
    ["created_at", kindOf("timestamp with time zone")],
    ["settings", kindOf("jsonb")]
  ])]
])

const parse = (query: string, table = "projects") => parseReadQuery(catalogue, table, new URLSearchParams(query))

const ok = (query: string): ReadQuery => {
  const parsed = parse(query)
  if (parsed instanceof QueryError) throw new Error(`expected a query, got ${parsed.parameter}: ${parsed.message}`)
  return parsed
}

const refused = (query: string, table = "projects"): QueryError => {
  const parsed = parse(query, table)
  if (!(parsed instanceof QueryError)) throw new Error(`expected a QueryError for ${query}`)
  return parsed
}

describe("column kinds", () => {
  it("maps information_schema data types", () => {
    assert.deepStrictEqual(
      ["uuid", "integer", "smallint", "bigint", "boolean", "json", "jsonb", "real", "numeric", "timestamp without time zone", "date", "text", "character varying"].map(kindOf),
      ["uuid", "int", "int", "bigint", "bool", "json", "json", "number", "number", "time", "time", "text", "text"]
    )
  })
})

describe("in-list splitting", () => {
  it("splits on commas, honours quotes and backslash escapes, refuses unbalanced input", () => {
    assert.deepStrictEqual(parseList("(a,b,c)"), ["a", "b", "c"])
    assert.deepStrictEqual(parseList("(\"a,b\",c)"), ["a,b", "c"])
    assert.deepStrictEqual(parseList("(\"say \\\"hi\\\"\",x)"), ["say \"hi\"", "x"])
    assert.deepStrictEqual(parseList("()"), [])
    assert.deepStrictEqual(parseList("(a,)"), ["a", ""])
    assert.strictEqual(parseList("a,b"), undefined)
    assert.strictEqual(parseList("(a"), undefined)
    assert.strictEqual(parseList("(\"a)"), undefined)
  })
})

describe("parseReadQuery", () => {
  it("an empty query selects every column with no filters, order or paging", () => {
    assert.deepStrictEqual(ok(""), { table: "projects", columns: "*", filters: [], order: [], limit: undefined, offset: undefined })
    assert.strictEqual(ok("select=*").columns, "*")
  })

  it("select lists known columns (trimmed) and refuses unknown ones", () => {
    assert.deepStrictEqual(ok("select=id, name").columns, ["id", "name"])
    const error = refused("select=id,secret")
    assert.strictEqual(error.parameter, "select")
    assert.include(error.message, "\"secret\"")
  })

  it("an unknown table is a QueryError on the parameter `table`", () => {
    assert.strictEqual(refused("", "auth_users").parameter, "table")
  })

  it("comparison filters keep their operator and operand, checked against the column kind", () => {
    assert.deepStrictEqual(ok("version=gte.3&name=eq.a.b&id=neq.a11ce000-0000-4000-8000-000000000001").filters, [
      { column: "version", op: "gte", values: ["3"] },
      { column: "name", op: "eq", values: ["a.b"] },
      { column: "id", op: "neq", values: ["a11ce000-0000-4000-8000-000000000001"] }
    ])
    assert.deepStrictEqual(ok("created_at=lt.2026-01-02T03:04:05Z&score=gt.-1.5e3&seq=lte.123456789012").filters.map((f) => f.op), ["lt", "gt", "lte"])
  })

  it("values that Postgres would reject for the column are refused before any SQL", () => {
    for (const query of ["id=eq.not-a-uuid", "version=eq.2147483648", "version=eq.1.5", "archived=eq.yes", "created_at=gt.yesterday",
      "score=eq.NaN", "seq=eq.1234567890123456789", "name=eq.a\u0000b", "settings=eq.{}"]) {
      const error = refused(query)
      assert.strictEqual(error.parameter, query.slice(0, query.indexOf("=")), query)
    }
    assert.include(refused("settings=eq.{}").message, "json columns cannot be filtered")
  })

  it("in. takes a quoted list, each value checked, at most 1000 values", () => {
    assert.deepStrictEqual(ok("name=in.(a,\"b,c\")").filters, [{ column: "name", op: "in", values: ["a", "b,c"] }])
    assert.deepStrictEqual(ok("version=in.()").filters, [{ column: "version", op: "in", values: [] }])
    assert.include(refused("name=in.a,b").message, "expects a list")
    assert.include(refused("version=in.(1,x)").message, "not a valid int")
    const many = `(${Array.from({ length: 1001 }, (_, i) => i).join(",")})`
    assert.include(refused(`version=in.${encodeURIComponent(many)}`).message, "at most 1000")
    assert.strictEqual(ok(`version=in.${encodeURIComponent(many.replace(",1000", ""))}`).filters[0]?.values.length, 1000)
  })

  it("is. accepts null on any column and true/false only on booleans", () => {
    assert.deepStrictEqual(ok("name=is.null&archived=is.true").filters, [
      { column: "name", op: "is", values: [null] },
      { column: "archived", op: "is", values: [true] }
    ])
    assert.deepStrictEqual(ok("archived=is.false").filters[0]?.values, [false])
    assert.include(refused("name=is.true").message, "boolean column")
    assert.include(refused("name=is.maybe").message, "null, true or false")
  })

  it("unknown operators and unknown filter columns are refused; reserved parameters are not filters", () => {
    assert.include(refused("name=like.a*").message, "unsupported operator \"like\"")
    assert.include(refused("name=a").message, "unsupported operator \"a\"")
    assert.strictEqual(refused("owner=eq.x").parameter, "owner")
    assert.deepStrictEqual(ok("on_conflict=id&columns=name").filters, [])
  })

  it("order takes columns with asc/desc and nulls modifiers, in order", () => {
    assert.deepStrictEqual(ok("order=version.desc.nullslast,name,created_at.asc.nullsfirst").order, [
      { column: "version", descending: true, nulls: "last" },
      { column: "name", descending: false, nulls: undefined },
      { column: "created_at", descending: false, nulls: "first" }
    ])
    assert.include(refused("order=name.sideways").message, "unknown order modifier")
    assert.strictEqual(refused("order=nope.asc").parameter, "order")
  })

  it("limit and offset are non-negative integers, the limit capped", () => {
    const paged = ok("limit=10&offset=20")
    assert.deepStrictEqual([paged.limit, paged.offset], [10, 20])
    assert.strictEqual(ok("limit=999999999").limit, maxLimit)
    for (const bad of ["limit=-1", "limit=1.5", "offset=abc", "limit=", "limit=1234567890"]) {
      assert.strictEqual(refused(bad).parameter, bad.slice(0, bad.indexOf("=")), bad)
    }
  })
})
