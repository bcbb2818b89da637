/**
 * Chat completions behind one service: the official `openai` SDK against `OPENAI_BASE_URL` (OpenAI or any
 * OpenAI-compatible server) when `OPENAI_API_KEY` is set, otherwise an offline responder that answers only
 * from the context documents it is given (retrieved project knowledge), cites them, and says it is offline.
 */
import { Context, Effect, Exit, Layer, Metric, Option, Stream } from "effect"
import { type AgentError, ProviderUnavailable } from "../../domain/agents/AgentError.ts"
import { containment, sentences } from "../../domain/agents/TextFeatures.ts"
import { Breakers } from "./Breakers.ts"
import { latencyBuckets } from "../observability/Metrics.ts"
import { attempt, makeClient, openAiSettings, providerRetry } from "./OpenAiProvider.ts"

export interface ChatMessage {
  readonly role: "system" | "user" | "assistant"
  readonly content: string
}

/** A retrieved piece of project knowledge the answer may cite as `[n]` (n = position + 1). */
export interface ContextDocument {
  readonly sourceType: string
  readonly sourceId: string
  readonly content: string
  readonly score?: number | undefined
}

export interface ChatOptions {
  /** Overrides `OPENAI_MODEL`. */
  readonly model?: string | undefined
  readonly temperature?: number | undefined
  readonly maxTokens?: number | undefined
  /** Retrieved knowledge: sent to the model as a cited context block; the offline responder's only source. */
  readonly context?: ReadonlyArray<ContextDocument> | undefined
}

export interface Usage {
  readonly promptTokens: number
  readonly completionTokens: number
  readonly totalTokens: number
}

/** One element of a chat stream: text deltas in order, then exactly one `Usage` at the end. */
export type ChatChunk =
  | { readonly _tag: "Delta"; readonly text: string }
  | { readonly _tag: "Usage"; readonly usage: Usage; readonly model: string; readonly finishReason: string }

export interface ChatCompletion {
  readonly text: string
  readonly usage: Usage
  readonly model: string
}

export type LlmMode = "openai" | "offline"

export class Llm extends Context.Service<Llm, {
  readonly mode: LlmMode
  /** The default model (`OPENAI_MODEL`, or "offline-extractive-v1"). */
  readonly model: string
  /**
   * Streams one completion. Connection failures, 429s and 5xx before the first delta are retried with
   * backoff inside the dependency's circuit breaker; a stream that breaks after deltas were emitted fails
   * with `ProviderUnavailable` (the consumer has shown partial text and decides).
   */
  readonly streamChat: (messages: ReadonlyArray<ChatMessage>, options?: ChatOptions) => Stream.Stream<ChatChunk, AgentError>
  /** The whole completion (collects `streamChat`). */
  readonly complete: (messages: ReadonlyArray<ChatMessage>, options?: ChatOptions) => Effect.Effect<ChatCompletion, AgentError>
}>()("cogo/Llm") {
  /** OpenAI(-compatible) when `OPENAI_API_KEY` is set, else the offline responder; logs which at start. */
  static readonly layer = Layer.effect(Llm, Effect.suspend(() => makeLlm))
  /**
   * Scripted, for tests: `reply` answers each call (deterministically, no network); the answer is streamed
   * word by word, then a `Usage` with whitespace-word counts, under the model `test-scripted`.
   */
  static readonly layerTest = (reply: (messages: ReadonlyArray<ChatMessage>, options: ChatOptions | undefined) => string) => {
    const model = "test-scripted"
    const words = (text: string) => (text.match(/\S+/g) ?? []).length
    const streamChat = (messages: ReadonlyArray<ChatMessage>, options?: ChatOptions): Stream.Stream<ChatChunk, AgentError> =>
      Stream.suspend(() => {
        const answer = reply(messages, options)
        const promptTokens = words(messages.map((m) => m.content).join(" "))
        const completionTokens = words(answer)
        return Stream.fromIterable<ChatChunk>([
          ...(answer.match(/\S+\s*/g) ?? []).map((text): ChatChunk => ({ _tag: "Delta", text })),
          { _tag: "Usage", usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens }, model, finishReason: "stop" }
        ])
      })
    return Layer.succeed(Llm, Llm.of({
      mode: "offline",
      model,
      streamChat,
      complete: (messages, options) => collectChat(streamChat(messages, options), model)
    }))
  }
}

/** Collects a chat stream into its text and usage. */
export const collectChat = (stream: Stream.Stream<ChatChunk, AgentError>, fallbackModel: string): Effect.Effect<ChatCompletion, AgentError> =>
  Stream.runFold(stream, () => ({ text: "", usage: emptyUsage, model: fallbackModel }), (acc, chunk) =>
    chunk._tag === "Delta" ? { ...acc, text: acc.text + chunk.text } : { ...acc, usage: chunk.usage, model: chunk.model })

export const emptyUsage: Usage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 }

export const offlineModel = "offline-extractive-v1"

export const offlineNotice =
  "(Offline mode: no language model is configured, so this answer quotes this project's indexed knowledge instead of generating one.)"

const approximateTokens = (text: string) => Math.ceil((text.match(/\S+/g) ?? []).length * 1.3)

const lastUserMessage = (messages: ReadonlyArray<ChatMessage>): string =>
  [...messages].reverse().find((m) => m.role === "user")?.content ?? ""

/**
 * The offline responder: the sentences of the context documents that share the most content words with the
 * question, each cited `[n]`, then the cited sources. Deterministic, and honest that nothing was generated.
 */
export const offlineAnswer = (messages: ReadonlyArray<ChatMessage>, context: ReadonlyArray<ContextDocument>): string => {
  const question = lastUserMessage(messages)
  const ranked = context.flatMap((doc, index) =>
    sentences(doc.content).map((sentence) => ({ sentence, index, score: containment(question, sentence) + (doc.score ?? 0) * 0.1 }))
  )
    .filter((candidate) => containment(question, candidate.sentence) > 0)
    .sort((a, b) => b.score - a.score)
  const picked: Array<{ readonly sentence: string; readonly index: number }> = []
  for (const candidate of ranked) {
    if (picked.length === 3) break
    if (!picked.some((p) => p.sentence === candidate.sentence)) picked.push(candidate)
  }
  if (picked.length === 0) {
    return `${offlineNotice}\n\nI found nothing about that in this project's indexed knowledge.`
  }
  const cited = Array.from(new Set(picked.map((p) => p.index))).sort((a, b) => a - b)
  return [
    offlineNotice,
    "",
    "From this project's knowledge:",
    ...picked.map((p) => `- ${p.sentence} [${p.index + 1}]`),
    "",
    "Sources:",
    ...cited.map((i) => `[${i + 1}] ${context[i]!.sourceType}:${context[i]!.sourceId}`)
  ].join("\n")
}

/** The context block sent to a real model, numbered so it can cite `[n]`. */
export const contextMessage = (context: ReadonlyArray<ContextDocument>): ChatMessage => ({
  role: "system",
  content: [
    "Answer from the project knowledge below when it is relevant, and cite it as [n]. Say so when it does not cover the question.",
    ...context.map((doc, i) => `[${i + 1}] (${doc.sourceType}:${doc.sourceId})\n${doc.content}`)
  ].join("\n\n")
})

const offlineStream = (messages: ReadonlyArray<ChatMessage>, options: ChatOptions | undefined): Stream.Stream<ChatChunk, AgentError> =>
  Stream.suspend(() => {
    const context = options?.context ?? []
    const answer = offlineAnswer(messages, context)
    const deltas = answer.match(/\S+\s*/g) ?? []
    const promptTokens = approximateTokens(messages.map((m) => m.content).join(" ") + context.map((d) => d.content).join(" "))
    const completionTokens = approximateTokens(answer)
    const chunks: Array<ChatChunk> = []
    for (let i = 0; i < deltas.length; i += 4) chunks.push({ _tag: "Delta", text: deltas.slice(i, i + 4).join("") })
    chunks.push({
      _tag: "Usage",
      usage: { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens },
      model: offlineModel,
      finishReason: "stop"
    })
    return Stream.fromIterable(chunks)
  })

const llmTokens = Metric.counter("llm_tokens_total", {
  description: "LLM tokens by model and kind (prompt, completion), as reported by the provider (estimated offline)",
  incremental: true
})
const llmDuration = Metric.histogram("llm_request_duration_seconds", {
  description: "LLM chat stream duration, open to last chunk, by model and outcome",
  boundaries: latencyBuckets
})
const llmFirstToken = Metric.histogram("llm_first_token_seconds", {
  description: "LLM time to first text delta, by model",
  boundaries: latencyBuckets
})

/** Records latency, time to first token and token usage of one chat stream, in both modes. */
const metered = (model: string, stream: Stream.Stream<ChatChunk, AgentError>): Stream.Stream<ChatChunk, AgentError> =>
  Stream.suspend(() => {
    const started = performance.now()
    const seconds = () => (performance.now() - started) / 1000
    let firstDelta = true
    return stream.pipe(
      Stream.tap((chunk) => {
        if (chunk._tag === "Delta") {
          if (!firstDelta) return Effect.void
          firstDelta = false
          return Metric.update(Metric.withAttributes(llmFirstToken, { model }), seconds())
        }
        return Effect.andThen(
          Metric.update(Metric.withAttributes(llmTokens, { model: chunk.model, kind: "prompt" }), chunk.usage.promptTokens),
          Metric.update(Metric.withAttributes(llmTokens, { model: chunk.model, kind: "completion" }), chunk.usage.completionTokens)
        )
      }),
      Stream.onExit((exit) =>
        Metric.update(Metric.withAttributes(llmDuration, { model, outcome: Exit.isSuccess(exit) ? "ok" : "error" }), seconds()))
    )
  })

const makeLlm = Effect.gen(function*() {
  const settings = yield* openAiSettings
  if (Option.isNone(settings.apiKey)) {
    yield* Effect.logInfo(`LLM mode: offline (no OPENAI_API_KEY): answers quote retrieved project knowledge, model ${offlineModel}`)
    const streamChat = (messages: ReadonlyArray<ChatMessage>, options?: ChatOptions) =>
      metered(offlineModel, offlineStream(messages, options))
    return Llm.of({
      mode: "offline",
      model: offlineModel,
      streamChat,
      complete: Effect.fn("Llm.complete")(function*(messages: ReadonlyArray<ChatMessage>, options?: ChatOptions) {
        return yield* collectChat(streamChat(messages, options), offlineModel)
      })
    })
  }
  const breakers = yield* Breakers
  const client = makeClient(settings, settings.apiKey.value)
  yield* Effect.logInfo(`LLM mode: openai at ${settings.baseUrl}, model ${settings.chatModel}`)
  const guard = breakers.guard("llm")
  const retry = providerRetry(settings)

  const streamChat = (messages: ReadonlyArray<ChatMessage>, options?: ChatOptions): Stream.Stream<ChatChunk, AgentError> =>
    metered(options?.model ?? settings.chatModel, Stream.unwrap(Effect.gen(function*() {
      const model = options?.model ?? settings.chatModel
      const context = options?.context ?? []
      const all = context.length === 0 ? messages : [contextMessage(context), ...messages]
      // Opening the stream (up to the response head) is what is retried and what the breaker judges.
      const opened = yield* Effect.acquireRelease(
        attempt("llm", settings, (signal) =>
          client.chat.completions.create({
            model,
            messages: all.map((m) => ({ role: m.role, content: m.content })),
            stream: true,
            stream_options: { include_usage: true },
            ...(options?.temperature === undefined ? {} : { temperature: options.temperature }),
            ...(options?.maxTokens === undefined ? {} : { max_tokens: options.maxTokens })
          }, { signal })).pipe(Effect.retry(retry), guard, Effect.withSpan("Llm.open", { attributes: { model } })),
        (stream) => Effect.sync(() => stream.controller.abort())
      )
      let usage: Usage | undefined
      let finishReason = "stop"
      let servedModel = model
      let emitted = 0
      const deltas = Stream.fromAsyncIterable(opened, (error) =>
        new ProviderUnavailable({
          dependency: "llm",
          message: `the response stream broke after ${emitted} delta(s): ${error instanceof Error ? error.message : String(error)}`
        })).pipe(
        Stream.flatMap((chunk) => {
          servedModel = chunk.model || servedModel
          if (chunk.usage) {
            usage = {
              promptTokens: chunk.usage.prompt_tokens,
              completionTokens: chunk.usage.completion_tokens,
              totalTokens: chunk.usage.total_tokens
            }
          }
          const choice = chunk.choices[0]
          if (choice?.finish_reason) finishReason = choice.finish_reason
          const text = choice?.delta?.content ?? ""
          if (text.length === 0) return Stream.empty
          emitted++
          return Stream.succeed<ChatChunk>({ _tag: "Delta", text })
        })
      )
      const end = Stream.suspend(() => Stream.succeed<ChatChunk>({ _tag: "Usage", usage: usage ?? emptyUsage, model: servedModel, finishReason }))
      return Stream.concat(deltas, end)
    })))

  return Llm.of({
    mode: "openai",
    model: settings.chatModel,
    streamChat,
    complete: Effect.fn("Llm.complete")(function*(messages: ReadonlyArray<ChatMessage>, options?: ChatOptions) {
      return yield* collectChat(streamChat(messages, options), options?.model ?? settings.chatModel)
    })
  })
})
