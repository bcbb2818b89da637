/**
 * The status page in headless Chromium (Debian's `chromium` at /usr/bin/chromium; skipped with a note when
 * it is not installed): it loads, shows a running job, follows the job's trace to a waterfall, picks up a
 * new job over SSE, and leaves a screenshot in test/output/status-page.png (copy it to docs/ to refresh the README).
 */
import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { randomBytes, randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { chromium } from "playwright-core"
import { RunningServiceTag, serviceLayer } from "./support.ts"

const chromiumPath = "/usr/bin/chromium"
const hasChromium = fs.existsSync(chromiumPath)
// CI installs Chromium (.ci/run): there a missing browser is a failure, not a skip.
if (!hasChromium && process.env["CI"]) throw new Error(`${chromiumPath} is required in CI (apt-get install -y chromium)`)
if (!hasChromium) console.warn(`status page test skipped: ${chromiumPath} is not installed (apt-get install -y chromium)`)

const screenshotPath = path.resolve(import.meta.dirname, "../output/status-page.png")

const launch = Effect.acquireRelease(
  Effect.promise(async () => {
    const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cogo-chromium-"))
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumPath,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync"
      ]
    })
    return { context, userDataDir }
  }),
  ({ context, userDataDir }) =>
    Effect.promise(async () => {
      await context.close()
      fs.rmSync(userDataDir, { recursive: true, force: true })
    })
)

const insertJob = (state: "running" | "queued", kind: string, traceparent: string | null) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const id = randomUUID()
    // A lease far ahead so no worker treats the row as abandoned while the page looks at it.
    yield* sql`
      INSERT INTO cogo.jobs (id, kind, state, attempts, started_at, lease_expires_at, locked_by, traceparent, run_at)
      VALUES (${id}, ${kind}, ${state}, 1, now(), now() + interval '1 hour', 'status-page-test', ${traceparent}, now() + interval '1 hour')`
    return id
  })

layer(serviceLayer(), { excludeTestServices: true, timeout: Duration.seconds(90) })("status page", (it) => {
  it.effect.skipIf(!hasChromium)("loads, shows a running job, renders its trace waterfall and updates over SSE", () =>
    Effect.gen(function*() {
      const service = yield* RunningServiceTag
      const traceId = randomBytes(16).toString("hex")
      const traceparent = `00-${traceId}-${randomBytes(8).toString("hex")}-01`
      const health = yield* Effect.promise(() => fetch(`${service.baseUrl}/health`, { headers: { traceparent } }))
      assert.strictEqual(health.status, 200)
      const jobId = yield* insertJob("running", "figma-import", traceparent)

      const { context } = yield* launch
      const page = yield* Effect.promise(() => context.newPage())
      const response = yield* Effect.promise(() => page.goto(`${service.baseUrl}/status#token=${service.operatorToken}`))
      assert.strictEqual(response?.status(), 200)
      assert.match(response?.headers()["content-type"] ?? "", /text\/html/)

      // The running job arrives with the first SSE snapshot.
      const jobRow = page.locator(`#jobs tr[data-job="${jobId}"]`)
      yield* Effect.promise(() => jobRow.waitFor({ timeout: 15_000 }))
      assert.strictEqual(yield* Effect.promise(() => jobRow.locator(".pill").innerText()), "running")
      assert.strictEqual(yield* Effect.promise(() => page.locator("#connection").innerText()), "live")
      const alertRows = yield* Effect.promise(() => page.locator("#alerts tr").count())
      assert.isAtLeast(alertRows, 5)

      // Following the job's trace renders the waterfall: the HTTP server span and its database span below it.
      yield* Effect.promise(() => jobRow.locator("a[data-trace-link]").click())
      yield* Effect.promise(() => page.locator("#waterfall .wf-row").nth(1).waitFor({ timeout: 10_000 }))
      const names = yield* Effect.promise(() => page.locator("#waterfall .wf-name").allInnerTexts())
      // Named by the semantic conventions: `{method} {http.route}`, `{operation} {table}`.
      assert.strictEqual(names[0], "GET /health")
      assert.isTrue(names.slice(1).some((name) => /^SELECT\b/.test(name)), JSON.stringify(names))
      const indent = yield* Effect.promise(() =>
        page.locator("#waterfall .wf-name").nth(1).evaluate((el) => parseInt((el as HTMLElement).style.paddingLeft, 10)))
      assert.isAbove(indent, 0, "the child span is indented under its parent")
      assert.include(yield* Effect.promise(() => page.locator("#trace-title").innerText()), traceId)
      assert.include(page.url(), `trace=${traceId}`)

      // A job created after the page loaded appears without a reload (SSE).
      const queuedId = yield* insertJob("queued", "chat", null)
      yield* Effect.promise(() => page.locator(`#jobs tr[data-job="${queuedId}"]`).waitFor({ timeout: 10_000 }))

      fs.mkdirSync(path.dirname(screenshotPath), { recursive: true })
      yield* Effect.promise(() => page.screenshot({ path: screenshotPath, fullPage: true }))
      assert.isAbove(fs.statSync(screenshotPath).size, 10_000)
    }))
})
