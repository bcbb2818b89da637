/**
 * Runs the real service (`src/main.ts`) as a child process, the way `npm start` does, for tests that need
 * process boundaries: start-up, signals, locks, several replicas.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { freePort } from "./ports.ts"

export interface ServiceProcess {
  readonly child: ChildProcess
  readonly baseUrl: string
  readonly metricsUrl: string
  /** Everything the process printed so far (stdout and stderr). */
  readonly output: () => string
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>
  /** Milliseconds from spawn until /health answered 200. */
  readonly startupMs: number
}

const root = path.resolve(import.meta.dirname, "../..")

export const spawnService = (env: Record<string, string>, entry = "src/main.ts") => {
  const child = spawn(process.execPath, ["--import", "tsx", entry], {
    cwd: root,
    env: { PATH: process.env["PATH"] ?? "", HOME: process.env["HOME"] ?? "/tmp", LOG_FORMAT: "json", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let text = ""
  child.stdout.on("data", (chunk: Buffer) => (text += chunk.toString()))
  child.stderr.on("data", (chunk: Buffer) => (text += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  return { child, output: () => text, exited }
}

/** Starts the service on free ports and waits until /health is 200 (or the process exits). */
export const startService = async (env: Record<string, string>, timeoutMs = 60_000): Promise<ServiceProcess> => {
  const port = await freePort()
  const metricsPort = await freePort()
  const started = performance.now()
  const { child, output, exited } = spawnService({ HOST: "127.0.0.1", PORT: String(port), METRICS_PORT: String(metricsPort), ...env })
  const baseUrl = `http://127.0.0.1:${port}`
  let exitCode: number | null | undefined
  void exited.then((code) => (exitCode = code))
  while (performance.now() - started < timeoutMs) {
    if (exitCode !== undefined) throw new Error(`service exited with ${exitCode}: ${output()}`)
    const ok = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false)
    if (ok) {
      return { child, baseUrl, metricsUrl: `http://127.0.0.1:${metricsPort}`, output, exited, startupMs: performance.now() - started }
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  child.kill("SIGKILL")
  throw new Error(`service did not become healthy in ${timeoutMs} ms: ${output()}`)
}
