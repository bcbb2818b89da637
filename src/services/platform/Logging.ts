/**
 * Log output: JSON lines (default) or pretty lines for a terminal, at the configured level (`LOG_LEVEL`).
 * Every JSON line written inside a span carries `traceId` and `spanId`, so a log line leads to its trace in
 * `GET /traces/:traceId` or Jaeger; log lines also become events on the current span (effect's tracer
 * logger). Secrets are `Redacted` values everywhere, which print as `<redacted>`.
 */
import { Context, Effect, Formatter, Layer, Logger, References, Tracer } from "effect"
import { AppConfig } from "./AppConfig.ts"

/** effect's structured JSON line plus the ids of the span the line was logged in. */
export const jsonLogger = Logger.withConsoleLog(Logger.make((options) => {
  const structured = Logger.formatStructured.log(options)
  const span = Context.getOrUndefined(options.fiber.context, Tracer.ParentSpan)
  return Formatter.formatJson(span === undefined ? structured : { ...structured, traceId: span.traceId, spanId: span.spanId })
}))

export const LoggingLive = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* AppConfig
    const logger = config.logFormat === "json" ? jsonLogger : Logger.consolePretty()
    return Layer.mergeAll(
      Logger.layer([logger, Logger.tracerLogger]),
      Layer.succeed(References.MinimumLogLevel, config.logLevel)
    )
  })
)
