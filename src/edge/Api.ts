/**
 * The service's HTTP API: one group per edge function, composed here (definitions only; handlers live in
 * `*Live.ts` beside each group and import this file). OpenAPI at `/openapi.json`, docs at `/docs`.
 */
import { HttpApi, HttpApiMiddleware, OpenApi } from "effect/http-api"
import { serviceVersion } from "../services/Version.ts"
import { FigmaCompatApi } from "./FigmaCompatApi.ts"
import { FigmaPluginApi } from "./FigmaPluginApi.ts"
import { HealthApi } from "./HealthApi.ts"
import { ChatApi } from "./ChatApi.ts"
import { EmbedApi } from "./EmbedApi.ts"
import { ProjectionApi } from "./ProjectionApi.ts"
import { TracesApi } from "./TracesApi.ts"
import { AlertsApi } from "./AlertsApi.ts"
import { ArtifactsApi } from "./ArtifactsApi.ts"

export class Api extends HttpApi.make("cogo")
  .add(HealthApi)
  .add(ChatApi)
  .add(EmbedApi)
  .add(ProjectionApi)
  .add(FigmaCompatApi)
  .add(FigmaPluginApi)
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
