import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import fc from "fast-check"
import { EdgeServerLive } from "../edge/server.ts"
import { alice, call, rest, tree, userClient } from "./support.ts"

const tables = ["projects", "project_members", "pages", "components", "themes", "assets", "symbols", "project_pages", "action_flows", "project_conflicts", "nope"]
const columns = ["id", "name", "project_id", "user_id", "role", "definition", "tokens", "version", "owner_id", "size_bytes", "is_home", "position", "x\"y", ""]
const values = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom("not-a-uuid", "2020-02-30", "1e999", "-1", "9223372036854775808", "true", "", "'; DROP TABLE x; --", "\\u0000"),
  fc.constant({ tree: tree("ok") }),
  fc.constant({ tree: { type: "Nope" } }),
  fc.constant({ tokens: [{ id: "c", name: "c", type: "color", collection: "x", values: { m: { r: 2 } } }] })
)
const row = fc.dictionary(fc.constantFrom(...columns), values, { maxKeys: 4 })
const filterValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom("eq.1", "eq.not-a-uuid", "in.(a,b", "in.()", "is.null", "is.maybe", "gt.2020-02-30", "eq.", "like.*x*", "eq.9223372036854775808")
)
const query = fc.array(fc.tuple(fc.constantFrom(...columns, "select", "on_conflict", "columns", "limit"), filterValue), { maxLength: 3 })
const request = fc.record({
  method: fc.constantFrom("POST", "PATCH", "DELETE"),
  table: fc.constantFrom(...tables),
  query,
  body: fc.oneof(row, fc.array(row, { maxLength: 3 }), fc.string(), fc.constant("{"), fc.constant("")),
  prefer: fc.constantFrom("", "return=representation", "return=headers-only,count=exact", "resolution=merge-duplicates", "resolution=ignore-duplicates,missing=default"),
  ifMatch: fc.constantFrom(undefined, "\"1\"", "W/\"2\"", "nope", "\"99999999999999999999\""),
  single: fc.boolean()
})

layer(EdgeServerLive(), { excludeTestServices: true })("fuzzed /rest/v1 writes", (it) => {
  it.effect("random bodies, filters and headers on every table: never a 5xx", () =>
    Effect.gen(function*() {
      const a = yield* userClient(alice)
      const project = yield* call(() => a.client.from("projects").insert({ name: "fuzz" }).select("id").single())
      assert.isNull(project.error)
      const samples = fc.sample(request, { numRuns: 300, seed: 12 })
      const statuses = new Map<number, number>()
      for (const sample of samples) {
        const search = new URLSearchParams(sample.query).toString()
        const response = yield* rest(a, `/rest/v1/${sample.table}${search === "" ? "" : `?${search}`}`, {
          method: sample.method,
          ...(sample.method === "DELETE" ? {} : { body: typeof sample.body === "string" ? sample.body : JSON.stringify(sample.body) }),
          headers: {
            ...(sample.prefer === "" ? {} : { prefer: sample.prefer }),
            ...(sample.ifMatch === undefined ? {} : { "if-match": sample.ifMatch }),
            ...(sample.single ? { accept: "application/vnd.pgrst.object+json" } : {})
          }
        })
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1)
        assert.isBelow(response.status, 500, `${sample.method} /rest/v1/${sample.table}?${search} ${JSON.stringify(sample.body)} -> ${JSON.stringify(response.json)}`)
        if (response.status >= 400) {
          const body = response.json as { code?: unknown; message?: unknown }
          assert.isString(body.code, JSON.stringify(body))
          assert.isString(body.message)
        }
      }
      // The run exercised refusals and successes alike.
      assert.isAbove([...statuses.keys()].filter((s) => s >= 400).length, 2, JSON.stringify([...statuses]))
      assert.isTrue([...statuses.keys()].some((s) => s < 300), JSON.stringify([...statuses]))
    }))
})
