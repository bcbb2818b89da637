/**
 * Log output: JSON lines (default) or pretty lines for a terminal, at the configured level (`LOG_LEVEL`).
 * Every JSON line written inside a span carries `traceId` and `spanId`, so a log line leads to its trace in
 * `GET /traces/:traceId` or Jaeger; log lines also become events on the current span (effect's tracer
 * logger). Secrets are `Redacted` values everywhere, which print as `<redacted>`; on top of that every line
 * (JSON or pretty) passes through `redactText`, so a token in a URL (`?access_token=`), a bearer credential
 * or a JWT that reached a message or an annotation is written as `REDACTED`.
 */
import { Context, Effect, Formatter, Layer, Logger, References, Tracer } from "effect"
import { redactText } from "../observability/Redaction.ts"
import { AppConfig } from "./AppConfig.ts"

/** effect's structured JSON line plus the ids of the span the line was logged in. */
export const jsonLogger = Logger.withConsoleLog(Logger.make((options) => {
  const structured = Logger.formatStructured.log(options)
  const span = Context.getOrUndefined(options.fiber.context, Tracer.ParentSpan)
  return redactText(Formatter.formatJson(span === undefined ? structured : { ...structured, traceId: span.traceId, spanId: span.spanId }))
}))

/** effect's pretty terminal logger, redacted the same way. */
const prettyLogger = Logger.withConsoleLog(Logger.map(Logger.formatLogFmt, redactText))

/** The configured log output (JSON or pretty lines), plus effect's tracer logger (lines as span events). */
export const loggerLayer = Layer.unwrap(Effect.map(Effect.service(AppConfig), (config) =>
  Logger.layer([config.logFormat === "json" ? jsonLogger : prettyLogger, Logger.tracerLogger])))

/** The configured minimum level (`LOG_LEVEL`). */
export const logLevelLayer = Layer.unwrap(Effect.map(Effect.service(AppConfig), (config) =>
  Layer.succeed(References.MinimumLogLevel, config.logLevel)))
