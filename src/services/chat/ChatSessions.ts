/**
 * Chat runs, streamed in the AI SDK UI message stream protocol (v1) and resumable.
 *
 * A run (one assistant reply) executes in a fiber owned by this service, not by the HTTP request: research
 * for evidence (when the request names a project), then the LLM stream. Every UI message chunk becomes an
 * SSE frame with a sequential `id` and is appended to the run's frame log. Connections only *read* the log
 * from an index: the first POST from frame 0, a reconnect (`GET …/stream` with `Last-Event-ID: n`) from
 * n + 1, so a dropped client gets exactly the frames it missed and then the live rest. A client disconnect
 * therefore never stops generation; `abort` does.
 *
 * Limits: a run's log is capped (`COGO_CHAT_MAX_FRAMES`; beyond it the run ends with an error chunk), so a
 * slow or vanished reader costs an index, not a buffer.
 *
 * Replicas (issue 15): every `COGO_CHAT_FLUSH_EVERY` (25 ms) the new frames of each run are appended to the
 * shared log (ChatFrames: one statement per run and tick, which also beats the run's heartbeat every
 * `COGO_CHAT_HEARTBEAT`). Readers on this replica read the log in memory; a run of another replica (or one
 * this replica no longer holds) is read from the shared log, so a reconnect may reach any replica, for
 * `COGO_CHAT_RETENTION` (10 min, pruned by Retention) after the run ends. An abort on another replica reaches
 * the owner by notification (or its next heartbeat). A turn waiting for tool approval stays in the memory of
 * the replica that ran it (ChatTurn): answering or aborting it must reach that replica.
 */
import { Config, Context, Duration, Effect, Fiber, FiberSet, Layer, Metric, Option, PubSub, Schedule, Stream } from "effect"
import { describeAgentError } from "../../domain/agents/AgentError.ts"
import { currentTraceparent } from "../../domain/platform/Traceparent.ts"
import { type Principal, principalKey } from "../auth/Auth.ts"
import { Database, DbRole } from "../platform/Database.ts"
import { EventBus } from "../platform/EventBus.ts"
import { Drain } from "../platform/Drain.ts"
import { Leader } from "../platform/Leader.ts"
import { type ChatMessage, type ContextDocument, Llm } from "../agents/Llm.ts"
import { ResearchAgent } from "../agents/ResearchAgent.ts"
import { ChatFrames, frameText } from "./ChatFrames.ts"
import { ChatTurn } from "./ChatTurn.ts"
import { type ChatRequest, chatText, type UIChunk } from "./UiMessages.ts"

export type { ChatRequest } from "./UiMessages.ts"

export interface ChatRun {
  readonly id: string
  readonly chatId: string
  readonly ownerScope: string
  readonly createdAt: number
}

const chatRuns = Metric.counter("chat_runs_total", { description: "Chat runs started, by outcome", incremental: true })
const chatActive = Metric.gauge("chat_runs_active", { description: "Chat runs generating right now" })
const chatFirstToken = Metric.histogram("chat_first_token_seconds", {
  description: "Time from chat request to the first text delta",
  boundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
})

interface RunState {
  readonly run: ChatRun
  /** The `data:` text of each frame (the frame id is the index). */
  readonly frames: Array<string>
  readonly changed: PubSub.PubSub<void>
  done: boolean
  finishedAt: number | undefined
  fiber: Fiber.Fiber<void> | undefined
  /** Frames appended to the shared log so far, and when the log last heard of the run. */
  flushed: number
  flushedAt: number
  persisted: boolean
}

export class ChatSessions extends Context.Service<ChatSessions, {
  /** Starts a run in the background; read it with `follow`. */
  readonly start: (principal: Principal, request: ChatRequest) => Effect.Effect<ChatRun>
  /** The run's frames after `afterId` (-1 = all), then live ones, until `[DONE]`. */
  readonly follow: (runId: string, afterId: number) => Stream.Stream<string>
  /** A run by its id, or the latest run of a chat id; only its owner's. */
  readonly find: (principal: Principal, id: string) => Effect.Effect<Option.Option<ChatRun>>
  /** Stops generation (an `abort` chunk ends the stream), or undoes the run's turn waiting for approval; false otherwise. */
  readonly abort: (runId: string) => Effect.Effect<boolean>
  readonly isActive: (runId: string) => boolean
}>()("cogo/ChatSessions") {
  static readonly layer = Layer.effect(
    ChatSessions,
    Effect.gen(function*() {
      const llm = yield* Llm
      const research = yield* ResearchAgent
      const turn = yield* ChatTurn
      const bus = yield* EventBus
      const db = yield* Database
      const shared = yield* ChatFrames
      const { replicaId } = yield* Leader
      const flushEvery = yield* Config.Duration("COGO_CHAT_FLUSH_EVERY").pipe(Config.withDefault(Duration.millis(25)))
      const maxFrames = yield* Config.Int("COGO_CHAT_MAX_FRAMES").pipe(Config.withDefault(20_000))
      const retention = yield* Config.Duration("COGO_CHAT_RETENTION").pipe(Config.withDefault(Duration.minutes(10)))
      const evidenceK = yield* Config.Int("COGO_CHAT_EVIDENCE_K").pipe(Config.withDefault(6))
      // Registered before the runs' fibers, so it runs after they were interrupted: their last frames are kept.
      yield* Effect.addFinalizer(() => Effect.suspend(() => flushAll))
      const fibers = yield* FiberSet.make<void>()
      // On SIGTERM the drain waits for live runs to finish (their readers resume on another replica from the shared
      // log) instead of interrupting them, up to its deadline.
      yield* (yield* Drain).track("chat runs", Effect.sync(() => activeCount() > 0))
      const runs = new Map<string, RunState>()
      const latestByChat = new Map<string, string>()

      const append = (state: RunState, chunk: UIChunk | "[DONE]") =>
        Effect.suspend(() => {
          if (state.done) return Effect.void
          if (state.frames.length >= maxFrames && chunk !== "[DONE]") return Effect.void
          state.frames.push(chunk === "[DONE]" ? "[DONE]" : JSON.stringify(chunk))
          if (chunk === "[DONE]") {
            state.done = true
            state.finishedAt = Date.now()
          }
          return PubSub.publish(state.changed, undefined)
        })

      /** Job progress on the realtime bus (project streams), best effort. */
      const progress = (state: RunState, projectId: string | null, stage: string) =>
        projectId === null
          ? Effect.void
          : Effect.flatMap(currentTraceparent, (traceparent) =>
            db.withRole(DbRole.agent, bus.publish({
              topic: "job",
              kind: "chat.progress",
              projectId,
              payload: { runId: state.run.id, chatId: state.run.chatId, stage },
              ...(traceparent === undefined ? {} : { traceparent })
            }))).pipe(Effect.ignore)

      /** The offline answer's note on a project: it cannot act without a model. */
      const offlineActingNote = (state: RunState) =>
        Effect.gen(function*() {
          const id = `text-${state.run.id}-offline`
          yield* append(state, { type: "text-start", id })
          yield* append(state, { type: "text-delta", id, delta: "\n\nChanging the project needs a language model (set OPENAI_API_KEY); offline, I can only answer from its knowledge." })
          yield* append(state, { type: "text-end", id })
        })

      const generate = (state: RunState, principal: Principal, request: ChatRequest, startedAt: number) =>
        Effect.gen(function*() {
          const projectId = request.projectId ?? null
          // A request that answers approvals continues the assistant message it ends with (the AI SDK's convention).
          const last = request.messages.at(-1)
          const messageId = last?.role === "assistant" ? last.id : `msg-${state.run.id}`
          const messages: Array<ChatMessage> = request.messages
            .map((m) => ({ role: m.role, content: chatText(m) }))
            .filter((m) => m.content !== "")
          const question = [...messages].reverse().find((m) => m.role === "user")?.content ?? ""
          yield* append(state, { type: "start", messageId })
          yield* append(state, { type: "start-step" })

          let context: ReadonlyArray<ContextDocument> = []
          // A continuation (approval answers) keeps the evidence its turn started with: no new research.
          if (projectId !== null && last?.role !== "assistant") {
            yield* append(state, { type: "data-progress", id: "research", data: { stage: "research", status: "running" } })
            yield* progress(state, projectId, "research")
            const found = yield* research.retrieve({ projectId, question, k: evidenceK })
            context = found.evidence.map((evidence) => ({
              sourceType: evidence.sources[0]?.sourceType ?? "knowledge",
              sourceId: evidence.sources[0]?.sourceId ?? "",
              content: evidence.content,
              score: evidence.score
            }))
            for (const [index, doc] of context.entries()) {
              const sourceId = `${index + 1}`
              yield* append(state, /^https?:\/\//.test(doc.sourceId)
                ? { type: "source-url", sourceId, url: doc.sourceId, title: `[${index + 1}] ${doc.sourceType}` }
                : { type: "source-document", sourceId, mediaType: "text/plain", title: `[${index + 1}] ${doc.sourceType}:${doc.sourceId}` })
            }
            yield* append(state, { type: "data-progress", id: "research", data: { stage: "research", status: "done", evidence: context.length } })
          }

          // Routing: with a model and a project the turn acts (the model/tool loop); otherwise it answers.
          if (projectId !== null && turn.canAct) {
            yield* append(state, { type: "data-progress", id: "act", data: { stage: "act", status: "running" } })
            yield* progress(state, projectId, "act")
            yield* turn.run({
              principal,
              runId: state.run.id,
              chatId: state.run.chatId,
              projectId,
              messages: request.messages,
              context,
              emit: (chunk) => append(state, chunk)
            })
            yield* append(state, { type: "data-progress", id: "act", data: { stage: "act", status: "done" } })
          } else {
            yield* append(state, { type: "data-progress", id: "generate", data: { stage: "generate", status: "running", model: llm.model } })
            yield* progress(state, projectId, "generate")
            const textId = `text-${state.run.id}`
            let first = true
            yield* llm.streamChat(messages, { context }).pipe(
              Stream.runForEach((chunk) =>
                Effect.gen(function*() {
                  if (chunk._tag !== "Delta") return
                  if (first) {
                    first = false
                    yield* Metric.update(chatFirstToken, (Date.now() - startedAt) / 1000)
                    yield* append(state, { type: "text-start", id: textId })
                  }
                  yield* append(state, { type: "text-delta", id: textId, delta: chunk.text })
                }))
            )
            if (!first) yield* append(state, { type: "text-end", id: textId })
            yield* append(state, { type: "data-progress", id: "generate", data: { stage: "generate", status: "done" } })
            if (projectId !== null) yield* offlineActingNote(state)
          }
          yield* append(state, { type: "finish-step" })
          if (state.frames.length >= maxFrames) {
            yield* append(state, { type: "error", errorText: `the reply exceeded ${maxFrames} frames and was cut` })
          }
          yield* append(state, { type: "finish" })
          yield* progress(state, projectId, "finished")
          yield* Metric.update(Metric.withAttributes(chatRuns, { outcome: "finished" }), 1)
        }).pipe(
          Effect.catch((error) =>
            Effect.andThen(
              Metric.update(Metric.withAttributes(chatRuns, { outcome: "error" }), 1),
              append(state, { type: "error", errorText: describeAgentError(error).message })
            )),
          Effect.onInterrupt(() =>
            Effect.andThen(Metric.update(Metric.withAttributes(chatRuns, { outcome: "aborted" }), 1), append(state, { type: "abort" }))),
          Effect.catchCause((cause) =>
            Effect.andThen(Effect.logError("chat run failed", cause), append(state, { type: "error", errorText: "internal error" }))
          ),
          Effect.ensuring(Effect.andThen(append(state, "[DONE]"), Metric.update(chatActive, activeCount()))),
          Effect.withSpan("ChatSessions.generate", { attributes: { runId: state.run.id, chatId: state.run.chatId } })
        )

      const activeCount = () => {
        let n = 0
        for (const state of runs.values()) if (!state.done) n++
        return n
      }

      const start = Effect.fn("ChatSessions.start")(function*(principal: Principal, request: ChatRequest) {
        const run: ChatRun = { id: crypto.randomUUID(), chatId: request.id, ownerScope: principalKey(principal), createdAt: Date.now() }
        const state: RunState = {
          run, frames: [], changed: yield* PubSub.unbounded<void>(), done: false, finishedAt: undefined, fiber: undefined,
          flushed: 0, flushedAt: 0, persisted: false
        }
        runs.set(run.id, state)
        latestByChat.set(`${run.ownerScope}|${run.chatId}`, run.id)
        yield* Metric.update(chatActive, activeCount())
        // The run is in the shared log before its id reaches the client: a resume on another replica finds it at once.
        yield* flush(state)
        state.fiber = yield* FiberSet.run(fibers, generate(state, principal, request, run.createdAt))
        return run
      })

      const follow = (runId: string, afterId: number): Stream.Stream<string> =>
        Stream.unwrap(Effect.gen(function*() {
          const state = runs.get(runId)
          if (state === undefined) return shared.follow(runId, afterId)
          // Subscribe before reading the log, so no append between the two is missed.
          const changes = yield* PubSub.subscribe(state.changed)
          return Stream.paginate(afterId + 1, (index) =>
            Effect.gen(function*() {
              while (state.frames.length <= index && !state.done) yield* PubSub.takeAll(changes)
              const batch = state.frames.slice(index).map((data, i) => frameText(index + i, data))
              const next = index + batch.length
              return [batch, state.done && next >= state.frames.length ? Option.none() : Option.some(next)] as const
            }))
        }))

      const find = (principal: Principal, id: string) =>
        Effect.gen(function*() {
          const scope = principalKey(principal)
          const state = runs.get(id) ?? runs.get(latestByChat.get(`${scope}|${id}`) ?? "")
          // Not here: a run of another replica (or one this replica forgot) from the shared log.
          const run = state !== undefined ? Option.some(state.run) : yield* shared.find(scope, id).pipe(
            Effect.catchTag("SqlError", (error) => Effect.as(Effect.logWarning("finding a chat run failed", error), Option.none()))
          )
          return Option.filter(run, (r) => r.ownerScope === scope || principal.role === "service_role")
        })

      const abort = (runId: string) =>
        Effect.gen(function*() {
          const state = runs.get(runId)
          if (state === undefined) return yield* shared.requestAbort(runId).pipe(Effect.orElseSucceed(() => false))
          if (state.fiber === undefined) return false
          // A finished run may have left its turn waiting for approval: aborting undoes that turn.
          if (state.done) return yield* turn.abandon(state.run.ownerScope, state.run.chatId, runId)
          yield* Fiber.interrupt(state.fiber)
          return true
        })

      /** Appends a run's new frames to the shared log (or beats its heartbeat); stops it when asked to. */
      const flush = (state: RunState) =>
        Effect.gen(function*() {
          const end = state.frames.length
          const finished = state.done
          const result = yield* shared.append({
            run: state.run,
            owner: replicaId,
            firstSeq: state.flushed,
            datas: state.frames.slice(state.flushed, end),
            finished
          })
          state.flushed = end
          state.flushedAt = Date.now()
          state.persisted = finished || result._tag === "Gone"
          if (result._tag === "Gone" || result.abortRequested) yield* stop(state)
        }).pipe(Effect.catchTag("SqlError", (error) => Effect.logWarning("appending chat frames failed; retrying at the next tick", error)))

      /** Runs with frames to append, or a heartbeat due. */
      const due = () => {
        const now = Date.now()
        const heartbeatMs = Duration.toMillis(shared.heartbeat)
        return [...runs.values()].filter((s) => !s.persisted && (s.flushed < s.frames.length || s.done || now - s.flushedAt >= heartbeatMs))
      }
      const flushAll: Effect.Effect<void> = Effect.suspend(() => Effect.forEach(due(), flush, { concurrency: 8, discard: true }))

      /** Interrupts a live run (its fiber appends `abort` and `[DONE]`). */
      const stop = (state: RunState) =>
        state.fiber === undefined || state.done ? Effect.void : Effect.asVoid(FiberSet.run(fibers, Fiber.interrupt(state.fiber)))

      yield* flushAll.pipe(Effect.repeat(Schedule.spaced(flushEvery)), Effect.forkScoped)
      // Aborts requested on other replicas (a lost notification is caught by the next heartbeat's flag).
      yield* shared.abortRequests.pipe(
        Stream.runForEach((runId) => {
          const state = runs.get(runId)
          return state === undefined ? Effect.void : stop(state)
        }),
        Effect.forkScoped
      )

      // Finished runs are forgotten after the retention period.
      yield* Effect.sync(() => {
        const now = Date.now()
        for (const [id, state] of runs) {
          if (state.finishedAt !== undefined && now - state.finishedAt > Duration.toMillis(retention)) {
            runs.delete(id)
            const key = `${state.run.ownerScope}|${state.run.chatId}`
            if (latestByChat.get(key) === id) latestByChat.delete(key)
          }
        }
      }).pipe(Effect.andThen(Effect.sleep("30 seconds")), Effect.forever, Effect.forkScoped)

      return ChatSessions.of({ start, follow, find, abort, isActive: (runId) => runs.get(runId)?.done === false })
    })
  )
}

