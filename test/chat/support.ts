/**
 * The chat tool tests' harness: the real service over HTTP with the scripted OpenAI-compatible server, the
 * real `ai` package as the client (an `AbstractChat` with a plain in-memory state, as a browser's Chat
 * keeps in React state, over `DefaultChatTransport`), and projects made through the project commands.
 */
import { AbstractChat, type ChatState, type ChatStatus, DefaultChatTransport, lastAssistantMessageIsCompleteWithApprovalResponses, type UIMessage } from "ai"
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { ProjectCommands } from "../../src/services/cqrs/ProjectCommands.ts"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { baseUrl, EdgeServerLive, userToken } from "../edge/server.ts"
import { fakeOpenAI, fakeOpenAIEnv, type FakeOpenAIServer } from "../support/FakeOpenAI.ts"
import { eventually } from "../support/eventually.ts"

export class Fake extends Context.Service<Fake, FakeOpenAIServer>()("test/chat/FakeOpenAI") {}

export const ChatToolsLive = (env: Record<string, string> = {}) =>
  Layer.unwrap(Effect.map(Effect.service(Fake), (fake) =>
    EdgeServerLive({ ...fakeOpenAIEnv(fake), LLM_MAX_RETRIES: "0", COGO_CHAT_RATE_BURST: "100", COGO_CHAT_DIRECT_RATE_BURST: "100", ...env }))).pipe(
    Layer.provideMerge(Layer.effect(Fake, fakeOpenAI()))
  )

class PlainState implements ChatState<UIMessage> {
  status: ChatStatus = "ready"
  error: Error | undefined = undefined
  messages: Array<UIMessage> = []
  pushMessage = (message: UIMessage) => {
    this.messages = [...this.messages, message]
  }
  popMessage = () => {
    this.messages = this.messages.slice(0, -1)
  }
  replaceMessage = (index: number, message: UIMessage) => {
    this.messages = this.messages.map((m, i) => i === index ? message : m)
  }
  snapshot = <T>(thing: T): T => structuredClone(thing)
}

/** The AI SDK chat in Node: resubmits by itself once every approval of the last message is answered. */
export class NodeChat extends AbstractChat<UIMessage> {
  constructor(options: { readonly api: string; readonly token: string; readonly projectId: string; readonly id?: string; readonly traceparent?: string }) {
    super({
      ...(options.id === undefined ? {} : { id: options.id }),
      state: new PlainState(),
      transport: new DefaultChatTransport({
        api: options.api,
        headers: { authorization: `Bearer ${options.token}`, ...(options.traceparent === undefined ? {} : { traceparent: options.traceparent }) },
        body: { projectId: options.projectId }
      }),
      sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses
    })
  }
}

export type ToolPart = {
  readonly type: string
  readonly toolName?: string
  readonly toolCallId: string
  readonly state: string
  readonly input?: unknown
  readonly output?: unknown
  readonly errorText?: string
  readonly approval?: { readonly id: string; readonly approved?: boolean }
}

/** The tool parts of the chat's messages, in order. */
export const toolParts = (chat: NodeChat): ReadonlyArray<ToolPart> =>
  chat.messages.flatMap((m) => m.parts.filter((p) => p.type === "dynamic-tool") as unknown as ReadonlyArray<ToolPart>)

export const textOf = (chat: NodeChat) =>
  chat.messages.filter((m) => m.role === "assistant").flatMap((m) => m.parts).map((p) => p.type === "text" ? p.text : "").join("")

/** Polls `check` until it holds (or fails the test after `timeoutMs`). */
export const until = (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000) =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeoutMs
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })

/** Waits for the chat to settle with an answer of some kind (ready or error, nothing in flight). */
export const settled = (chat: NodeChat, what: string) => until(what, () => chat.status === "ready" || chat.status === "error")

export const alice = "a11ce000-0000-4000-8000-0000000000c1"
export const bob = "b0b00000-0000-4000-8000-0000000000c2"

export interface TestProject {
  readonly projectId: string
  readonly homeId: string
}

/** A project of alice's (bob a viewer) with a Home page, through the project commands, once projected. */
export const makeProject = (settings: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const commands = yield* ProjectCommands
    const sql = yield* SqlClient
    const db = yield* Database
    const projectId = crypto.randomUUID()
    const homeId = crypto.randomUUID()
    yield* commands.upsert("project", { id: projectId, name: "Shop", description: null, ownerId: alice, settings })
    yield* commands.upsert("page", { id: homeId, projectId, name: "Home", route: "/", definition: { tree: { type: "Page", children: [] } } })
    yield* eventually("the project is projected",
      Effect.map(db.withRole(DbRole.projector, sql<{ n: number }>`SELECT count(*)::int AS n FROM public.pages WHERE id = ${homeId}`), (rows) => rows[0]?.n === 1))
    yield* db.withRole(DbRole.projector, sql`
      INSERT INTO public.project_members (project_id, user_id, role) VALUES (${projectId}, ${bob}, 'viewer')`)
    return { projectId, homeId } satisfies TestProject
  })

export const endpoints = Effect.gen(function*() {
  const url = yield* baseUrl
  return {
    url,
    chat: `${url}/functions/v1/chat`,
    aliceToken: yield* Effect.promise(() => userToken(alice)),
    bobToken: yield* Effect.promise(() => userToken(bob))
  }
})

/** GET /rest/v1/<table> as a user; the parsed rows. */
export const rest = (url: string, token: string, path: string) =>
  Effect.promise(() =>
    fetch(`${url}/rest/v1/${path}`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json() as Promise<Array<Record<string, unknown>>>))
