/**
 * The service's dependency graph, top to bottom: configuration, database, migrations, services, then the
 * two HTTP servers (API on PORT, metrics on METRICS_PORT).
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { HttpApiBuilder, HttpApiMiddleware, HttpApiScalar } from "effect/http-api"
import { problem } from "../domain/platform/Problem.ts"
import { Api } from "../edge/Api.ts"
import { EdgeHandlersLive, EdgeRoutesLive, EdgeServicesLive } from "./EdgeLive.ts"
import { FigmaCompatLive } from "../edge/figma/FigmaCompatLive.ts"
import { FigmaPluginLive } from "../edge/figma/FigmaPluginLive.ts"
import { PluginTokensLive } from "../edge/figma/PluginTokensLive.ts"
import { HealthLive } from "../edge/health/HealthLive.ts"
import { ObservabilityHandlersLive, ObservabilityRoutesLive, ObservabilityServicesLive } from "./ObservabilityLive.ts"
import { ProblemJsonMiddleware } from "../edge/http/ProblemJson.ts"
import { ProjectionLive } from "../edge/projection/ProjectionLive.ts"
import { PreviewRoutesLive } from "../edge/preview/PreviewRoutes.ts"
import { PagePreview } from "../services/preview/PagePreview.ts"
import { ProjectionApplier } from "../projection/Applier.ts"
import { ProjectionAdmin } from "../projection/ProjectionAdmin.ts"
import { ProjectionWorker } from "../projection/ProjectionWorker.ts"
import { AppConfig } from "../services/platform/AppConfig.ts"
import { Database } from "../services/platform/Database.ts"
import { EventBus } from "../services/platform/EventBus.ts"
import { DrainLive, DrainOnShutdownLive } from "../services/platform/Drain.ts"
import { LeaderLive } from "../services/platform/Leader.ts"
import { RetentionLive } from "../services/platform/Retention.ts"
import { FigmaImport } from "../services/figma/FigmaImport.ts"
import { Auth } from "../services/auth/Auth.ts"
import { PluginTokens } from "../services/auth/PluginTokens.ts"
import { createWarmServer } from "../services/platform/HttpServerWarmup.ts"
import { LoggingLive } from "./LoggingLive.ts"
import { HttpMetricsMiddleware, routeLabel } from "../services/observability/Metrics.ts"
import { MetricsServerLive } from "./MetricsServerLive.ts"
import { Notifications } from "../services/platform/Notifications.ts"
import { Outbox } from "../services/cqrs/Outbox.ts"
import { ProjectCommands } from "../services/cqrs/ProjectCommands.ts"
import { Telemetry } from "../services/observability/Telemetry.ts"
import { AgentsLive } from "./AgentsLive.ts"
import { DatabaseLive } from "./DatabaseLive.ts"

/**
 * Platform services over the database: one LISTEN connection, the event bus, retention, and the replica's
 * place among the others (leader election, drain on SIGTERM).
 */
export const PlatformLive = Layer.mergeAll(EventBus.layer, RetentionLive).pipe(
  Layer.provideMerge(Layer.mergeAll(LeaderLive, DrainLive)),
  Layer.provideMerge(Notifications.layer),
  Layer.provideMerge(DatabaseLive)
)

/** CQRS: outbox + project commands (the cogo write side) and the projection worker with its admin. */
export const CqrsLive = Layer.mergeAll(ProjectCommands.layer, ProjectionWorker.layer, ProjectionAdmin.layer).pipe(
  Layer.provideMerge(ProjectionApplier.layer),
  Layer.provideMerge(Outbox.layer)
)

/** The `figma.import` job kind over its service (needs the Orchestrator). */
const FigmaImportLive = FigmaImport.jobs.pipe(Layer.provide(FigmaImport.layer))

/**
 * Everything the handlers need, built once and shared by both servers: edge and observability services and
 * the Figma import job kind, over the agents (job queue, orchestrator, LLM...), over CQRS, over the platform.
 */
export const ServicesLive = Layer.mergeAll(EdgeServicesLive, ObservabilityServicesLive, FigmaImportLive).pipe(
  Layer.provideMerge(Layer.mergeAll(Auth.layer, PluginTokens.layer)),
  Layer.provideMerge(AgentsLive),
  Layer.provideMerge(CqrsLive),
  Layer.provideMerge(PlatformLive)
)

/** The API routes: every HttpApi group, OpenAPI, docs, raw (SSE, status) routes and global middleware. */
export const ApiRoutes = Layer.mergeAll(
  HttpApiBuilder.layer(Api, { openapiPath: "/openapi.json" }).pipe(
    Layer.provide([HealthLive, ProjectionLive, EdgeHandlersLive, ObservabilityHandlersLive, FigmaCompatLive, FigmaPluginLive, PluginTokensLive]),
    Layer.provide(HttpApiMiddleware.layerProblemDetails({ includeDetails: true }))
  ),
  HttpApiScalar.layer(Api, { path: "/docs" }),
  HttpMetricsMiddleware,
  ProblemJsonMiddleware,
  EdgeRoutesLive,
  ObservabilityRoutesLive,
  PreviewRoutesLive.pipe(Layer.provide(PagePreview.layer)),
  // Unknown paths get a problem+json 404 like every other error.
  HttpRouter.add("*", "/*", (request) =>
    Effect.succeed(HttpServerResponse.jsonUnsafe(problem(404, "not-found", "Not Found", `no route for ${request.method} ${routeLabel(request.url)}`), {
      status: 404,
      contentType: "application/problem+json"
    })))
)

/** The API server on PORT; exposes `HttpServer` so tests can read the bound address. */
export const ApiServerLive = Layer.unwrap(Effect.map(Effect.service(AppConfig), (config) =>
  HttpRouter.serve(ApiRoutes, { disableLogger: true }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(createWarmServer, { port: config.port, host: config.host }))
  )))

/** Logged once both servers listen: how long start-up took (process start to ready). */
const logReady = Effect.gen(function*() {
  const database = yield* Database
  yield* Effect.logInfo("cogo ready").pipe(Effect.annotateLogs({
    backend: database.backend,
    startupMs: Math.round(process.uptime() * 1000)
  }))
})

/** The drain's finalizer is registered after both servers start, so on SIGTERM it runs before they close. */
export const MainLive = DrainOnShutdownLive.pipe(
  Layer.provideMerge(Layer.mergeAll(ApiServerLive, MetricsServerLive)),
  Layer.provideMerge(ServicesLive),
  Layer.provideMerge(Telemetry.layer),
  Layer.provideMerge(LoggingLive),
  Layer.provideMerge(AppConfig.layer),
  Layer.tap((context) => Effect.provide(logReady, context))
)
