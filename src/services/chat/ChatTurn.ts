/**
 * An acting chat turn: the model/tool loop over the project tools, streamed as AI SDK tool parts.
 *
 * Each model step offers the project's tools (write tools only when the caller may edit the project, checked
 * as the user under RLS) and streams `tool-input-start` / `tool-input-delta` / `tool-input-available`. Read
 * tools run at once (`tool-output-available` / `tool-output-error`). A write tool that needs approval (see
 * ToolApproval) ends the request with `tool-approval-request`; the turn waits in this process, and the
 * client's next request carries the AI SDK's approval answers: approved steps run, a denied one becomes
 * `tool-output-denied`. The model gets each result and continues, up to `COGO_CHAT_MAX_STEPS` model steps.
 *
 * The turn's applied write steps form one saga (TurnSteps): a failing step, a denial or an abort undoes the
 * steps already applied, in reverse, and the stream says so (`data-saga` parts and a text part). A turn left
 * waiting for approval is forgotten after `COGO_CHAT_RETENTION` (its applied steps stay: they were approved).
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Duration, Effect, Layer, Result, Stream } from "effect"
import { type AgentError, agentErrorMessage } from "../../domain/agents/AgentError.ts"
import { isWriteTool } from "../../domain/agents/ProjectTools.ts"
import { type Principal, principalKey } from "../auth/Auth.ts"
import { type ContextDocument, contextMessage } from "../agents/Llm.ts"
import { LlmTools, type ToolCall, type ToolTurnChunk, type ToolTurnMessage } from "../agents/LlmTools.ts"
import { type ProjectTool, ProjectTools } from "../agents/tools/ProjectTools.ts"
import { Database } from "../platform/Database.ts"
import { ToolApproval } from "./ToolApproval.ts"
import { type AppliedStep, makeTurnSteps, type StepCall, type TurnIdentity } from "./TurnSteps.ts"
import { approvalAnswers, chatText, type UIChunk, type UIMessage } from "./UiMessages.ts"

export interface TurnRequest {
  readonly principal: Principal
  readonly runId: string
  readonly chatId: string
  readonly projectId: string
  readonly messages: ReadonlyArray<UIMessage>
  /** Research evidence for the system prompt. */
  readonly context: ReadonlyArray<ContextDocument>
  /** Appends a chunk to the run's stream. */
  readonly emit: (chunk: UIChunk) => Effect.Effect<void>
}

interface Pending {
  readonly approvalId: string
  readonly call: StepCall
}

interface TurnState {
  readonly key: string
  readonly identity: Omit<TurnIdentity, "runId">
  readonly tools: ReadonlyArray<ProjectTool>
  readonly needsApproval: (tool: string) => boolean
  readonly conversation: Array<ToolTurnMessage>
  readonly applied: Array<AppliedStep>
  pending: Array<Pending>
  modelSteps: number
  nextIndex: number
  updatedAt: number
}

/** One request's view of a turn. */
interface Live {
  readonly state: TurnState
  readonly id: TurnIdentity
  readonly emit: (chunk: UIChunk) => Effect.Effect<void>
  requestSteps: number
}

const systemPrompt = (projectId: string, editor: boolean) => [
  `You are cogo's assistant for the project ${projectId}. Use the tools to read the project and, when asked, change it.`,
  "Definitions are COGO UI JSON: an object whose `tree` is a widget (Page, Column, Row, Stack, Container, Text, SymbolInstance, ...).",
  editor
    ? "Write tools change the project; the user may be asked to approve each one, and may deny it."
    : "The user is a viewer of this project: you can only read it. Say so when asked to change something."
].join("\n")

/** What the model and the stream see of a tool's output (a write's previous states stay in the record). */
const visibleOutput = (tool: ProjectTool, output: unknown) =>
  tool.write && typeof output === "object" && output !== null ? { changed: (output as { changed?: unknown }).changed } : output

const toolMessage = (toolCallId: string, content: unknown): ToolTurnMessage => ({
  role: "tool",
  tool_call_id: toolCallId,
  content: JSON.stringify(content).slice(0, 20_000)
})

export class ChatTurn extends Context.Service<ChatTurn, {
  /** False without a model: chat then answers from knowledge and says that acting needs a model. */
  readonly canAct: boolean
  /** Runs a new turn, or continues the chat's turn waiting for the approvals this request answers. */
  readonly run: (request: TurnRequest) => Effect.Effect<void, AgentError>
  /**
   * Aborts the chat's turn waiting for approval (`ownerScope` as in ChatSessions): its unanswered steps are
   * recorded denied and its applied steps undone. False when no turn of that chat waits.
   */
  readonly abandon: (ownerScope: string, chatId: string, runId: string) => Effect.Effect<boolean>
}>()("cogo/ChatTurn") {
  static readonly layer = Layer.effect(
    ChatTurn,
    Effect.gen(function*() {
      const llm = yield* LlmTools
      const projectTools = yield* ProjectTools
      const approval = yield* ToolApproval
      const db = yield* Database
      const sql = yield* PgClient.PgClient
      const steps = yield* makeTurnSteps
      const maxSteps = yield* Config.Int("COGO_CHAT_MAX_STEPS").pipe(Config.withDefault(8))
      const retention = yield* Config.Duration("COGO_CHAT_RETENTION").pipe(Config.withDefault(Duration.minutes(10)))
      const maxWaiting = yield* Config.Int("COGO_CHAT_MAX_WAITING_TURNS").pipe(Config.withDefault(1_000))
      const turns = new Map<string, TurnState>()

      const say = (live: Live, text: string) =>
        Effect.gen(function*() {
          const id = `text-${crypto.randomUUID()}`
          yield* live.emit({ type: "text-start", id })
          yield* live.emit({ type: "text-delta", id, delta: text })
          yield* live.emit({ type: "text-end", id })
        })

      const forget = (state: TurnState) => Effect.sync(() => turns.delete(state.key))

      /** Ends the turn; undoes its applied steps first (the saga), and tells the user. */
      const endWithUndo = (live: Live, reason: string) =>
        Effect.gen(function*() {
          yield* forget(live.state)
          const applied = live.state.applied.splice(0)
          if (applied.length === 0) return yield* say(live, `${reason}. Nothing in the project was changed.`)
          yield* live.emit({ type: "data-saga", id: live.id.turnId, data: { state: "compensating", reason, steps: applied.map((s) => s.tool.name) } })
          const { undone, failed } = yield* steps.compensate(live.id, applied)
          yield* live.emit({ type: "data-saga", id: live.id.turnId, data: { state: failed.length === 0 ? "compensated" : "failed", reason, undone, failed } })
          yield* say(live, `${reason}. I undid the ${undone.length} change(s) this turn had applied (${undone.join(", ")}).` +
            (failed.length === 0 ? "" : ` Undoing ${failed.map((f) => `${f.tool} failed: ${f.message}`).join("; ")}.`))
        })

      /** Applies a write step; on failure the turn ends compensated and this returns false. */
      const applyStep = (live: Live, call: StepCall) =>
        Effect.gen(function*() {
          const result = yield* Effect.result(steps.apply(live.id, call))
          if (Result.isFailure(result)) {
            const message = agentErrorMessage(result.failure)
            yield* live.emit({ type: "tool-output-error", toolCallId: call.toolCallId, errorText: message, dynamic: true })
            yield* steps.record(live.id, call, "failed", { error: message })
            yield* endWithUndo(live, `${call.name} failed (${message})`)
            return false
          }
          live.state.applied.push({ ...call, output: result.success })
          const visible = visibleOutput(call.tool, result.success)
          yield* live.emit({ type: "tool-output-available", toolCallId: call.toolCallId, output: visible, dynamic: true })
          live.state.conversation.push(toolMessage(call.toolCallId, visible))
          return true
        })

      /** One model step, streamed; returns its finished calls. */
      const modelStep = (live: Live) =>
        Effect.gen(function*() {
          const state = live.state
          if (live.requestSteps++ > 0) {
            yield* live.emit({ type: "finish-step" })
            yield* live.emit({ type: "start-step" })
          }
          state.modelSteps++
          const textId = `text-${live.id.runId}-${state.modelSteps}`
          let textOpen = false
          let finish: Extract<ToolTurnChunk, { _tag: "Finish" }> | undefined
          const functions = state.tools.map((t) => ({ name: t.name, description: t.description, parameters: t.parameters }))
          yield* Stream.runForEach(llm.step(state.conversation, functions), (chunk) =>
            Effect.gen(function*() {
              switch (chunk._tag) {
                case "Text":
                  if (!textOpen) {
                    textOpen = true
                    yield* live.emit({ type: "text-start", id: textId })
                  }
                  return yield* live.emit({ type: "text-delta", id: textId, delta: chunk.text })
                case "CallStart":
                  return yield* live.emit({ type: "tool-input-start", toolCallId: chunk.id, toolName: chunk.name, dynamic: true })
                case "CallDelta":
                  return yield* live.emit({ type: "tool-input-delta", toolCallId: chunk.id, inputTextDelta: chunk.delta })
                case "Finish":
                  finish = chunk
              }
            }))
          if (textOpen) yield* live.emit({ type: "text-end", id: textId })
          const text = finish?.text ?? ""
          const calls = finish?.calls ?? []
          state.conversation.push(calls.length === 0
            ? { role: "assistant", content: text }
            : {
              role: "assistant",
              content: text === "" ? null : text,
              tool_calls: calls.map((c) => ({ id: c.id, type: "function" as const, function: { name: c.name, arguments: c.arguments } }))
            })
          return calls
        })

      /** Handles one call of a model step; false when the turn ended (a write step failed). */
      const handleCall = (live: Live, call: ToolCall) =>
        Effect.gen(function*() {
          const state = live.state
          const index = state.nextIndex++
          let input: unknown
          try {
            input = JSON.parse(call.arguments === "" ? "{}" : call.arguments)
          } catch {
            const errorText = "the arguments are not valid JSON"
            yield* live.emit({ type: "tool-input-error", toolCallId: call.id, toolName: call.name, input: call.arguments, errorText, dynamic: true })
            state.conversation.push(toolMessage(call.id, { error: errorText }))
            return true
          }
          yield* live.emit({ type: "tool-input-available", toolCallId: call.id, toolName: call.name, input, dynamic: true })
          const tool = state.tools.find((t) => t.name === call.name)
          const record = { index, name: call.name, toolCallId: call.id, input }
          if (tool === undefined) {
            const errorText = isWriteTool(call.name)
              ? `${call.name} is not available: changing this project needs the editor role`
              : `there is no tool named ${call.name}`
            yield* live.emit({ type: "tool-output-error", toolCallId: call.id, errorText, dynamic: true })
            yield* steps.record(live.id, record, "failed", { error: errorText })
            state.conversation.push(toolMessage(call.id, { error: errorText }))
            return true
          }
          const stepCall: StepCall = { ...record, tool }
          if (!tool.write) {
            const result = yield* Effect.result(steps.read(stepCall))
            if (Result.isFailure(result)) {
              const errorText = agentErrorMessage(result.failure)
              yield* live.emit({ type: "tool-output-error", toolCallId: call.id, errorText, dynamic: true })
              yield* steps.record(live.id, record, "failed", { error: errorText })
              state.conversation.push(toolMessage(call.id, { error: errorText }))
            } else {
              yield* live.emit({ type: "tool-output-available", toolCallId: call.id, output: result.success, dynamic: true })
              yield* steps.record(live.id, record, "read", { output: result.success })
              state.conversation.push(toolMessage(call.id, result.success))
            }
            return true
          }
          if (state.needsApproval(tool.name)) {
            const approvalId = `approval-${call.id}`
            state.pending.push({ approvalId, call: stepCall })
            yield* live.emit({ type: "tool-approval-request", approvalId, toolCallId: call.id })
            return true
          }
          return yield* applyStep(live, stepCall)
        })

      /** Model steps until the model answers without calls, a step waits for approval, or the limit. */
      const drive = (live: Live): Effect.Effect<void, AgentError> =>
        Effect.gen(function*() {
          const state = live.state
          while (state.modelSteps < maxSteps) {
            const calls = yield* modelStep(live)
            if (calls.length === 0) return yield* forget(state)
            for (const call of calls) {
              if (!(yield* handleCall(live, call))) return
            }
            if (state.pending.length > 0) {
              state.updatedAt = Date.now()
              turns.delete(state.key)
              turns.set(state.key, state)
              while (turns.size > maxWaiting) turns.delete(turns.keys().next().value!)
              return
            }
          }
          yield* forget(state)
          yield* say(live, `I stopped after ${maxSteps} model steps (the limit of one turn).`)
        })

      /** Continues a waiting turn with the request's approval answers (a missing answer counts as denied). */
      const resume = (live: Live, answers: ReturnType<typeof approvalAnswers>) =>
        Effect.gen(function*() {
          const pending = live.state.pending
          live.state.pending = []
          for (const [i, item] of pending.entries()) {
            const answer = answers.get(item.approvalId)
            if (answer?.approved !== true) {
              for (const denied of pending.slice(i)) {
                yield* live.emit({ type: "tool-output-denied", toolCallId: denied.call.toolCallId })
                yield* steps.record(live.id, denied.call, "denied", { error: answers.get(denied.approvalId)?.reason ?? "denied" })
              }
              return yield* endWithUndo(live, `You denied ${item.call.name}${answer?.reason === undefined ? "" : ` (${answer.reason})`}`)
            }
            if (!(yield* applyStep(live, item.call))) return
          }
          yield* drive(live)
        })

      const canEdit = (principal: Principal, projectId: string) =>
        principal.role === "service_role"
          ? Effect.succeed(true)
          : db.asUser(principal.claims, sql<{ ok: boolean }>`SELECT public.is_project_member(${projectId}::uuid, 'editor') AS ok`).pipe(
            Effect.map((rows) => rows[0]?.ok === true),
            Effect.orElseSucceed(() => false)
          )

      const newTurn = (request: TurnRequest, key: string) =>
        Effect.gen(function*() {
          const turnId = crypto.randomUUID()
          const editor = yield* canEdit(request.principal, request.projectId)
          const history: Array<ToolTurnMessage> = request.messages
            .filter((m) => m.role !== "system")
            .map((m) => ({ role: m.role === "user" ? "user" as const : "assistant" as const, content: chatText(m) }))
            .filter((m) => m.content !== "")
          const state: TurnState = {
            key,
            identity: { turnId, chatId: request.chatId, userId: request.principal.userId, projectId: request.projectId },
            tools: projectTools.forProject({ projectId: request.projectId, origin: `chat:${turnId}` }, { write: editor }),
            needsApproval: yield* approval.policyFor(request.projectId),
            conversation: [
              { role: "system", content: systemPrompt(request.projectId, editor) },
              ...(request.context.length === 0 ? [] : [contextMessage(request.context)]),
              ...history
            ],
            applied: [],
            pending: [],
            modelSteps: 0,
            nextIndex: 0,
            updatedAt: Date.now()
          }
          return state
        })

      const liveOf = (state: TurnState, runId: string, emit: Live["emit"]): Live =>
        ({ state, id: { ...state.identity, runId }, emit, requestSteps: 0 })

      /** Ends a waiting turn: its unanswered steps recorded denied, its applied steps undone. */
      const undoWaiting = (live: Live, reason: string) =>
        Effect.gen(function*() {
          for (const item of live.state.pending.splice(0)) yield* steps.record(live.id, item.call, "denied", { error: "not answered" })
          yield* endWithUndo(live, reason)
        })

      const abandon = Effect.fn("ChatTurn.abandon")(function*(ownerScope: string, chatId: string, runId: string) {
        const waiting = turns.get(`${ownerScope}|${chatId}`)
        if (waiting === undefined || waiting.pending.length === 0) return false
        yield* undoWaiting(liveOf(waiting, runId, () => Effect.void), "The turn was aborted")
        return true
      })

      const run = Effect.fn("ChatTurn.run")(function*(request: TurnRequest) {
        const key = `${principalKey(request.principal)}|${request.chatId}`
        const answers = approvalAnswers(request.messages)
        const waiting = turns.get(key)
        const fresh = waiting !== undefined && Date.now() - waiting.updatedAt <= Duration.toMillis(retention)
        const continuing = fresh && waiting.pending.length > 0 && answers.size > 0 && waiting.identity.projectId === request.projectId
        // A new message instead of answers: the unanswered steps count as denied, so the turn is undone.
        if (waiting !== undefined && !continuing) {
          turns.delete(key)
          if (fresh) yield* undoWaiting(liveOf(waiting, request.runId, request.emit), "The previous turn's approvals were not answered")
        }
        const state = continuing ? waiting : yield* newTurn(request, key)
        const live = liveOf(state, request.runId, request.emit)
        yield* Effect.annotateCurrentSpan({ "chat.turn_id": state.identity.turnId, "chat.continuing": continuing })
        yield* (continuing ? resume(live, answers) : drive(live)).pipe(
          Effect.tapError((error) => endWithUndo(live, `The turn failed (${agentErrorMessage(error)})`)),
          Effect.onInterrupt(() => endWithUndo(live, "The turn was aborted"))
        )
      })

      return ChatTurn.of({ canAct: llm.available, run, abandon })
    })
  )
}
