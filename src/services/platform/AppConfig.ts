/**
 * The service's core configuration, read once at start-up from the environment through effect's Config.
 * Secrets are `Redacted` so they never reach a log line. Parts owned by one service (auth, LLM, alerts...)
 * read their own keys in their own layer; this file holds what the composition itself needs.
 */
import { Config, Context, Effect, Layer, LogLevel, Option, Redacted, Schema } from "effect"

/** A TCP port; 0 asks the OS for a free one (tests, several local replicas). */
const ListenPort = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 }))
const listenPort = (name: string, fallback: number) => Config.schema(ListenPort, name).pipe(Config.withDefault(fallback))

export type Backend = "postgres" | "embedded"

export interface AppConfigShape {
  readonly host: string
  readonly port: number
  readonly metricsPort: number
  /** Set: a real Postgres (local or Supabase). Unset: the embedded PGlite backend. */
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
  readonly databasePoolMax: number
  /** Embedded data directory; `:memory:` for a throwaway database. */
  readonly dataDir: string
  readonly migrateOnStart: boolean
  readonly artifactsBase: string
  readonly logLevel: LogLevel.LogLevel
  readonly logFormat: "json" | "pretty"
  readonly otlpEndpoint: Option.Option<URL>
  readonly serviceName: string
}

export const appConfig = Config.all({
  host: Config.String("HOST").pipe(Config.withDefault("0.0.0.0")),
  port: listenPort("PORT", 3000),
  metricsPort: listenPort("METRICS_PORT", 3200),
  databaseUrl: Config.option(Config.Redacted("DATABASE_URL")),
  databasePoolMax: Config.Int("DATABASE_POOL_MAX").pipe(Config.withDefault(10)),
  dataDir: Config.String("COGO_DATA_DIR").pipe(Config.withDefault("./.cogo")),
  migrateOnStart: Config.Boolean("COGO_MIGRATE_ON_START").pipe(Config.withDefault(true)),
  artifactsBase: Config.String("ARTIFACTS_BASE").pipe(Config.withDefault("./.artifacts")),
  logLevel: Config.LogLevel("LOG_LEVEL").pipe(Config.withDefault("Info" as const)),
  logFormat: Config.Literals(["json", "pretty"], "LOG_FORMAT").pipe(Config.withDefault("json" as const)),
  otlpEndpoint: Config.option(Config.URL("OTEL_EXPORTER_OTLP_ENDPOINT")),
  serviceName: Config.String("OTEL_SERVICE_NAME").pipe(Config.withDefault("cogo"))
})

export class AppConfig extends Context.Service<AppConfig, AppConfigShape>()("cogo/AppConfig") {
  static readonly layer = Layer.effect(AppConfig, Effect.map(appConfig, (c) => AppConfig.of(c)))
  static readonly backendOf = (config: AppConfigShape): Backend =>
    Option.isSome(config.databaseUrl) ? "postgres" : "embedded"
}
