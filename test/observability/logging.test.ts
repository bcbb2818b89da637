import { assert, describe, it } from "@effect/vitest"
import { Config, Console, Effect, Layer, Option, Redacted } from "effect"
import { ConfigProvider } from "effect"
import { AppConfig } from "../../src/services/platform/AppConfig.ts"
import { LoggingLive } from "../../src/layers/LoggingLive.ts"
import { Telemetry } from "../../src/services/observability/Telemetry.ts"
import { otlpReceiver } from "./support.ts"

const secret = "sk-live-7f3a9c0d2e41b5a6"
const dbPassword = "pg-pass-c81f2a"

/** LoggingLive as the service builds it, from an explicit environment, writing into `lines`. */
const loggingFor = (env: Record<string, string>, lines: Array<string>) => {
  const capture: Console.Console = Object.assign(Object.create(console) as Console.Console, {
    log: (...args: ReadonlyArray<unknown>) => void lines.push(args.map(String).join(" ")),
    error: (...args: ReadonlyArray<unknown>) => void lines.push(args.map(String).join(" "))
  })
  return LoggingLive.pipe(
    Layer.provideMerge(AppConfig.layer),
    Layer.provideMerge(ConfigProvider.layer(ConfigProvider.fromEnvRecord({
      DATABASE_URL: `postgres://cogo:${dbPassword}@db.example:5432/cogo`,
      OPENAI_API_KEY: secret,
      ...env
    }))),
    Layer.provideMerge(Layer.succeed(Console.Console, capture))
  )
}

describe("structured logs", () => {
  it.effect("every JSON line inside a span carries its trace and span ids; lines outside carry none", () => {
    const lines: Array<string> = []
    return Effect.gen(function*() {
      yield* Effect.logInfo("outside")
      const inner = Effect.fn("Logging.test.inner")(function*() {
        yield* Effect.logWarning("inside")
        return yield* Effect.currentSpan
      })
      const span = yield* inner()
      const parsed = lines.map((l) => JSON.parse(l) as { message: string; level: string; traceId?: string; spanId?: string })
      const outside = parsed.find((l) => l.message === "outside")!
      const inside = parsed.find((l) => l.message === "inside")!
      assert.isUndefined(outside.traceId)
      assert.strictEqual(inside.traceId, span.traceId)
      assert.strictEqual(inside.spanId, span.spanId)
      assert.strictEqual(inside.level, "WARN")
    }).pipe(Effect.provide(loggingFor({ LOG_FORMAT: "json", LOG_LEVEL: "Info" }, lines)))
  })

  it.effect("LOG_LEVEL drops lines below the level", () => {
    const lines: Array<string> = []
    return Effect.gen(function*() {
      yield* Effect.logInfo("info line")
      yield* Effect.logDebug("debug line")
      yield* Effect.logError("error line")
      assert.deepStrictEqual(lines.map((l) => (JSON.parse(l) as { message: string }).message), ["error line"])
    }).pipe(Effect.provide(loggingFor({ LOG_FORMAT: "json", LOG_LEVEL: "Error" }, lines)))
  })

  for (const format of ["json", "pretty"] as const) {
    it.effect(`a Redacted config value never appears in ${format} output, however it is logged`, () => {
      const lines: Array<string> = []
      return Effect.gen(function*() {
        const apiKey = yield* Config.Redacted("OPENAI_API_KEY")
        const config = yield* AppConfig
        assert.strictEqual(Redacted.value(apiKey), secret, "the test really holds the secret")
        yield* Effect.logInfo("key as message", apiKey)
        yield* Effect.logInfo("whole config", config).pipe(Effect.annotateLogs({ apiKey, nested: { deep: { apiKey } } }))
        yield* Effect.logError("failed call", { request: { headers: { authorization: apiKey } } })
        yield* Effect.fail({ reason: "upstream refused", apiKey }).pipe(
          Effect.withSpan("Logging.test.failing"),
          Effect.tapCause((cause) => Effect.logError("cause", cause)),
          Effect.ignore
        )
        yield* Effect.logInfo(Option.some(apiKey), [apiKey])
        const output = lines.join("\n")
        assert.isAbove(lines.length, 4)
        assert.notInclude(output, secret)
        assert.notInclude(output, dbPassword)
        assert.include(output, "<redacted>")
      }).pipe(Effect.provide(loggingFor({ LOG_FORMAT: format, LOG_LEVEL: "Info" }, lines)))
    })
  }

  it.effect("log lines recorded as span events and exported over OTLP carry no secret either", () =>
    Effect.scoped(Effect.gen(function*() {
      const receiver = yield* otlpReceiver
      const lines: Array<string> = []
      const env = { LOG_FORMAT: "json", LOG_LEVEL: "Info", OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "50" }
      yield* Effect.gen(function*() {
        const apiKey = yield* Config.Redacted("OPENAI_API_KEY")
        yield* Effect.gen(function*() {
          yield* Effect.logInfo("calling provider", apiKey).pipe(Effect.annotateLogs({ apiKey, headers: { authorization: apiKey } }))
          yield* Effect.annotateCurrentSpan({ "llm.api_key": apiKey })
        }).pipe(Effect.withSpan("Logging.test.exported"))
        const telemetry = yield* Telemetry
        yield* telemetry.flush
      }).pipe(Effect.provide(Telemetry.layer.pipe(Layer.provideMerge(loggingFor(env, lines)))))
      const exported = receiver.spans.find((span) => span.name === "Logging.test.exported")
      assert.isDefined(exported, "the span was exported")
      const json = JSON.stringify(exported)
      assert.include(json, "calling provider", "the log line became a span event")
      assert.notInclude(json, secret)
    })))
})
