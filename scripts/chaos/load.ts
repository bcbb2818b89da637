/**
 * The mixed load of the chaos run, through the proxy: plugin imports (user JWT + HMAC, Idempotency-Key),
 * IDE reads and version-guarded writes on /rest/v1, and realtime subscribers that reconnect with
 * Last-Event-ID whenever their stream ends or breaks. Each part records what it was told, for the checks.
 */
import * as http from "node:http"
import { createHmac, randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import * as jose from "jose"
import { createSseParser } from "../../test/support/sseClient.ts"
import { jwtSecret, pluginSecret } from "./cluster.ts"
import { send, type Stats } from "./client.ts"

export const userToken = (sub: string) =>
  new jose.SignJWT({ sub, role: "authenticated", aud: "authenticated" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" }).setIssuedAt().setExpirationTime("2h")
    .sign(new TextEncoder().encode(jwtSecret))

const document = JSON.parse(readFileSync(new URL("../../test/fixtures/figma/text-mixed.json", import.meta.url), "utf8")) as unknown

export interface Running {
  readonly until: () => boolean
}

/** Creates a project as the user (POST with an Idempotency-Key); its id. */
export const createProject = async (port: number, stats: Stats, token: string, name: string): Promise<string> => {
  const id = randomUUID()
  const answer = await send(port, stats, {
    method: "POST",
    path: "/rest/v1/projects",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": `chaos-project-${id}`, prefer: "return=minimal" },
    body: () => ({ text: JSON.stringify({ id, name }) })
  })
  if (answer === undefined || answer.status !== 201) throw new Error(`creating a project: ${answer?.status} ${answer?.text}`)
  return id
}

export interface ImportLog {
  /** Idempotency key -> the job id the service answered (202). */
  readonly accepted: Map<string, string>
  attempted: number
}

/** Imports into `projects` one after another until `running.until()`; every upload has its own key. */
export const importLoop = async (port: number, stats: Stats, token: string, userId: string, projects: ReadonlyArray<string>, log: ImportLog, running: Running) => {
  for (let i = 0; !running.until(); i++) {
    const projectId = projects[i % projects.length]!
    const key = `chaos-import-${randomUUID()}`
    const text = JSON.stringify({ projectId, userId, fileKey: `CHAOS${i}`, document })
    log.attempted++
    const answer = await send(port, stats, {
      method: "POST",
      path: "/functions/v1/figma-plugin",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": key },
      body: () => {
        const timestamp = String(Math.floor(Date.now() / 1000))
        const signature = createHmac("sha256", pluginSecret).update(`${timestamp}.`).update(text).digest("hex")
        return { text, headers: { "x-cogo-timestamp": timestamp, "x-cogo-signature": `v1=${signature}` } }
      }
    })
    if (answer?.status === 202) log.accepted.set(key, (JSON.parse(answer.text) as { jobId: string }).jobId)
    else if (answer !== undefined) countUnexpected(stats, "import", answer.status)
    await new Promise((resolve) => setTimeout(resolve, 300))
  }
}

const countUnexpected = (stats: Stats, what: string, status: number) =>
  stats.errors.set(`${what} ${status}`, (stats.errors.get(`${what} ${status}`) ?? 0) + 1)

export interface EditLog {
  /** Writes the client knows were applied, in order. */
  readonly applied: Array<string>
  ambiguous: number
}

interface ProjectRow {
  readonly name: string
  readonly version: number
}

/**
 * The IDE: reads its project, renames it with `version=eq.N` (a stale or retried write changes zero rows);
 * after a zero-row answer it re-reads: the name it sent means the write landed on an earlier attempt.
 */
export const editLoop = async (port: number, stats: Stats, token: string, projectId: string, log: EditLog, running: Running) => {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" }
  const read = async (): Promise<ProjectRow | undefined> => {
    const answer = await send(port, stats, { method: "GET", path: `/rest/v1/projects?id=eq.${projectId}&select=name,version`, headers })
    if (answer?.status !== 200) return undefined
    return (JSON.parse(answer.text) as ReadonlyArray<ProjectRow>)[0]
  }
  for (let i = 0; !running.until(); i++) {
    const row = await read()
    if (row === undefined) continue
    const name = `edit-${projectId.slice(0, 8)}-${i}`
    const answer = await send(port, stats, {
      method: "PATCH",
      path: `/rest/v1/projects?id=eq.${projectId}&version=eq.${row.version}`,
      headers: { ...headers, prefer: "return=representation" },
      body: () => ({ text: JSON.stringify({ name }) })
    })
    if (answer?.status === 200 && (JSON.parse(answer.text) as ReadonlyArray<unknown>).length === 1) log.applied.push(name)
    else if (answer?.status === 200) {
      log.ambiguous++
      const after = await read()
      if (after?.name === name) log.applied.push(name)
    } else if (answer !== undefined) countUnexpected(stats, "edit", answer.status)
    await new Promise((resolve) => setTimeout(resolve, 150))
  }
}

export interface Subscriber {
  readonly projectId: string
  readonly since: number
  readonly received: Array<number>
  reconnects: number
}

/** One stream read through the proxy from `lastId`; resolves when it ends, breaks or `stop()` is true. */
const readStream = (port: number, token: string, sub: Subscriber, stop: () => boolean): Promise<void> =>
  new Promise((resolve) => {
    const lastId = sub.received.length > 0 ? sub.received[sub.received.length - 1]! : sub.since
    const parse = createSseParser((frame) => {
      if (frame.id !== undefined && frame.id !== "") sub.received.push(Number(frame.id))
    })
    const request = http.get({
      host: "127.0.0.1",
      port,
      path: `/functions/v1/realtime/projects/${sub.projectId}`,
      agent: false,
      headers: { authorization: `Bearer ${token}`, accept: "text/event-stream", "last-event-id": String(lastId) }
    }, (response) => {
      if (response.statusCode !== 200) {
        response.resume()
        response.on("end", () => resolve())
        return
      }
      response.setEncoding("utf8")
      response.on("data", (chunk: string) => parse(chunk))
      response.on("end", () => resolve())
      response.on("error", () => resolve())
    })
    const timer = setInterval(() => {
      if (stop()) request.destroy()
    }, 100)
    request.on("error", () => resolve())
    request.on("close", () => {
      clearInterval(timer)
      resolve()
    })
  })

/** Keeps one subscriber connected (reconnecting with Last-Event-ID) until `stop()`. */
export const subscribe = async (port: number, token: string, sub: Subscriber, stop: () => boolean) => {
  while (!stop()) {
    await readStream(port, token, sub, stop)
    if (stop()) return
    sub.reconnects++
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}
