/**
 * Artifact paths (src/domain/observability/ArtifactPath.ts), directly: `<project>/<job>/<file path>` with every
 * file segment `[A-Za-z0-9._-]{1,128}`, not `.`/`..`, at most 8 segments, each raw segment decoded exactly once.
 * Expected values are written from that rule, not from the code.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { maxArtifactDepth, parseArtifactUrlPath, parseRelativePath, validSegment } from "../../src/domain/observability/ArtifactPath.ts"

const project = "0f8fad5b-d9cb-469f-a165-70867728950e"
const job = "7c9e6679-7425-40de-944b-e07fc1f90ae7"

const failure = <A>(result: Result.Result<A, string>): string => {
  if (Result.isSuccess(result)) throw new Error(`expected a refusal, got ${JSON.stringify(result.success)}`)
  return result.failure
}

const segmentsOf = (raw: string) => Result.getOrThrow(parseArtifactUrlPath(raw)).segments

describe("validSegment", () => {
  it("accepts the whole alphabet and lengths 1 and 128", () => {
    assert.isTrue(validSegment("AZaz09._-"))
    assert.isTrue(validSegment("a"))
    assert.isTrue(validSegment("x".repeat(128)))
    assert.isTrue(validSegment("...")) // three dots is a name, not a parent reference
    assert.isTrue(validSegment(".hidden"))
  })

  it("refuses '.', '..', empty, too long, and every character outside the alphabet", () => {
    for (const bad of [".", "..", "", "x".repeat(129), "a/b", "a\\b", "a%2e", "a\u0000", "a b", "é", "a:b", "a\nb"]) {
      assert.isFalse(validSegment(bad), JSON.stringify(bad))
    }
  })

  it("anchors the pattern at both ends", () => {
    assert.isFalse(validSegment("/abc"))
    assert.isFalse(validSegment("abc/"))
  })
})

describe("parseRelativePath (writers)", () => {
  it("splits on '/' and keeps the segments in order", () => {
    assert.deepStrictEqual(Result.getOrThrow(parseRelativePath("logs/run-1/out.json")), ["logs", "run-1", "out.json"])
    assert.deepStrictEqual(Result.getOrThrow(parseRelativePath("job.json")), ["job.json"])
  })

  it("allows exactly 8 segments and refuses 9", () => {
    const eight = Array.from({ length: 8 }, (_, i) => `d${i}`).join("/")
    assert.strictEqual(Result.getOrThrow(parseRelativePath(eight)).length, 8)
    assert.strictEqual(failure(parseRelativePath(`${eight}/d8`)), "more than 8 path segments")
    assert.strictEqual(maxArtifactDepth, 8)
  })

  it("refuses traversal, absolute paths and empty segments, naming the bad segment", () => {
    assert.strictEqual(failure(parseRelativePath("../etc/passwd")), "invalid path segment \"..\"")
    assert.strictEqual(failure(parseRelativePath("/etc")), "invalid path segment \"\"")
    assert.strictEqual(failure(parseRelativePath("a//b")), "invalid path segment \"\"")
    assert.strictEqual(failure(parseRelativePath("a/./b")), "invalid path segment \".\"")
    assert.strictEqual(failure(parseRelativePath("ok/b%c")), "invalid path segment \"b%c\"")
  })
})

describe("parseArtifactUrlPath (readers)", () => {
  it("parses project, job and decoded file segments", () => {
    assert.deepStrictEqual(Result.getOrThrow(parseArtifactUrlPath(`${project}/${job}/logs/a%2Db.json`)), {
      projectId: project,
      jobId: job,
      segments: ["logs", "a-b.json"]
    })
  })

  it("the job itself, with or without one trailing '/', lists the job", () => {
    assert.deepStrictEqual(segmentsOf(`${project}/${job}`), [])
    assert.deepStrictEqual(segmentsOf(`${project}/${job}/`), [])
  })

  it("refuses a doubled trailing '/' and an empty segment in the middle", () => {
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}/${job}//`)), "invalid path segment \"\"")
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}/${job}/a//b`)), "invalid path segment \"\"")
  })

  it("a single empty segment is the listing only right after the job", () => {
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}/${job}/a/`)), "invalid path segment \"\"")
  })

  it("requires both ids", () => {
    assert.strictEqual(failure(parseArtifactUrlPath(project)), "expected /artifacts/<project>/<job>[/<path>]")
    assert.strictEqual(failure(parseArtifactUrlPath("")), "expected /artifacts/<project>/<job>[/<path>]")
  })

  it("requires lower-case UUIDs, whole-string", () => {
    assert.strictEqual(failure(parseArtifactUrlPath(`${project.toUpperCase()}/${job}`)), "project must be a lower-case UUID")
    assert.strictEqual(failure(parseArtifactUrlPath(`x${project}/${job}`)), "project must be a lower-case UUID")
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}x/${job}`)), "project must be a lower-case UUID")
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}/${job.toUpperCase()}`)), "job must be a lower-case UUID")
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}/x${job}`)), "job must be a lower-case UUID")
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}/${job}x`)), "job must be a lower-case UUID")
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}/..`)), "job must be a lower-case UUID")
  })

  it("allows exactly 8 file segments and refuses 9", () => {
    const eight = Array.from({ length: 8 }, (_, i) => `d${i}`)
    assert.deepStrictEqual(segmentsOf(`${project}/${job}/${eight.join("/")}`), eight)
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}/${job}/${eight.join("/")}/d8`)), "more than 8 path segments")
  })

  it("decodes each segment exactly once and checks the decoded value", () => {
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}/${job}/%2e%2e`)), "invalid path segment \"..\"")
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}/${job}/a%2Fb`)), "invalid path segment \"a/b\"")
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}/${job}/a%5Cb`)), "invalid path segment \"a\\\\b\"")
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}/${job}/%00`)), "invalid path segment \"\\u0000\"")
    // double encoding decodes to a literal '%', which is outside the alphabet
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}/${job}/%252e%252e`)), "invalid path segment \"%2e%2e\"")
  })

  it("refuses malformed percent-encoding", () => {
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}/${job}/a%zz`)), "malformed percent-encoding")
    assert.strictEqual(failure(parseArtifactUrlPath(`${project}/${job}/ok/%E0%A4%A`)), "malformed percent-encoding")
  })
})
