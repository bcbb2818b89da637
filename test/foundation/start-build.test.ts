/**
 * `npm start` runs `scripts/start.ts`: it bundles the service into `dist/main.js` only when an input changed,
 * then runs the bundle. The bundle must still find what the sources locate by `import.meta.url`: the PGlite
 * worker, migrations/, package.json (version) and the status page.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { bundlePath, ensureBuilt, sourceStamp } from "../../scripts/build.ts"
import { defaultTemplateOptions, templatePath } from "../../src/services/platform/embedded/template.ts"
import { freePort } from "../support/ports.ts"

const root = path.resolve(import.meta.dirname, "../..")

describe("npm start: build once, run the bundle", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cogo-bundle-"))
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }))

  it("builds only when the sources changed", async () => {
    await ensureBuilt()
    expect(fs.existsSync(bundlePath)).toBe(true)
    expect(fs.readFileSync(path.join(path.dirname(bundlePath), "main.stamp"), "utf8")).toBe(sourceStamp())
    const mtime = fs.statSync(bundlePath).mtimeMs
    expect(await ensureBuilt()).toBe(false)
    expect(fs.statSync(bundlePath).mtimeMs).toBe(mtime)
  }, 60_000)

  it("serves health, migrations, version and the status page from the bundle", async () => {
    const port = await freePort()
    const child = spawn(process.execPath, [bundlePath], {
      cwd: os.tmpdir(), // the bundle must not depend on the working directory for its own files
      env: { PATH: process.env["PATH"] ?? "", HOME: os.tmpdir(), HOST: "127.0.0.1", PORT: String(port), METRICS_PORT: "0", COGO_DATA_DIR: dataDir },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve))
    try {
      const base = `http://127.0.0.1:${port}`
      const deadline = Date.now() + 90_000
      let health: Response | undefined
      while (Date.now() < deadline && child.exitCode === null) {
        health = await fetch(`${base}/health`).catch(() => undefined)
        if (health?.status === 200) break
        await new Promise((r) => setTimeout(r, 100))
      }
      expect(health?.status, output).toBe(200)
      const body = await health!.json() as { backend: string; migrations: { count: number }; version: string }
      expect(body.backend).toBe("embedded")
      expect(body.migrations.count).toBe(fs.readdirSync(path.join(root, "migrations")).filter((f) => f.endsWith(".sql")).length)
      // The fresh data directory was a copy of the migrated template, which the bundle found in node_modules/.cache.
      expect(fs.existsSync(path.join(templatePath(defaultTemplateOptions()), "PG_VERSION"))).toBe(true)
      expect(body.version).toBe((JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }).version)
      const status = await fetch(`${base}/status`)
      expect(status.status).toBe(200)
      expect(await status.text()).toContain("<title>cogo status</title>")
    } finally {
      child.kill("SIGTERM")
      await exited
    }
  }, 120_000)
})
