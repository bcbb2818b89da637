/**
 * The service's HTTP API: one group per edge function, composed here (definitions only; handlers live in
 * `*Live.ts` beside each group and import this file). OpenAPI at `/openapi.json`, docs at `/docs`.
 */
import { HttpApi, HttpApiMiddleware, OpenApi } from "effect/http-api"
import { serviceVersion } from "../services/Version.ts"
import { HealthApi } from "./HealthApi.ts"

export class Api extends HttpApi.make("cogo")
  .add(HealthApi)
  .middleware(HttpApiMiddleware.ProblemDetails)
  .annotateMerge(OpenApi.annotations({
    title: "cogo",
    version: serviceVersion,
    description: "Backend of the COGO platform: edge functions, IDE reads, realtime streams."
  }))
{}
