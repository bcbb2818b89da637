/**
 * A local OpenAI-compatible HTTP server for tests and benchmarks, driven by the real `openai` SDK.
 *
 * Endpoints: `POST /v1/chat/completions` (streaming SSE or JSON) and `POST /v1/embeddings`. By default chat
 * echoes the last user message ("Echo: ...") in word deltas with usage, and embeddings are deterministic
 * hashed vectors of the requested `dimensions`. Tests script what the next requests get, in order:
 * streamed deltas (optionally slow), an error status (429 with Retry-After, 500, ...), a slow response head,
 * a stream that breaks mid-way (socket destroyed after some deltas), or function calls (`kind: "tools"`).
 *
 *   const fake = yield* fakeOpenAI()                       // scoped: closed with the test's scope
 *   fake.scriptChat({ kind: "error", status: 429, retryAfter: "1" }, { kind: "stream", deltas: ["Hi", "!"] })
 *   // OPENAI_BASE_URL = fake.baseUrl, OPENAI_API_KEY = fake.apiKey
 */
import { Effect, type Scope } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { hashedEmbedding } from "../../src/domain/agents/TextFeatures.ts"

export type ChatScript =
  /** Streams `deltas` (each after `delayMs`), then finish_reason and usage. JSON when the request did not stream. */
  | { readonly kind: "stream"; readonly deltas: ReadonlyArray<string>; readonly delayMs?: number }
  /** Answers `status` with an OpenAI-style error body; `retryAfter` sets the Retry-After header (seconds). */
  | { readonly kind: "error"; readonly status: number; readonly retryAfter?: string; readonly message?: string }
  /** Waits `delayMs` before the response head, then behaves as `then` (default: the echo reply). */
  | { readonly kind: "slow"; readonly delayMs: number; readonly then?: ChatScript }
  /** Streams `deltas`, then destroys the socket without finishing the stream. */
  | { readonly kind: "break"; readonly deltas: ReadonlyArray<string> }
  /**
   * Function calling: streams optional `text`, then each call (id, name, then its JSON arguments in pieces
   * of `chunkSize` characters), then finish_reason "tool_calls". Streaming requests only.
   */
  | {
    readonly kind: "tools"
    /** The calls, or a function of the request (e.g. to use an id a previous tool returned). */
    readonly calls: ReadonlyArray<ScriptedToolCall> | ((body: Record<string, unknown>) => ReadonlyArray<ScriptedToolCall>)
    readonly text?: string
    readonly delayMs?: number
    readonly chunkSize?: number
  }

export interface ScriptedToolCall {
  readonly name: string
  /** An object is sent as its JSON; a string as is (e.g. invalid JSON). */
  readonly arguments: unknown
  readonly id?: string
}

export type EmbeddingsScript =
  | { readonly kind: "ok" }
  | { readonly kind: "error"; readonly status: number; readonly retryAfter?: string; readonly message?: string }
  | { readonly kind: "slow"; readonly delayMs: number; readonly then?: EmbeddingsScript }

export interface RecordedRequest {
  readonly path: string
  readonly body: Record<string, unknown>
  readonly authorization: string | undefined
  readonly at: number
}

export interface FakeOpenAIServer {
  /** `http://127.0.0.1:<port>/v1`, for `OPENAI_BASE_URL`. */
  readonly baseUrl: string
  /** The key the server accepts (other keys get 401). */
  readonly apiKey: string
  /** Every request received, in order. */
  readonly requests: Array<RecordedRequest>
  readonly scriptChat: (...steps: ReadonlyArray<ChatScript>) => void
  readonly scriptEmbeddings: (...steps: ReadonlyArray<EmbeddingsScript>) => void
  /** What chat answers once the script is used up (default: the echo reply). */
  readonly setDefaultChat: (step: ChatScript | undefined) => void
  /** Clears scripts, the default and recorded requests. */
  readonly reset: () => void
  readonly close: () => Promise<void>
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const lastUserContent = (body: Record<string, unknown>): string => {
  const messages = Array.isArray(body["messages"]) ? body["messages"] as Array<{ role?: string; content?: unknown }> : []
  const last = [...messages].reverse().find((m) => m.role === "user")
  return typeof last?.content === "string" ? last.content : ""
}

/** The parsed contents of the request's tool-result messages, in order (what the tools returned). */
export const toolResults = (body: Record<string, unknown>): ReadonlyArray<unknown> => {
  const messages = Array.isArray(body["messages"]) ? body["messages"] as Array<{ role?: string; content?: unknown }> : []
  return messages.filter((m) => m.role === "tool" && typeof m.content === "string").map((m) => JSON.parse(m.content as string) as unknown)
}

const echoDeltas = (body: Record<string, unknown>): ReadonlyArray<string> => `Echo: ${lastUserContent(body)}`.match(/\S+\s*/g) ?? []

const countTokens = (text: string) => (text.match(/\S+/g) ?? []).length

const sendError = (res: http.ServerResponse, step: { status: number; retryAfter?: string; message?: string }) => {
  const headers: Record<string, string> = { "content-type": "application/json" }
  if (step.retryAfter !== undefined) headers["retry-after"] = step.retryAfter
  res.writeHead(step.status, headers)
  res.end(JSON.stringify({ error: { message: step.message ?? `scripted ${step.status}`, type: "fake_error", code: String(step.status) } }))
}

export const startFakeOpenAI = async (options: { readonly apiKey?: string } = {}): Promise<FakeOpenAIServer> => {
  const apiKey = options.apiKey ?? "sk-fake-test-key"
  const requests: Array<RecordedRequest> = []
  let chatScript: Array<ChatScript> = []
  let embeddingsScript: Array<EmbeddingsScript> = []
  let defaultChat: ChatScript | undefined
  let sequence = 0

  const chat = async (body: Record<string, unknown>, res: http.ServerResponse, step: ChatScript): Promise<void> => {
    switch (step.kind) {
      case "error":
        return sendError(res, step)
      case "slow":
        await sleep(step.delayMs)
        if (res.destroyed) return
        return chat(body, res, step.then ?? { kind: "stream", deltas: echoDeltas(body) })
      case "tools":
        return streamToolCalls(body, res, step)
      case "stream":
      case "break": {
        const model = typeof body["model"] === "string" ? body["model"] : "fake-model"
        const id = `chatcmpl-fake-${++sequence}`
        const created = Math.floor(Date.now() / 1000)
        const promptTokens = countTokens(JSON.stringify(body["messages"] ?? []))
        const completionTokens = step.deltas.reduce((n, d) => n + countTokens(d), 0)
        if (body["stream"] !== true) {
          if (step.kind === "break") return void res.socket?.destroy()
          res.writeHead(200, { "content-type": "application/json" })
          return void res.end(JSON.stringify({
            id, object: "chat.completion", created, model,
            choices: [{ index: 0, message: { role: "assistant", content: step.deltas.join("") }, finish_reason: "stop" }],
            usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens }
          }))
        }
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
        const send = (chunk: unknown) => res.write(`data: ${JSON.stringify(chunk)}\n\n`)
        const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
          id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }]
        })
        send(chunk({ role: "assistant", content: "" }, null))
        for (const delta of step.deltas) {
          if (step.kind === "stream" && step.delayMs !== undefined) await sleep(step.delayMs)
          if (res.destroyed) return
          send(chunk({ content: delta }, null))
        }
        if (step.kind === "break") {
          // Let the deltas reach the client, then cut the connection mid-stream.
          await sleep(20)
          return void res.socket?.destroy()
        }
        send(chunk({}, "stop"))
        const streamOptions = body["stream_options"] as { include_usage?: boolean } | undefined
        if (streamOptions?.include_usage === true) {
          send({
            id, object: "chat.completion.chunk", created, model, choices: [],
            usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens }
          })
        }
        res.write("data: [DONE]\n\n")
        return void res.end()
      }
    }
  }

  const streamToolCalls = async (body: Record<string, unknown>, res: http.ServerResponse, step: Extract<ChatScript, { kind: "tools" }>) => {
    const model = typeof body["model"] === "string" ? body["model"] : "fake-model"
    const id = `chatcmpl-fake-${++sequence}`
    const created = Math.floor(Date.now() / 1000)
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" })
    const send = (delta: Record<string, unknown>, finish: string | null) =>
      res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`)
    send({ role: "assistant", content: "" }, null)
    if (step.text !== undefined) send({ content: step.text }, null)
    const size = step.chunkSize ?? 16
    const calls = typeof step.calls === "function" ? step.calls(body) : step.calls
    for (const [index, call] of calls.entries()) {
      if (step.delayMs !== undefined) await sleep(step.delayMs)
      if (res.destroyed) return
      const args = typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments)
      send({ tool_calls: [{ index, id: call.id ?? `call_${sequence}_${index}`, type: "function", function: { name: call.name, arguments: "" } }] }, null)
      for (let at = 0; at < args.length; at += size) send({ tool_calls: [{ index, function: { arguments: args.slice(at, at + size) } }] }, null)
    }
    send({}, "tool_calls")
    res.write("data: [DONE]\n\n")
    res.end()
  }

  const embeddings = async (body: Record<string, unknown>, res: http.ServerResponse, step: EmbeddingsScript): Promise<void> => {
    switch (step.kind) {
      case "error":
        return sendError(res, step)
      case "slow":
        await sleep(step.delayMs)
        if (res.destroyed) return
        return embeddings(body, res, step.then ?? { kind: "ok" })
      case "ok": {
        const input = body["input"]
        const texts = Array.isArray(input) ? input.map(String) : [String(input ?? "")]
        const dimensions = typeof body["dimensions"] === "number" ? body["dimensions"] : 1536
        res.writeHead(200, { "content-type": "application/json" })
        return void res.end(JSON.stringify({
          object: "list",
          model: body["model"] ?? "fake-embeddings",
          data: texts.map((text, index) => ({ object: "embedding", index, embedding: hashedEmbedding(text, dimensions) })),
          usage: { prompt_tokens: texts.reduce((n, t) => n + countTokens(t), 0), total_tokens: texts.reduce((n, t) => n + countTokens(t), 0) }
        }))
      }
    }
  }

  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const path = (req.url ?? "/").split("?")[0]!
      let body: Record<string, unknown> = {}
      try {
        body = chunks.length === 0 ? {} : JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>
      } catch {
        return sendError(res, { status: 400, message: "invalid JSON" })
      }
      requests.push({ path, body, authorization: req.headers.authorization, at: Date.now() })
      if (req.headers.authorization !== `Bearer ${apiKey}`) return sendError(res, { status: 401, message: "invalid api key" })
      const handle = path === "/v1/chat/completions"
        ? chat(body, res, chatScript.shift() ?? defaultChat ?? { kind: "stream", deltas: echoDeltas(body) })
        : path === "/v1/embeddings"
        ? embeddings(body, res, embeddingsScript.shift() ?? { kind: "ok" })
        : Promise.resolve(sendError(res, { status: 404, message: `no route ${path}` }))
      handle.catch(() => res.destroy())
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    apiKey,
    requests,
    scriptChat: (...steps) => void chatScript.push(...steps),
    scriptEmbeddings: (...steps) => void embeddingsScript.push(...steps),
    setDefaultChat: (step) => {
      defaultChat = step
    },
    reset: () => {
      chatScript = []
      embeddingsScript = []
      defaultChat = undefined
      requests.length = 0
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

/** The fake server for the lifetime of the current scope. */
export const fakeOpenAI = (options: { readonly apiKey?: string } = {}): Effect.Effect<FakeOpenAIServer, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.promise(() => startFakeOpenAI(options)), (server) => Effect.promise(() => server.close()))

/** The environment that points the service's LLM and embeddings at `server`. */
export const fakeOpenAIEnv = (server: FakeOpenAIServer): Record<string, string> => ({
  OPENAI_BASE_URL: server.baseUrl,
  OPENAI_API_KEY: server.apiKey
})
