/**
 * Typed tools for the executor: Schema input and output (inputs arrive as JSON, e.g. from an LLM's tool
 * calls, and are decoded before anything runs; outputs are encoded to JSON and persisted with the saga step),
 * an optional compensation that undoes a succeeded run, and two durability hints for crash recovery.
 */
import type { Effect, Schema } from "effect"
import type { AgentError } from "./AgentError.ts"

export interface Tool<I, O, R = never> {
  /** Unique name, e.g. "project.write". */
  readonly name: string
  readonly description: string
  readonly input: Schema.Codec<I, unknown>
  readonly output: Schema.Codec<O, unknown>
  readonly run: (input: I) => Effect.Effect<O, AgentError, R>
  /** Undoes a succeeded run, given its input and output. Absent: nothing to undo (the tool changes nothing). */
  readonly compensate?: ((input: I, output: O) => Effect.Effect<void, AgentError, R>) | undefined
  /**
   * The run only writes this database: it runs in the same transaction that records the step as succeeded,
   * so a crash either keeps both or neither, and an unfinished step can simply run again.
   */
  readonly transactional?: boolean | undefined
  /** Running it twice has the effect of running it once: an unfinished step may run again after a crash. */
  readonly idempotent?: boolean | undefined
}

/** Identity with inference: `const t = tool({ name: ..., input: ..., run: ... })`. */
export const tool = <I, O, R = never>(definition: Tool<I, O, R>): Tool<I, O, R> => definition
