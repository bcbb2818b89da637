/**
 * The tracer that exports spans, chosen by `COGO_TRACER`:
 * - `native` (default): effect's built-in tracer; with `OTEL_EXPORTER_OTLP_ENDPOINT`, effect's own OTLP/HTTP
 *   JSON exporter (batches every `OTEL_BSP_SCHEDULE_DELAY` ms). Cheapest; reads only those two variables and
 *   `OTEL_SERVICE_NAME`.
 * - `otel-sdk`: the OpenTelemetry SDK (`NodeTracerProvider`) through `@effect/opentelemetry`, so the standard
 *   `OTEL_*` variables behave as OTel users expect: `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, the
 *   host and process resource detectors, `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG`, span limits,
 *   `OTEL_BSP_*`, and the OTLP/HTTP exporter's `OTEL_EXPORTER_OTLP_*` (endpoint, headers, timeout). Extra
 *   span processors (any OTel exporter) can be passed to `otelSdkTracer`.
 * Either way the process's `TelemetryTracer` wraps it (redaction, span names, idle polls, the /traces store).
 */
import * as OtelResource from "@effect/opentelemetry/Resource"
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http"
import { detectResources, hostDetector, processDetector, resourceFromAttributes } from "@opentelemetry/resources"
import { BatchSpanProcessor, type SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node"
import { Config, Duration, Effect, Option, type Scope, Tracer } from "effect"
import { FetchHttpClient } from "effect/http"
import { OtlpExporter, OtlpSerialization, OtlpTracer } from "effect/observability"
import { AppConfig } from "../platform/AppConfig.ts"
import { serviceVersion } from "../platform/Version.ts"

export type TracerKind = "native" | "otel-sdk"

export interface ExportingTracer {
  readonly kind: TracerKind
  readonly tracer: Tracer.Tracer
  /** Sends buffered spans now (no-op without an exporter). */
  readonly flush: Effect.Effect<void>
  /** The OTLP traces URL spans go to, if any. */
  readonly exportUrl: Option.Option<string>
}

/** The OTLP traces URL: the base endpoint plus `/v1/traces` (as the OTel exporter spec says), unless given. */
export const otlpTracesUrl = (endpoint: URL): string => {
  const base = endpoint.toString().replace(/\/+$/, "")
  return base.endsWith("/v1/traces") ? base : `${base}/v1/traces`
}

const nativeTracer = (exportUrl: Option.Option<string>, exportInterval: Duration.Duration, serviceName: string) =>
  Effect.gen(function*() {
    const flusher = yield* Effect.provide(Effect.service(OtlpExporter.Flusher), OtlpExporter.layerFlusher)
    const tracer = Option.isSome(exportUrl)
      ? yield* OtlpTracer.make({ url: exportUrl.value, resource: { serviceName, serviceVersion }, exportInterval }).pipe(
        Effect.provideService(OtlpExporter.Flusher, flusher),
        Effect.provide([OtlpSerialization.layerJson, FetchHttpClient.layer])
      )
      : Tracer.nativeTracer
    return { kind: "native", tracer, flush: flusher.flush, exportUrl } satisfies ExportingTracer
  })

/** The OpenTelemetry SDK tracer provider (shut down, after a flush, with the scope). */
export const otelSdkTracer = (options: {
  readonly exportUrl: Option.Option<string>
  readonly exportInterval: Duration.Duration
  readonly serviceName: string
  readonly spanProcessors?: ReadonlyArray<SpanProcessor> | undefined
}): Effect.Effect<ExportingTracer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const fromEnv = yield* Effect.provide(Effect.service(OtelResource.Resource), OtelResource.layerFromEnv({ "service.version": serviceVersion }))
    const detected = detectResources({ detectors: [hostDetector, processDetector] })
    // OTEL_SERVICE_NAME, then service.name in OTEL_RESOURCE_ATTRIBUTES, then ours (AppConfig's default).
    const named = fromEnv.attributes["service.name"] === undefined
      ? fromEnv.merge(resourceFromAttributes({ "service.name": options.serviceName }))
      : fromEnv
    const resource = detected.merge(named)
    const processors: Array<SpanProcessor> = [...(options.spanProcessors ?? [])]
    if (Option.isSome(options.exportUrl)) {
      processors.push(new BatchSpanProcessor(new OTLPTraceExporter({ url: options.exportUrl.value }), {
        scheduledDelayMillis: Duration.toMillis(options.exportInterval)
      }))
    }
    const provider = yield* Effect.acquireRelease(
      Effect.sync(() => new NodeTracerProvider({ resource, spanProcessors: processors })),
      (provider) => Effect.promise(() => provider.forceFlush().finally(() => provider.shutdown())).pipe(Effect.timeoutOption("3 seconds"))
    )
    const tracer = yield* OtelTracer.make.pipe(
      Effect.provideService(OtelTracer.OtelTracer, provider.getTracer("cogo", serviceVersion))
    )
    return {
      kind: "otel-sdk",
      tracer,
      flush: Effect.promise(() => provider.forceFlush()),
      exportUrl: options.exportUrl
    } satisfies ExportingTracer
  })

/** The configured exporting tracer (`COGO_TRACER`, `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_BSP_SCHEDULE_DELAY`). */
export const exportingTracer = Effect.gen(function*() {
  const config = yield* AppConfig
  const kind = yield* Config.Literals(["native", "otel-sdk"], "COGO_TRACER").pipe(Config.withDefault("native"))
  const exportInterval = Duration.millis(yield* Config.Int("OTEL_BSP_SCHEDULE_DELAY").pipe(Config.withDefault(5000)))
  const exportUrl = Option.map(config.otlpEndpoint, otlpTracesUrl)
  return kind === "otel-sdk"
    ? yield* otelSdkTracer({ exportUrl, exportInterval, serviceName: config.serviceName })
    : yield* nativeTracer(exportUrl, exportInterval, config.serviceName)
})
