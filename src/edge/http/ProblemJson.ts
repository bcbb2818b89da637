/**
 * Error responses of the whole edge surface:
 * - `ProblemJsonMiddleware` (global): HttpApi encodes declared errors as `application/json`; this labels every
 *   JSON 4xx/5xx as `application/problem+json` (RFC 9457), so clients can rely on the media type;
 * - `failureResponse`: what a request that failed (a failure or a defect, e.g. a database error a handler
 *   could not handle) answers, from the one classification in `classifySqlError`
 *   (src/services/platform/Database.ts): an unreachable database is 503 + `Retry-After`, a value PostgreSQL
 *   refused is 400; any other failure answers what the HTTP server would (a respondable error its status),
 *   with a problem+json body instead of an empty 500. Under `/rest/v1` in PostgREST's error shape (`code`, `message`,
 *   `details`, `hint`, which supabase-js reads), elsewhere problem+json.
 */
import { Cause, Effect } from "effect"
import { HttpRouter, HttpServerError, HttpServerResponse } from "effect/http"
import { problem } from "../../domain/platform/Problem.ts"
import { classifyDatabaseFailure, type SqlErrorClass } from "../../services/platform/Database.ts"
import { problemResponse } from "../../services/platform/problemResponse.ts"

/** Seconds a client should wait before retrying after a 503 (database outage). */
export const retryAfterSeconds = 5

export const restPrefix = "/rest/v1/"

const titles: Readonly<Record<number, string>> = {
  400: "Bad Request",
  404: "Not Found",
  406: "Not Acceptable",
  500: "Internal Server Error",
  503: "Service Unavailable"
}

/** An error in PostgREST's shape (`code`/`message`/`details`/`hint`) that is also a problem+json object. */
export const pgrstError = (
  status: number,
  code: string,
  message: string,
  options: { readonly details?: string | null; readonly hint?: string | null; readonly headers?: Record<string, string> } = {}
) =>
  HttpServerResponse.jsonUnsafe({
    ...problem(status, "rest-query", titles[status] ?? "Error", message),
    code,
    message,
    details: options.details ?? null,
    hint: options.hint ?? null
  }, { status, contentType: "application/problem+json", ...(options.headers === undefined ? {} : { headers: options.headers }) })

const retryAfter = { "retry-after": String(retryAfterSeconds) }

/** The SqlError in a failure or defect (or in its `cause` chain), classified. */
const databaseFailureOf = (cause: Cause.Cause<unknown>): SqlErrorClass | undefined => {
  for (const reason of cause.reasons) {
    let value: unknown = Cause.isFailReason(reason) ? reason.error : Cause.isDieReason(reason) ? reason.defect : undefined
    for (let depth = 0; depth < 4 && typeof value === "object" && value !== null; depth++) {
      const classified = classifyDatabaseFailure(value)
      if (classified !== undefined) return classified
      value = (value as { readonly cause?: unknown }).cause
    }
  }
  return undefined
}

/** The response for a request that failed with `cause` (not an interruption) on `path`. */
export const failureResponse = (cause: Cause.Cause<unknown>, path: string): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
  const rest = path.startsWith(restPrefix)
  const failure = databaseFailureOf(cause)
  switch (failure?._tag) {
    case "Unavailable":
      return Effect.succeed(rest
        ? pgrstError(503, "PGRST001", "Could not connect with the database", { details: failure.message, headers: retryAfter })
        : problemResponse(problem(503, "database-unavailable", "Service Unavailable", "the database is unavailable; retry later"), retryAfter))
    case "InvalidInput":
      return Effect.succeed(rest
        ? pgrstError(400, failure.code, failure.message, { details: failure.details, hint: failure.hint })
        : problemResponse(problem(400, "invalid-value", "Bad Request", failure.message)))
    default:
      return Effect.map(HttpServerError.causeResponse(cause), ([response]) =>
        response.status < 500 || response.body._tag !== "Empty"
          ? response
          : rest
          ? pgrstError(500, "PGRST000", "Internal server error")
          : problemResponse(problem(500, "internal-error", "Internal Server Error", "an unexpected error occurred")))
  }
}

export const ProblemJsonMiddleware = HttpRouter.middleware((app) =>
  Effect.map(app, (response) => {
    const body = response.body as { readonly contentType?: string | undefined }
    const contentType = response.headers["content-type"] ?? body.contentType ?? ""
    return response.status >= 400 && contentType.startsWith("application/json")
      ? HttpServerResponse.setHeader(response, "content-type", "application/problem+json")
      : response
  }), { global: true })
