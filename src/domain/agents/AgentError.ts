/**
 * Typed errors of agents, providers and tools, each mapped to a retry decision. Jobs, the orchestrator and
 * the edge all read `retryDecision` instead of guessing from messages: a rate limit waits its `retryAfter`,
 * an open circuit waits until it may probe, bad input never retries.
 */
import { Duration, Schema } from "effect"

/** The external dependencies guarded by circuit breakers. */
export const Dependency = Schema.Literals(["llm", "embeddings"])
export type Dependency = typeof Dependency.Type

/** The provider could not be reached or answered 5xx / broke its stream: transient. */
export class ProviderUnavailable extends Schema.TaggedError<ProviderUnavailable>()("ProviderUnavailable", {
  dependency: Dependency,
  message: Schema.String,
  status: Schema.optional(Schema.Number)
}) {}

/** The provider answered 429; `retryAfterMs` is its Retry-After hint (or our default). */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  dependency: Dependency,
  retryAfterMs: Schema.Number,
  message: Schema.String
}) {}

/** The provider refused the request itself (4xx other than 429: bad request, auth, unknown model): permanent. */
export class ProviderRejected extends Schema.TaggedError<ProviderRejected>()("ProviderRejected", {
  dependency: Dependency,
  status: Schema.Number,
  message: Schema.String
}) {}

/** The dependency's circuit is open (or half-open with its single probe in flight): calls fail fast. */
export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
  dependency: Dependency,
  retryAfterMs: Schema.Number
}) {}

/** An operation (provider call, job run, tool step) took longer than allowed. */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", {
  operation: Schema.String,
  afterMs: Schema.Number
}) {}

/** A tool was called with input that does not match its Schema: the caller's bug, never retried. */
export class InvalidToolInput extends Schema.TaggedError<InvalidToolInput>()("InvalidToolInput", {
  tool: Schema.String,
  message: Schema.String
}) {}

/** A job's stored payload does not match its kind's Schema: never retried (it would fail the same way). */
export class InvalidJobPayload extends Schema.TaggedError<InvalidJobPayload>()("InvalidJobPayload", {
  kind: Schema.String,
  message: Schema.String
}) {}

/** A tool ran and failed; `retryable` says whether running it again may help. */
export class ToolFailed extends Schema.TaggedError<ToolFailed>()("ToolFailed", {
  tool: Schema.String,
  message: Schema.String,
  retryable: Schema.Boolean
}) {}

/** Storage (Postgres) failed underneath an agent: transient from the agent's point of view. */
export class StorageFailed extends Schema.TaggedError<StorageFailed>()("StorageFailed", {
  operation: Schema.String,
  message: Schema.String
}) {}

export const AgentError = Schema.Union([
  ProviderUnavailable,
  RateLimited,
  ProviderRejected,
  CircuitOpen,
  Timeout,
  InvalidToolInput,
  InvalidJobPayload,
  ToolFailed,
  StorageFailed
])
export type AgentError = typeof AgentError.Type

export type RetryDecision =
  | { readonly _tag: "Retry"; readonly notBefore: Duration.Duration }
  | { readonly _tag: "GiveUp" }

const retryAfter = (millis: number): RetryDecision => ({ _tag: "Retry", notBefore: Duration.millis(Math.max(0, millis)) })
const giveUp: RetryDecision = { _tag: "GiveUp" }

/** What a caller should do after `error`: retry (no sooner than `notBefore`, on top of its own backoff) or give up. */
export const retryDecision = (error: AgentError): RetryDecision => {
  switch (error._tag) {
    case "ProviderUnavailable":
    case "Timeout":
    case "StorageFailed":
      return retryAfter(0)
    case "RateLimited":
    case "CircuitOpen":
      return retryAfter(error.retryAfterMs)
    case "ToolFailed":
      return error.retryable ? retryAfter(0) : giveUp
    case "ProviderRejected":
    case "InvalidToolInput":
    case "InvalidJobPayload":
      return giveUp
  }
}

export const isRetryable = (error: AgentError): boolean => retryDecision(error)._tag === "Retry"

/** A short, log- and JSON-friendly form for `cogo.jobs.last_error` and job events. */
export const describeAgentError = (error: AgentError): { readonly tag: string; readonly message: string; readonly retryable: boolean } => ({
  tag: error._tag,
  message: agentErrorMessage(error),
  retryable: isRetryable(error)
})

export const agentErrorMessage = (error: AgentError): string => {
  switch (error._tag) {
    case "CircuitOpen":
      return `${error.dependency} circuit open; retry in ${error.retryAfterMs} ms`
    case "Timeout":
      return `${error.operation} timed out after ${error.afterMs} ms`
    case "RateLimited":
      return `${error.dependency} rate limited; retry in ${error.retryAfterMs} ms: ${error.message}`
    default:
      return error.message
  }
}
