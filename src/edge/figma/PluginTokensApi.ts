/**
 * Plugin tokens of a project (`/functions/v1/projects/:projectId/plugin-tokens`): its owners create, list and
 * revoke the tokens the Figma plugin uploads with (docs/figma-service.md). The secret is in the create
 * answer only; lists never show it. Every call needs a user JWT of one of the project's owners (403 otherwise).
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { Forbidden, NotFound, ServiceUnavailable } from "../../domain/platform/Problem.ts"
import { Uuid } from "../../domain/platform/Uuid.ts"
import { Authentication } from "../../services/auth/Auth.ts"

export const PluginTokenInfo = Schema.Struct({
  id: Schema.String,
  projectId: Schema.String,
  name: Schema.String,
  createdBy: Schema.String,
  createdAt: Schema.String,
  expiresAt: Schema.String,
  revokedAt: Schema.NullOr(Schema.String),
  lastUsedAt: Schema.NullOr(Schema.String)
}).annotate({ identifier: "PluginTokenInfo" })

export const CreatePluginToken = Schema.Struct({
  name: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100)),
  /** Days until the token expires (default 30, at most 365). */
  expiresInDays: Schema.optionalKey(Schema.Number.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 365 })))
}).annotate({ identifier: "CreatePluginToken" })

export const CreatedPluginToken = Schema.Struct({
  ...PluginTokenInfo.fields,
  /** The token itself: shown this once, stored only as a hash. */
  token: Schema.String
}).pipe(HttpApiSchema.status(201)).annotate({ identifier: "CreatedPluginToken" })

export const PluginTokenList = Schema.Struct({ tokens: Schema.Array(PluginTokenInfo) }).annotate({ identifier: "PluginTokenList" })

const projectParams = { projectId: Uuid }
const errors = [Forbidden, NotFound, ServiceUnavailable]

export class PluginTokensApi extends HttpApiGroup.make("pluginTokens").add(
  HttpApiEndpoint.post("create", "/functions/v1/projects/:projectId/plugin-tokens", {
    params: projectParams,
    payload: CreatePluginToken,
    success: CreatedPluginToken,
    error: errors
  }),
  HttpApiEndpoint.get("list", "/functions/v1/projects/:projectId/plugin-tokens", {
    params: projectParams,
    success: PluginTokenList,
    error: errors
  }),
  HttpApiEndpoint.delete("revoke", "/functions/v1/projects/:projectId/plugin-tokens/:tokenId", {
    params: { projectId: Uuid, tokenId: Uuid },
    success: PluginTokenInfo,
    error: errors
  })
).middleware(Authentication) {}
