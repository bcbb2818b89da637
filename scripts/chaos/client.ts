/**
 * The chaos load's HTTP client: one new connection per request (so the proxy spreads requests round-robin),
 * retries on connection errors and 503 with capped exponential backoff (callers only send retryable
 * requests: reads, POSTs with an Idempotency-Key, version-guarded PATCHes), and counts every attempt.
 */
import * as http from "node:http"

export interface Answer {
  readonly status: number
  readonly headers: http.IncomingHttpHeaders
  readonly text: string
}

export interface Stats {
  requests: number
  readonly errors: Map<string, number>
  /** [started, ended] of every successful attempt (performance.now()). */
  readonly successes: Array<readonly [number, number]>
  /** Requests given up after their retry deadline. */
  failed: number
}

export const newStats = (): Stats => ({ requests: 0, errors: new Map(), successes: [], failed: 0 })

export const countError = (stats: Stats, kind: string) => stats.errors.set(kind, (stats.errors.get(kind) ?? 0) + 1)

export interface RequestSpec {
  readonly method: string
  readonly path: string
  readonly headers?: Record<string, string>
  /** Built per attempt (a plugin upload is re-signed with a fresh timestamp). */
  readonly body?: () => { readonly text: string; readonly headers?: Record<string, string> }
}

const once = (port: number, spec: RequestSpec, timeoutMs: number): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const body = spec.body?.()
    const request = http.request({
      host: "127.0.0.1",
      port,
      method: spec.method,
      path: spec.path,
      agent: false,
      headers: { ...spec.headers, ...body?.headers },
      timeout: timeoutMs
    }, (response) => {
      let text = ""
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => (text += chunk))
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text }))
      response.on("error", reject)
    })
    request.on("timeout", () => request.destroy(new Error("timeout")))
    request.on("error", reject)
    request.end(body?.text)
  })

const errorKind = (error: unknown): string => {
  const code = (error as { code?: unknown }).code
  if (typeof code === "string") return code
  return error instanceof Error && error.message === "timeout" ? "timeout" : "connection"
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Sends `spec` until it gets an answer other than 502/503 or a connection error; those are counted by kind
 * and retried (100 ms doubling to 2 s, jittered) until `deadlineMs`. Returns undefined when it gave up.
 */
export const send = async (port: number, stats: Stats, spec: RequestSpec, deadlineMs = 60_000): Promise<Answer | undefined> => {
  const until = performance.now() + deadlineMs
  for (let attempt = 0; performance.now() < until; attempt++) {
    stats.requests++
    const started = performance.now()
    try {
      const answer = await once(port, spec, 15_000)
      if (answer.status !== 502 && answer.status !== 503) {
        if (answer.status < 500) stats.successes.push([started, performance.now()])
        else countError(stats, `http ${answer.status}`)
        return answer
      }
      countError(stats, `http ${answer.status}`)
    } catch (error) {
      countError(stats, errorKind(error))
    }
    await sleep(Math.min(2_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2))
  }
  stats.failed++
  return undefined
}
