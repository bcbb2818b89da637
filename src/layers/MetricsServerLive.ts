/** The metrics server on METRICS_PORT (Prometheus text), beside the API server. */
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { HttpRouter } from "effect/http"
import { metricsRoutes } from "../services/observability/Metrics.ts"
import { AppConfig } from "../services/platform/AppConfig.ts"
import { createWarmServer } from "../services/platform/HttpServerWarmup.ts"

export const MetricsServerLive = Layer.unwrap(Effect.gen(function*() {
  const config = yield* AppConfig
  const routes = yield* metricsRoutes
  return HttpRouter.serve(Layer.mergeAll(...routes), { disableLogger: true }).pipe(
    Layer.provide(NodeHttpServer.layer(createWarmServer, { port: config.metricsPort, host: config.host }))
  )
}))
