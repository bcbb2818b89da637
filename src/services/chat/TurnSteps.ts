/**
 * The steps of a chat turn, durably: each tool call is recorded in `cogo.chat_tool_steps` with the user the
 * assistant acted as, the chat run and turn, and the trace. A write step runs in ONE agent transaction with
 * its record and a `chat.tool_applied` bus event (the chat run as its cause), so the project's realtime
 * stream announces the change before the projection lands it in `public.*`. A turn's applied write steps form
 * one saga: `compensate` undoes them in reverse (inverse commands through `ProjectCommands`), each undo again
 * with its record update and a `chat.tool_compensated` event.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Exit, Schedule } from "effect"
import { type AgentError, agentErrorMessage, isRetryable } from "../../domain/agents/AgentError.ts"
import { currentTraceparent } from "../../domain/platform/Traceparent.ts"
import { storageFailed } from "../agents/IndexingAgent.ts"
import type { ProjectTool } from "../agents/tools/ProjectTools.ts"
import { Database, DbRole } from "../platform/Database.ts"
import { EventBus } from "../platform/EventBus.ts"

export interface TurnIdentity {
  readonly turnId: string
  readonly runId: string
  readonly chatId: string
  readonly userId: string
  readonly projectId: string
}

/** What is recorded of a call; `name` may be a tool the caller was not offered (a viewer asking to write). */
export interface StepRecord {
  readonly index: number
  readonly name: string
  readonly toolCallId: string
  readonly input: unknown
}

export interface StepCall extends StepRecord {
  readonly tool: ProjectTool
}

export interface AppliedStep extends StepCall {
  readonly output: unknown
}

export type StepState = "read" | "applied" | "failed" | "denied"

const stepRetry = Schedule.exponential("50 millis").pipe(Schedule.jittered, Schedule.setInputType<AgentError>(), Schedule.while(({ input, attempt }) => attempt <= 2 && isRetryable(input)))

export const makeTurnSteps = Effect.gen(function*() {
  const sql = yield* PgClient.PgClient
  const db = yield* Database
  const bus = yield* EventBus

  const insert = (id: TurnIdentity, call: StepRecord, state: StepState, fields: { readonly output?: unknown; readonly error?: string }) =>
    Effect.flatMap(currentTraceparent, (traceparent) => sql`
      INSERT INTO cogo.chat_tool_steps
        (turn_id, run_id, chat_id, user_id, project_id, step_index, tool, tool_call_id, input, output, state, error, traceparent)
      VALUES (${id.turnId}, ${id.runId}, ${id.chatId}, ${id.userId}, ${id.projectId}, ${call.index}, ${call.name}, ${call.toolCallId},
        ${JSON.stringify(call.input ?? null)}::jsonb, ${fields.output === undefined ? null : JSON.stringify(fields.output)}::jsonb,
        ${state}, ${fields.error ?? null}, ${traceparent ?? null})
      ON CONFLICT (turn_id, step_index) DO UPDATE SET state = EXCLUDED.state, output = EXCLUDED.output, error = EXCLUDED.error, updated_at = now()`)

  const announce = (id: TurnIdentity, kind: string, call: StepRecord, payload: Record<string, unknown>) =>
    Effect.flatMap(currentTraceparent, (traceparent) =>
      bus.publish({
        topic: "project",
        kind,
        projectId: id.projectId,
        payload: { cause: { chatRunId: id.runId, chatId: id.chatId, turnId: id.turnId, userId: id.userId }, tool: call.name, toolCallId: call.toolCallId, ...payload },
        ...(traceparent === undefined ? {} : { traceparent })
      }))

  /** Records a step that changed nothing (a read, a failure, a denial). Best effort: never fails the turn. */
  const record = (id: TurnIdentity, call: StepRecord, state: StepState, fields: { readonly output?: unknown; readonly error?: string } = {}) =>
    db.withRole(DbRole.agent, insert(id, call, state, fields)).pipe(
      Effect.catchCause((cause) => Effect.logWarning("chat tool step not recorded", cause))
    )

  /** Runs a read tool (no transaction of ours: it only reads). */
  const read = (call: StepCall) =>
    call.tool.run(call.input).pipe(Effect.retry(stepRetry), Effect.withSpan("ChatTurn.tool", { attributes: { tool: call.tool.name, write: false } }))

  /** Runs a write tool with its record and bus event in one agent transaction (retried as a whole). */
  const apply = (id: TurnIdentity, call: StepCall) =>
    db.withRole(DbRole.agent, Effect.gen(function*() {
      const output = yield* call.tool.run(call.input)
      yield* insert(id, call, "applied", { output })
      yield* announce(id, "chat.tool_applied", call, { changed: (output as { changed?: unknown }).changed ?? null })
      return output
    })).pipe(
      Effect.mapError((error) => error._tag === "SqlError" ? storageFailed(`chat step ${call.tool.name}`)(error) : error),
      Effect.retry(stepRetry),
      Effect.withSpan("ChatTurn.tool", { attributes: { tool: call.tool.name, write: true, "chat.run_id": id.runId, "chat.turn_id": id.turnId } })
    )

  /** Undoes the applied steps in reverse; each undo commits with its record and event. */
  const compensate = Effect.fn("ChatTurn.compensate")(function*(id: TurnIdentity, applied: ReadonlyArray<AppliedStep>) {
    const undone: Array<string> = []
    const failed: Array<{ readonly tool: string; readonly message: string }> = []
    for (const step of [...applied].reverse()) {
      const exit = yield* Effect.exit(db.withRole(DbRole.agent, Effect.gen(function*() {
        yield* step.tool.compensate(step.input, step.output)
        yield* sql`UPDATE cogo.chat_tool_steps SET state = 'compensated', updated_at = now() WHERE turn_id = ${id.turnId} AND step_index = ${step.index}`
        yield* announce(id, "chat.tool_compensated", step, {})
      })).pipe(
        Effect.mapError((error) => error._tag === "SqlError" ? storageFailed(`undo ${step.tool.name}`)(error) : error),
        Effect.retry(stepRetry),
        Effect.withSpan("ChatTurn.compensate.step", { attributes: { tool: step.tool.name, step: step.index } })
      ))
      if (Exit.isSuccess(exit)) {
        undone.push(step.tool.name)
        continue
      }
      const error = Exit.findErrorOption(exit)
      const message = error._tag === "Some" ? agentErrorMessage(error.value) : "the undo crashed"
      failed.push({ tool: step.tool.name, message })
      yield* db.withRole(DbRole.agent, sql`
        UPDATE cogo.chat_tool_steps SET state = 'compensation_failed', error = ${message}, updated_at = now()
        WHERE turn_id = ${id.turnId} AND step_index = ${step.index}`).pipe(Effect.ignore)
    }
    return { undone, failed }
  })

  return { record, read, apply, compensate }
})
