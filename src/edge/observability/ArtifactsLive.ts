/**
 * Artifacts over HTTP: the listing (HttpApi group) and the files (raw route, because the file path has any
 * depth). Both require a caller that is a member of the project (`public.is_project_member` evaluated as
 * that caller, like RLS) or the service role. The raw URL is validated before anything else, so traversal
 * attempts are refused with 400 whoever asks; non-members get 403, missing files 404.
 */
import { Effect, Metric, Result } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { HttpApiBuilder } from "effect/http-api"
import { SqlClient } from "effect/sql/SqlClient"
import { parseArtifactUrlPath } from "../../domain/observability/ArtifactPath.ts"
import { Forbidden, problem } from "../../domain/platform/Problem.ts"
import { Artifacts, artifactsServed } from "../../services/observability/Artifacts.ts"
import { Auth, CurrentUser, type Principal } from "../../services/auth/Auth.ts"
import { Database } from "../../services/platform/Database.ts"
import { Api } from "../Api.ts"
import { problemResponse } from "../../services/platform/problemResponse.ts"

const count = (outcome: string) => Metric.update(Metric.withAttributes(artifactsServed, { outcome }), 1)

/** Fails with 403 unless the caller is the service or a member of the project. */
const requireMember = Effect.fn("Artifacts.requireMember")(function*(principal: Principal, projectId: string) {
  if (principal.role === "service_role") return
  const db = yield* Database
  const sql = yield* SqlClient
  const rows = yield* db.asUser(principal.claims, sql<{ member: boolean }>`SELECT public.is_project_member(${projectId}::uuid) AS member`)
  if (rows[0]?.member !== true) {
    yield* count("forbidden")
    return yield* new Forbidden(problem(403, "not-a-project-member", "Forbidden", "artifacts are served only to members of the project"))
  }
})

export const ArtifactsLive = HttpApiBuilder.group(Api, "artifacts", Effect.fn(function*(handlers) {
  const artifacts = yield* Artifacts
  const db = yield* Database
  const sql = yield* SqlClient
  return handlers.handle("list", ({ params }) =>
    Effect.gen(function*() {
      const principal = yield* CurrentUser
      yield* requireMember(principal, params.projectId)
      const list = yield* artifacts.list(params, `/artifacts/${params.projectId}/${params.jobId}`)
      yield* count("listed")
      return { projectId: params.projectId, jobId: params.jobId, artifacts: list }
    }).pipe(
      Effect.provideService(Database, db),
      Effect.provideService(SqlClient, sql),
      Effect.catchTags({ SqlError: Effect.die, ArtifactIoError: Effect.die })
    ))
}))

const securityHeaders = {
  "x-content-type-options": "nosniff",
  // Artifacts may be HTML or SVG written from user content: never let them run script on this origin.
  "content-security-policy": "sandbox; default-src 'none'",
  "cache-control": "private, no-store"
}

/** `GET /artifacts/<project>/<job>/<path...>`: one file, with its content type and length. */
export const ArtifactFilesRoute = HttpRouter.add("GET", "/artifacts/*", (request: HttpServerRequest.HttpServerRequest) =>
  Effect.gen(function*() {
    const auth = yield* Auth
    const artifacts = yield* Artifacts
    const rawPath = (request.url.split("?")[0] ?? "").replace(/^\/artifacts\//, "")
    const location = parseArtifactUrlPath(rawPath)
    if (Result.isFailure(location)) {
      yield* count("refused_path")
      return problemResponse(problem(400, "invalid-artifact-path", "Bad Request", location.failure))
    }
    const principal = yield* auth.authenticate(request)
    yield* requireMember(principal, location.success.projectId)
    const file = yield* artifacts.open(location.success)
    yield* count("served")
    return yield* HttpServerResponse.file(file.realPath, {
      contentType: file.contentType,
      headers: { ...securityHeaders, "content-length": String(file.size) }
    })
  }).pipe(
    Effect.catchTags({
      Unauthorized: (e) => Effect.succeed(problemResponse(e)),
      Forbidden: (e) => Effect.succeed(problemResponse(e)),
      ArtifactPathRefused: (e) =>
        Effect.as(count("refused_path"), problemResponse(problem(400, "invalid-artifact-path", "Bad Request", e.reason))),
      ArtifactNotFound: (e) =>
        Effect.as(count("not_found"), problemResponse(problem(404, "artifact-not-found", "Not Found", `no artifact ${e.path}`)))
    })
  ))
