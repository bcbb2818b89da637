/** The real service (MainLive) on an ephemeral port for edge benchmarks, with configuration from `env` only. */
import { ConfigProvider, type Context, Effect, Exit, Layer, Scope } from "effect"
import { HttpServer } from "effect/http"
import { MainLive } from "../src/layers/Main.ts"

export interface RunningService {
  readonly url: string
  readonly context: Context.Context<Layer.Success<typeof MainLive>>
  readonly close: () => Promise<void>
}

export const startService = async (env: Record<string, string>): Promise<RunningService> => {
  const scope = Effect.runSync(Scope.make())
  const fullEnv = {
    HOST: "127.0.0.1",
    PORT: "0",
    METRICS_PORT: "0",
    LOG_LEVEL: "Warn",
    COGO_DATA_DIR: ":memory:",
    ...(process.env["DATABASE_URL"] === undefined ? {} : { DATABASE_URL: process.env["DATABASE_URL"] }),
    ...env
  }
  const context = await Effect.runPromise(
    Layer.buildWithScope(MainLive.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(fullEnv)))), scope)
  )
  const server = await Effect.runPromise(Effect.provide(Effect.service(HttpServer.HttpServer), context))
  const address = server.address
  if (address._tag === "UnixPathAddress") throw new Error("expected a TCP address")
  return {
    url: `http://127.0.0.1:${address.port}`,
    context,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** Dev auth, the scripted model at `model`, and chat rate limits lifted: for benches that measure chat itself. */
export const chatBenchEnv = (model: { readonly baseUrl: string; readonly apiKey: string }): Record<string, string> => ({
  COGO_AUTH_MODE: "dev",
  OPENAI_BASE_URL: model.baseUrl,
  OPENAI_API_KEY: model.apiKey,
  COGO_CHAT_RATE_BURST: "1000000",
  COGO_CHAT_RATE_PER_MINUTE: "1000000",
  COGO_CHAT_DIRECT_RATE_BURST: "1000000",
  COGO_CHAT_DIRECT_RATE_PER_MINUTE: "1000000"
})
