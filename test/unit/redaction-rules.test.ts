/**
 * Redaction rules (src/services/observability/Redaction.ts), directly, one row per rule of its contract:
 * query parameters `access_token`, `apikey`, `token` (any case) keep their name and lose their value;
 * `Authorization`/`apikey`/`cookie`/`set-cookie`/`x-cogo-signature`/`x-api-key` header attributes are blanked;
 * bearer/basic credentials and JWT-shaped strings are replaced wherever they appear in text.
 */
import { assert, describe, it } from "@effect/vitest"
import { REDACTED, redactAttribute, redactAttributes, redactText } from "../../src/services/observability/Redaction.ts"

const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"

describe("redactText: query parameters", () => {
  it("each secret parameter, after ?, & or ;, in any case, keeps its name and loses its value", () => {
    assert.strictEqual(redactText("/a?access_token=s3cret"), "/a?access_token=REDACTED")
    assert.strictEqual(redactText("/a?x=1&apikey=k3y"), "/a?x=1&apikey=REDACTED")
    assert.strictEqual(redactText("/a?x=1;token=t0k"), "/a?x=1;token=REDACTED")
    assert.strictEqual(redactText("/a?ACCESS_TOKEN=s3cret&Token=t"), "/a?ACCESS_TOKEN=REDACTED&Token=REDACTED")
  })

  it("the value ends at &, #, whitespace, quotes and angle brackets; every occurrence is replaced", () => {
    assert.strictEqual(redactText("/a?token=abc&b=2#frag"), "/a?token=REDACTED&b=2#frag")
    assert.strictEqual(redactText("/a?token=abc#frag"), "/a?token=REDACTED#frag")
    assert.strictEqual(redactText("GET /a?token=abc HTTP/1.1"), "GET /a?token=REDACTED HTTP/1.1")
    assert.strictEqual(redactText("href=\"/a?token=abc\" x"), "href=\"/a?token=REDACTED\" x")
    assert.strictEqual(redactText("'/a?token=abc'"), "'/a?token=REDACTED'")
    assert.strictEqual(redactText("</a?token=abc>"), "</a?token=REDACTED>")
    assert.strictEqual(redactText("/a?token=1 /b?token=2"), "/a?token=REDACTED /b?token=REDACTED")
    assert.strictEqual(redactText("/a?token="), "/a?token=REDACTED")
  })

  it("leaves look-alike names and parameters without a separator alone", () => {
    assert.strictEqual(redactText("/x?tokens=1&mytoken=2"), "/x?tokens=1&mytoken=2")
    assert.strictEqual(redactText("token=abc"), "token=abc")
    assert.strictEqual(redactText("/a?page_token_count=3"), "/a?page_token_count=3")
  })
})

describe("redactText: credentials in text", () => {
  it("Bearer and Basic credentials, any case, keep the scheme and lose the credential", () => {
    assert.strictEqual(redactText("Authorization: Bearer abc.def-ghi_j~k+l/m="), "Authorization: Bearer REDACTED")
    assert.strictEqual(redactText("authorization: basic dXNlcjpwYXNz and more"), "authorization: basic REDACTED and more")
    assert.strictEqual(redactText("BEARER   xyz"), "BEARER REDACTED")
    assert.strictEqual(redactText("a Bearer x, b Bearer y"), "a Bearer REDACTED, b Bearer REDACTED")
  })

  it("the scheme must be a whole word", () => {
    assert.strictEqual(redactText("xBearer abc"), "xBearer abc")
  })

  it("JWT-shaped strings are replaced anywhere, also with an empty signature", () => {
    assert.strictEqual(redactText(`token ${jwt} here`), "token REDACTED here")
    assert.strictEqual(redactText(`a ${jwt} b ${jwt}`), "a REDACTED b REDACTED")
    assert.strictEqual(redactText("x eyJhbGciOi.eyJzdWIiOi. y"), "x REDACTED y")
  })

  it("short or non-JWT segments are not mistaken for a JWT", () => {
    assert.strictEqual(redactText("eyJab.eyJzdWIiOi.x"), "eyJab.eyJzdWIiOi.x")
    assert.strictEqual(redactText("eyJhbGciOi.eyJz.x"), "eyJhbGciOi.eyJz.x")
    assert.strictEqual(redactText("keyJhbGciOi.eyJzdWIiOi.x"), "keyJhbGciOi.eyJzdWIiOi.x")
  })

  it("text with nothing to hide is returned unchanged", () => {
    assert.strictEqual(redactText("GET /rest/v1/projects?select=id"), "GET /rest/v1/projects?select=id")
    assert.strictEqual(redactText(""), "")
  })
})

describe("redactAttribute", () => {
  it("blanks every secret request and response header attribute, whatever its value", () => {
    for (const header of ["authorization", "apikey", "cookie", "set-cookie", "x-cogo-signature", "x-api-key"]) {
      assert.strictEqual(redactAttribute(`http.request.header.${header}`, ["v"]), REDACTED, header)
      assert.strictEqual(redactAttribute(`http.response.header.${header}`, "v"), REDACTED, header)
    }
    assert.strictEqual(redactAttribute("HTTP.REQUEST.HEADER.AUTHORIZATION", "v"), REDACTED)
    assert.strictEqual(REDACTED, "REDACTED")
  })

  it("matches whole attribute names only", () => {
    assert.strictEqual(redactAttribute("http.request.header.authorization-hint", "plain"), "plain")
    assert.strictEqual(redactAttribute("x.http.request.header.cookie", "plain"), "plain")
    assert.strictEqual(redactAttribute("http.request.header.accept", "text/html"), "text/html")
  })

  it("redacts strings and the strings inside arrays; other values pass through", () => {
    assert.strictEqual(redactAttribute("url.full", "/a?token=abc"), "/a?token=REDACTED")
    assert.deepStrictEqual(redactAttribute("list", ["Bearer abc", 7, "ok"]), ["Bearer REDACTED", 7, "ok"])
    assert.strictEqual(redactAttribute("http.response.status_code", 200), 200)
    const object = { token: "abc" }
    assert.strictEqual(redactAttribute("object", object), object)
  })
})

describe("redactAttributes", () => {
  it("redacts every entry and keeps every key; undefined stays undefined", () => {
    assert.deepStrictEqual(
      redactAttributes({ "http.request.header.cookie": "c=1", "url.query": "token=abc&apikey=k", "n": 1 }),
      { "http.request.header.cookie": "REDACTED", "url.query": "token=abc&apikey=REDACTED", "n": 1 }
    )
    assert.isUndefined(redactAttributes(undefined))
    assert.deepStrictEqual(redactAttributes({}), {})
  })
})
