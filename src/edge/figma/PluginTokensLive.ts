/** Handlers of the plugin-token group: the caller must own the project (member role `owner`). */
import { Effect, Option } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { HttpApiBuilder } from "effect/http-api"
import { Forbidden, NotFound, problem, ServiceUnavailable } from "../../domain/platform/Problem.ts"
import { CurrentUser } from "../../services/auth/Auth.ts"
import { PluginTokens } from "../../services/auth/PluginTokens.ts"
import { Api } from "../Api.ts"

const defaultExpiryDays = 30

const unavailable = (_: SqlError) =>
  Effect.fail(new ServiceUnavailable(problem(503, "storage-unavailable", "Service Unavailable", "plugin tokens are unavailable; retry later")))

export const PluginTokensLive = HttpApiBuilder.group(Api, "pluginTokens", Effect.fn(function*(handlers) {
  const tokens = yield* PluginTokens

  /** Fails with 404 when the project does not exist, 403 when the caller is not one of its owners. */
  const requireOwner = Effect.fn("PluginTokens.requireOwner")(function*(projectId: string) {
    const principal = yield* CurrentUser
    const access = yield* tokens.access(principal.userId, projectId)
    if (access === "missing") {
      return yield* new NotFound(problem(404, "project-not-found", "Not Found", `project ${projectId} does not exist`))
    }
    if (access !== "owner") {
      return yield* new Forbidden(problem(403, "project-owner-required", "Forbidden", "only the project's owners manage its plugin tokens"))
    }
    return principal
  })

  return handlers
    .handle("create", ({ params, payload }) =>
      Effect.gen(function*() {
        const principal = yield* requireOwner(params.projectId)
        const days = payload.expiresInDays ?? defaultExpiryDays
        const created = yield* tokens.create({
          projectId: params.projectId,
          name: payload.name,
          createdBy: principal.userId,
          expiresAt: new Date(Date.now() + days * 86_400_000)
        })
        return { ...created.info, token: created.token }
      }).pipe(Effect.catchTag("SqlError", unavailable)))
    .handle("list", ({ params }) =>
      Effect.gen(function*() {
        yield* requireOwner(params.projectId)
        return { tokens: yield* tokens.list(params.projectId) }
      }).pipe(Effect.catchTag("SqlError", unavailable)))
    .handle("revoke", ({ params }) =>
      Effect.gen(function*() {
        yield* requireOwner(params.projectId)
        const revoked = yield* tokens.revoke(params.projectId, params.tokenId)
        if (Option.isNone(revoked)) {
          return yield* new NotFound(problem(404, "plugin-token-not-found", "Not Found", `project ${params.projectId} has no token ${params.tokenId}`))
        }
        return revoked.value
      }).pipe(Effect.catchTag("SqlError", unavailable)))
}))
