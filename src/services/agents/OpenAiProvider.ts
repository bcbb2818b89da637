/**
 * What the LLM and embeddings services share about the OpenAI(-compatible) provider: configuration (the key
 * only as `Config.Redacted`), one SDK client per process, the mapping of SDK errors to typed agent errors,
 * and the in-call retry policy. The SDK's own retries are off so that every retry is ours: backoff with
 * jitter, a 429's Retry-After honoured (up to `LLM_MAX_RETRY_WAIT`), and the breaker seeing one outcome
 * per call.
 */
import { Config, Duration, Effect, Option, Redacted, Schedule } from "effect"
import OpenAI from "openai"
import {
  type AgentError,
  type Dependency,
  ProviderRejected,
  ProviderUnavailable,
  RateLimited,
  retryDecision,
  Timeout
} from "../../domain/agents/AgentError.ts"

export interface OpenAiSettings {
  readonly apiKey: Option.Option<Redacted.Redacted<string>>
  readonly baseUrl: string
  readonly chatModel: string
  readonly embeddingsModel: string
  /** Per attempt: until the response head (chat) or the whole response (embeddings). */
  readonly timeout: Duration.Duration
  readonly maxRetries: number
  readonly retryBase: Duration.Duration
  readonly maxRetryWait: Duration.Duration
}

export const openAiSettings = Config.all({
  apiKey: Config.option(Config.Redacted("OPENAI_API_KEY")),
  baseUrl: Config.String("OPENAI_BASE_URL").pipe(Config.withDefault("https://api.openai.com/v1")),
  chatModel: Config.String("OPENAI_MODEL").pipe(Config.withDefault("gpt-4o-mini")),
  embeddingsModel: Config.String("OPENAI_EMBEDDINGS_MODEL").pipe(Config.withDefault("text-embedding-3-small")),
  timeout: Config.Duration("LLM_TIMEOUT").pipe(Config.withDefault(Duration.seconds(30))),
  maxRetries: Config.Int("LLM_MAX_RETRIES").pipe(Config.withDefault(2)),
  retryBase: Config.Duration("LLM_RETRY_BASE").pipe(Config.withDefault(Duration.millis(200))),
  maxRetryWait: Config.Duration("LLM_MAX_RETRY_WAIT").pipe(Config.withDefault(Duration.seconds(10)))
})

export const makeClient = (settings: OpenAiSettings, apiKey: Redacted.Redacted<string>): OpenAI =>
  new OpenAI({
    apiKey: Redacted.value(apiKey),
    baseURL: settings.baseUrl,
    maxRetries: 0,
    timeout: Duration.toMillis(settings.timeout) * 2
  })

/** The Retry-After hint of a response (`retry-after-ms` or `retry-after` in seconds or as a date), if any. */
export const retryAfterMs = (headers: Headers | undefined): number | undefined => {
  if (headers === undefined) return undefined
  const ms = Number(headers.get("retry-after-ms"))
  if (Number.isFinite(ms) && ms > 0) return ms
  const raw = headers.get("retry-after")
  if (raw === null) return undefined
  const seconds = Number(raw)
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000)
  const date = Date.parse(raw)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

const defaultRateLimitWaitMs = 1000

/** Maps anything the SDK throws to a typed agent error. */
export const toAgentError = (dependency: Dependency, error: unknown): AgentError => {
  if (error instanceof OpenAI.APIConnectionTimeoutError) {
    return new Timeout({ operation: `${dependency} request`, afterMs: 0 })
  }
  if (error instanceof OpenAI.APIConnectionError) {
    return new ProviderUnavailable({ dependency, message: `cannot reach the provider: ${error.message}` })
  }
  if (error instanceof OpenAI.APIError && error.status !== undefined) {
    const status = error.status
    if (status === 429) {
      return new RateLimited({
        dependency,
        retryAfterMs: retryAfterMs(error.headers) ?? defaultRateLimitWaitMs,
        message: error.message
      })
    }
    if (status >= 500 || status === 408 || status === 409) {
      return new ProviderUnavailable({ dependency, status, message: error.message })
    }
    return new ProviderRejected({ dependency, status, message: error.message })
  }
  return new ProviderUnavailable({ dependency, message: error instanceof Error ? error.message : String(error) })
}

/**
 * Retries retryable errors up to `maxRetries` times with jittered exponential backoff, waiting at least a
 * 429's Retry-After; a Retry-After longer than `maxRetryWait` is not waited for here (the error goes up,
 * and a job retries later).
 */
export const providerRetry = (settings: OpenAiSettings) =>
  Schedule.exponential(settings.retryBase, 2).pipe(
    Schedule.jittered,
    Schedule.setInputType<AgentError>(),
    Schedule.modifyDelay(({ duration, input }) => {
      const decision = retryDecision(input)
      return Effect.succeed(decision._tag === "Retry" ? Duration.max(duration, decision.notBefore) : duration)
    }),
    Schedule.while(({ input, attempt }) => {
      const decision = retryDecision(input)
      return attempt <= settings.maxRetries && decision._tag === "Retry" && input._tag !== "CircuitOpen" &&
        Duration.isLessThanOrEqualTo(decision.notBefore, settings.maxRetryWait)
    })
  )

/** One provider attempt: the SDK promise (aborted on interruption), its errors typed, bounded by the timeout. */
export const attempt = <A>(
  dependency: Dependency,
  settings: OpenAiSettings,
  call: (signal: AbortSignal) => Promise<A>
): Effect.Effect<A, AgentError> =>
  Effect.tryPromise({ try: call, catch: (error) => toAgentError(dependency, error) }).pipe(
    Effect.timeoutOrElse({
      duration: settings.timeout,
      orElse: () => Effect.fail(new Timeout({ operation: `${dependency} request`, afterMs: Duration.toMillis(settings.timeout) }))
    })
  )
