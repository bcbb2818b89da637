/**
 * `/rest/v1` write errors in PostgREST's shape and with its status mapping, from the SQLSTATE PostgreSQL
 * answered (https://postgrest.org/en/stable/references/errors.html): unique/foreign key violations 409,
 * insufficient privilege (RLS refused the row) 403, not-null/check violations and bad values 400, a raised
 * `PTxyz` is HTTP xyz. An unreachable database and anything unexpected stay failures: the edge middleware
 * answers 503 (+ Retry-After) or 500 through `failureResponse` (src/edge/http/ProblemJson.ts).
 */
import { Effect } from "effect"
import type { HttpServerResponse } from "effect/http"
import type { SqlError } from "effect/sql/SqlError"
import { classifySqlError, sqlStateOf } from "../../services/platform/Database.ts"
import { pgrstError } from "../http/ProblemJson.ts"

/** SQLSTATEs that are the request's fault, beyond class 22 (data exceptions) and PTxyz. */
const statusByCode: Readonly<Record<string, number>> = {
  "23505": 409, // unique_violation
  "23503": 409, // foreign_key_violation
  "23P01": 409, // exclusion_violation
  "40001": 409, // serialization_failure
  "40P01": 409, // deadlock_detected
  "42501": 403, // insufficient_privilege (RLS)
  "23502": 400, // not_null_violation
  "23514": 400, // check_violation
  "42P10": 400, // on_conflict names no unique index
  "42883": 400, // undefined_function (an operator that does not apply to the value)
  "42804": 400, // datatype_mismatch
  "21000": 400, // cardinality_violation
  "P0001": 400, // raise_exception
  "54001": 400 // statement too complex (deep JSON)
}

/** The HTTP status of a SQLSTATE the caller caused, or undefined. */
export const statusOfSqlState = (code: string): number | undefined => {
  const raised = /^PT([1-5]\d\d)$/.exec(code)
  if (raised !== null) return Number(raised[1])
  return statusByCode[code] ?? (code.startsWith("22") ? 400 : undefined)
}

/** The response to a SqlError of a write: PostgREST's error for the caller's faults, else a defect. */
export const writeErrorResponse = (error: SqlError): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
  const state = sqlStateOf(error)
  const status = state === undefined || classifySqlError(error)._tag === "Unavailable" ? undefined : statusOfSqlState(state.code)
  return state === undefined || status === undefined
    ? Effect.die(error)
    : Effect.succeed(pgrstError(status, state.code, state.message, { details: state.details, hint: state.hint }))
}
