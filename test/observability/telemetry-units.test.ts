/** The pure parts of the tracer: semantic-convention names, the idle-poll rule, text redaction. */
import { assert, describe, it } from "@effect/vitest"
import { Exit } from "effect"
import { redactAttribute, redactText } from "../../src/services/observability/Redaction.ts"
import { dbOperation, dbSpanName } from "../../src/services/observability/SpanNames.ts"
import { isIdleResult } from "../../src/services/observability/TelemetryTracer.ts"

describe("span names", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ["SELECT id FROM cogo.jobs WHERE state = 'queued'", "SELECT cogo.jobs"],
    [`INSERT INTO "cogo"."bus_events" (topic) VALUES ($1)`, "INSERT cogo.bus_events"],
    ["UPDATE ONLY cogo.jobs SET state = 'done'", "UPDATE cogo.jobs"],
    ["DELETE FROM public.pages WHERE project_id = $1", "DELETE public.pages"],
    ["WITH changed AS (UPDATE cogo.jobs j SET state = 'running' RETURNING j.id) SELECT * FROM changed", "UPDATE cogo.jobs"],
    ["WITH x AS (SELECT 1) SELECT * FROM public.components JOIN x ON true", "SELECT public.components"],
    ["-- comment\nBEGIN", "BEGIN"],
    ["SELECT public.is_project_member($1::uuid) AS member", "SELECT"]
  ]
  for (const [query, name] of cases) {
    it(name, () => assert.strictEqual(dbSpanName(dbOperation(query)!), name))
  }
})

describe("idle polls", () => {
  it("an empty result is idle; work, void and failures are not", () => {
    assert.isTrue(isIdleResult(Exit.succeed([])))
    assert.isTrue(isIdleResult(Exit.succeed(0)))
    assert.isTrue(isIdleResult(Exit.succeed({ claimed: 0, applied: 0, mode: "idle" })))
    assert.isFalse(isIdleResult(Exit.succeed([1])))
    assert.isFalse(isIdleResult(Exit.succeed({ claimed: 2, applied: 0 })))
    assert.isFalse(isIdleResult(Exit.succeed(undefined)))
    assert.isFalse(isIdleResult(Exit.succeed({ mode: "idle" })))
    assert.isFalse(isIdleResult(Exit.fail("boom")))
  })
})

describe("redaction", () => {
  const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
  it("query parameters, bearer credentials and JWTs", () => {
    assert.strictEqual(redactText(`/x?access_token=${jwt}&a=1`), "/x?access_token=REDACTED&a=1")
    assert.strictEqual(redactText("/x?a=1&APIKEY=abc&token=t0k#f"), "/x?a=1&APIKEY=REDACTED&token=REDACTED#f")
    assert.strictEqual(redactText("Authorization: Bearer abc.def-ghi"), "Authorization: Bearer REDACTED")
    assert.strictEqual(redactText(`token ${jwt} here`), "token REDACTED here")
    assert.strictEqual(redactText("/x?tokens=1&mytoken=2"), "/x?tokens=1&mytoken=2")
    assert.strictEqual(redactAttribute("http.request.header.x-cogo-signature", ["v1=abc"]), "REDACTED")
    assert.strictEqual(redactAttribute("http.response.status_code", 200), 200)
  })
})
