/** Problem errors (src/domain/platform/Problem.ts) as problem+json responses, for raw routes and router middleware. */
import { HttpServerResponse } from "effect/http"
import { problem } from "../../domain/platform/Problem.ts"

interface ProblemFields {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail: string
  readonly errors?: ReadonlyArray<{ readonly path: ReadonlyArray<string | number>; readonly message: string }> | undefined
}

export const problemResponse = (error: ProblemFields, headers?: Record<string, string>) => {
  const { type, title, status, detail, errors } = error
  return HttpServerResponse.jsonUnsafe(errors === undefined ? { type, title, status, detail } : { type, title, status, detail, errors }, {
    status,
    contentType: "application/problem+json",
    ...(headers === undefined ? {} : { headers })
  })
}

/** A 400 naming the offending field (`path`), like the HttpApi's own validation errors. */
export const badRequest = (path: ReadonlyArray<string | number>, message: string) =>
  problemResponse({ ...problem(400, "invalid-request", "Bad Request", `${path.join(".")}: ${message}`), errors: [{ path, message }] })
