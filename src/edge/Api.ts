/**
 * The service's HTTP API: one group per edge function, composed here (definitions only; handlers live in
 * `*Live.ts` beside each group and import this file). OpenAPI at `/openapi.json`, docs at `/docs`.
 */
import { HttpApi, HttpApiMiddleware, OpenApi } from "effect/http-api"
import { serviceVersion } from "../services/platform/Version.ts"
import { FigmaCompatApi } from "./figma/FigmaCompatApi.ts"
import { FigmaPluginApi } from "./figma/FigmaPluginApi.ts"
import { PluginTokensApi } from "./figma/PluginTokensApi.ts"
import { HealthApi } from "./health/HealthApi.ts"
import { ChatApi } from "./chat/ChatApi.ts"
import { EmbedApi } from "./embed/EmbedApi.ts"
import { ProjectionApi } from "./projection/ProjectionApi.ts"
import { TracesApi } from "./observability/TracesApi.ts"
import { AlertsApi } from "./observability/AlertsApi.ts"
import { ArtifactsApi } from "./observability/ArtifactsApi.ts"

export class Api extends HttpApi.make("cogo")
  .add(HealthApi)
  .add(ChatApi)
  .add(EmbedApi)
  .add(ProjectionApi)
  .add(FigmaCompatApi)
  .add(FigmaPluginApi)
  .add(PluginTokensApi)
  .add(TracesApi)
  .add(AlertsApi)
  .add(ArtifactsApi)
  .middleware(HttpApiMiddleware.ProblemDetails)
  .annotateMerge(OpenApi.annotations({
    title: "cogo",
    version: serviceVersion,
    description: "Backend of the COGO platform: edge functions, IDE reads, realtime streams."
  }))
{}
