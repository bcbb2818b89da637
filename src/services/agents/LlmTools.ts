/**
 * Function calling with the `openai` SDK: one streamed chat completion with tools offered, as text deltas,
 * tool-call starts and argument deltas (for the UI stream's `tool-input-*` chunks), then the finished calls.
 * Opening the stream is retried (`providerRetry`) inside the `llm` circuit breaker, as in `Llm.streamChat`.
 * Without `OPENAI_API_KEY` there is no model to plan with: `available` is false and nothing pretends to.
 */
import { Context, Effect, Layer, Option, Stream } from "effect"
import type OpenAI from "openai"
import { type AgentError, ProviderUnavailable } from "../../domain/agents/AgentError.ts"
import { Breakers } from "./Breakers.ts"
import { attempt, makeClient, openAiSettings, providerRetry } from "./OpenAiProvider.ts"

export type ToolTurnMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam

export interface FunctionSpec {
  readonly name: string
  readonly description: string
  /** JSON Schema of the arguments. */
  readonly parameters: Record<string, unknown>
}

export interface ToolCall {
  readonly id: string
  readonly name: string
  /** The raw JSON text of the arguments. */
  readonly arguments: string
}

export type ToolTurnChunk =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "CallStart"; readonly id: string; readonly name: string }
  | { readonly _tag: "CallDelta"; readonly id: string; readonly delta: string }
  | { readonly _tag: "Finish"; readonly text: string; readonly calls: ReadonlyArray<ToolCall>; readonly finishReason: string }

export class LlmTools extends Context.Service<LlmTools, {
  /** False without a configured model (offline): acting needs one. */
  readonly available: boolean
  readonly model: string
  /** One model step with `functions` offered; ends with exactly one `Finish`. */
  readonly step: (messages: ReadonlyArray<ToolTurnMessage>, functions: ReadonlyArray<FunctionSpec>) => Stream.Stream<ToolTurnChunk, AgentError>
}>()("cogo/LlmTools") {
  static readonly layer = Layer.effect(LlmTools, Effect.suspend(() => makeLlmTools))
}

const makeLlmTools = Effect.gen(function*() {
  const settings = yield* openAiSettings
  if (Option.isNone(settings.apiKey)) {
    return LlmTools.of({
      available: false,
      model: "none",
      step: () => Stream.fail(new ProviderUnavailable({ dependency: "llm", message: "no language model is configured (OPENAI_API_KEY)" }))
    })
  }
  const breakers = yield* Breakers
  const client = makeClient(settings, settings.apiKey.value)
  const guard = breakers.guard("llm")
  const retry = providerRetry(settings)
  const model = settings.chatModel

  const step = (messages: ReadonlyArray<ToolTurnMessage>, functions: ReadonlyArray<FunctionSpec>): Stream.Stream<ToolTurnChunk, AgentError> =>
    Stream.unwrap(Effect.gen(function*() {
      // The open is interruptible (an abort must not wait for a slow response head); the signal cancels it.
      const opened = yield* Effect.acquireRelease(
        Effect.interruptible(attempt("llm", settings, (signal) =>
          client.chat.completions.create({
            model,
            messages: [...messages],
            stream: true,
            ...(functions.length === 0 ? {} : {
              tools: functions.map((f) => ({ type: "function" as const, function: { name: f.name, description: f.description, parameters: f.parameters } }))
            })
          }, { signal })).pipe(Effect.retry(retry), guard, Effect.withSpan("LlmTools.open", { attributes: { model, tools: functions.length } }))),
        (stream) => Effect.sync(() => stream.controller.abort())
      )
      const calls: Array<{ id: string; name: string; arguments: string }> = []
      let text = ""
      let finishReason = "stop"
      const chunks = Stream.fromAsyncIterable(opened, (error) =>
        new ProviderUnavailable({ dependency: "llm", message: `the response stream broke: ${error instanceof Error ? error.message : String(error)}` })).pipe(
        Stream.flatMap((chunk) => {
          const choice = chunk.choices[0]
          if (choice === undefined) return Stream.empty
          if (choice.finish_reason) finishReason = choice.finish_reason
          const out: Array<ToolTurnChunk> = []
          const content = choice.delta?.content ?? ""
          if (content.length > 0) {
            text += content
            out.push({ _tag: "Text", text: content })
          }
          for (const delta of choice.delta?.tool_calls ?? []) {
            let call = calls[delta.index]
            if (call === undefined) {
              call = { id: delta.id ?? `call_${delta.index}`, name: delta.function?.name ?? "", arguments: "" }
              calls[delta.index] = call
              out.push({ _tag: "CallStart", id: call.id, name: call.name })
            }
            const piece = delta.function?.arguments ?? ""
            if (piece.length > 0) {
              call.arguments += piece
              out.push({ _tag: "CallDelta", id: call.id, delta: piece })
            }
          }
          return Stream.fromIterable(out)
        })
      )
      const end = Stream.suspend(() =>
        Stream.succeed<ToolTurnChunk>({ _tag: "Finish", text, calls: calls.filter((c) => c !== undefined), finishReason }))
      return Stream.concat(chunks, end)
    }))

  return LlmTools.of({ available: true, model, step })
})
