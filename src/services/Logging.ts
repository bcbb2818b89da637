/**
 * Log output: JSON lines (default; the trace and span ids of the current span are included by effect's
 * structured format) or pretty lines for a terminal, at the configured level. Secrets are `Redacted` values
 * everywhere, which print as `<redacted>`.
 */
import { Effect, Layer, Logger, References } from "effect"
import { AppConfig } from "./AppConfig.ts"

export const LoggingLive = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* AppConfig
    const logger = config.logFormat === "json" ? Logger.consoleJson : Logger.consolePretty()
    return Layer.mergeAll(
      Logger.layer([logger]),
      Layer.succeed(References.MinimumLogLevel, config.logLevel)
    )
  })
)
