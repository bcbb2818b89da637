/**
 * Artifact paths, `<project>/<job>/<file path>`, validated before any file system access. Artifact names are
 * chosen by the service, so the accepted alphabet is small on purpose: every segment is
 * `[A-Za-z0-9._-]{1,128}`, not `.` or `..`, at most 8 segments. Each raw URL segment is percent-decoded
 * exactly once; what decodes to `/`, `\`, `%` (double encoding), NUL or anything else outside the alphabet
 * is refused, as are empty segments (`//`, absolute paths) and malformed encodings.
 */
import { Result } from "effect"

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
const segmentPattern = /^[A-Za-z0-9._-]{1,128}$/
export const maxArtifactDepth = 8

export interface ArtifactLocation {
  readonly projectId: string
  readonly jobId: string
  /** Validated segments of the file path inside the job's directory (empty: the job itself). */
  readonly segments: ReadonlyArray<string>
}

const decodeOnce = (raw: string): string | undefined => {
  try {
    return decodeURIComponent(raw)
  } catch {
    return undefined
  }
}

/** Checks one decoded file-name segment. */
export const validSegment = (segment: string): boolean =>
  segmentPattern.test(segment) && segment !== "." && segment !== ".."

/** Validates a relative file path given as `/`-separated, already decoded segments (for writers). */
export const parseRelativePath = (relative: string): Result.Result<ReadonlyArray<string>, string> => {
  const segments = relative.split("/")
  if (segments.length > maxArtifactDepth) return Result.fail(`more than ${maxArtifactDepth} path segments`)
  for (const segment of segments) {
    if (!validSegment(segment)) return Result.fail(`invalid path segment ${JSON.stringify(segment)}`)
  }
  return Result.succeed(segments)
}

/**
 * Parses the raw (still percent-encoded) path after `/artifacts/`: `<project>/<job>[/<file path>]`.
 * A single trailing `/` after the job is allowed (the listing).
 */
export const parseArtifactUrlPath = (raw: string): Result.Result<ArtifactLocation, string> => {
  const [project, job, ...afterJob] = raw.split("/")
  const rest = afterJob.length === 1 && afterJob[0] === "" ? [] : afterJob
  if (project === undefined || job === undefined) return Result.fail("expected /artifacts/<project>/<job>[/<path>]")
  if (!uuid.test(project)) return Result.fail("project must be a lower-case UUID")
  if (!uuid.test(job)) return Result.fail("job must be a lower-case UUID")
  if (rest.length > maxArtifactDepth) return Result.fail(`more than ${maxArtifactDepth} path segments`)
  const segments: Array<string> = []
  for (const rawSegment of rest) {
    const decoded = decodeOnce(rawSegment)
    if (decoded === undefined) return Result.fail("malformed percent-encoding")
    if (!validSegment(decoded)) return Result.fail(`invalid path segment ${JSON.stringify(decoded)}`)
    segments.push(decoded)
  }
  return Result.succeed({ projectId: project, jobId: job, segments })
}
