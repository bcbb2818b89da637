/**
 * `POST /rest/v1/rpc/resolve_conflict` (supabase-js `supabase.rpc('resolve_conflict', { conflict_id, choice })`):
 * a member resolves a conflict of their project (src/services/authoring/Conflicts.ts) with `mine`, `theirs`
 * or `merge`. Errors in PostgREST's shape: 400 bad arguments, 404 not visible, 403 not an editor, 409 already
 * resolved / overlapping fields (`details` lists their JSON paths) / changed meanwhile.
 */
import { Effect, Result, Schema } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import type { Auth } from "../../services/auth/Auth.ts"
import { type Conflicts, ResolutionChoice } from "../../services/authoring/Conflicts.ts"
import { problemResponse } from "../../services/platform/problemResponse.ts"
import { pgrstError } from "../http/ProblemJson.ts"
import { writeErrorResponse } from "./errors.ts"

const ResolveArgs = Schema.Struct({
  conflict_id: Schema.Number.check(Schema.isInt(), Schema.isGreaterThan(0)),
  choice: ResolutionChoice
})
const decodeArgs = Schema.decodeUnknownResult(ResolveArgs)

export const addRpcRoutes = Effect.fn(function*(router: HttpRouter.HttpRouter, auth: Auth["Service"], conflicts: Conflicts["Service"]) {
  yield* router.add("POST", "/rest/v1/rpc/:fn", (request) =>
    Effect.gen(function*() {
      const principal = yield* auth.authenticate(request)
      const params = yield* HttpRouter.params
      if (params["fn"] !== "resolve_conflict") {
        return pgrstError(404, "PGRST202", `Could not find the function public.${params["fn"] ?? ""} in the schema cache`)
      }
      if (principal.role === "service_role") return pgrstError(403, "42501", "conflicts are resolved by project members")
      const body = yield* Effect.result(request.json)
      const args = Result.isSuccess(body) ? decodeArgs(body.success) : undefined
      if (args === undefined || Result.isFailure(args)) {
        return pgrstError(400, "PGRST102", "expected { conflict_id: positive integer, choice: \"mine\" | \"theirs\" | \"merge\" }")
      }
      const resolution = yield* conflicts.resolve(principal.claims, args.success.conflict_id, args.success.choice)
      return HttpServerResponse.jsonUnsafe(resolution)
    }).pipe(
      Effect.catchTags({
        Unauthorized: (e) => Effect.succeed(problemResponse(e)),
        ResolutionRefused: (e) =>
          Effect.succeed(pgrstError(e.status, `PT${e.status}`, e.message, { details: e.paths === undefined ? e.reason : e.paths.join(", ") })),
        ProjectCommandRejected: (e) => Effect.succeed(pgrstError(409, "PT409", e.message, { details: e.reason })),
        SqlError: writeErrorResponse
      }),
      Effect.catchTag("NotInTransaction", (e) => Effect.die(e))
    ))
})
