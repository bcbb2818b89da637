import { assert, layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Result, Schedule } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as jose from "jose"
import { randomBytes, randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import { parseArtifactUrlPath } from "../../src/domain/observability/ArtifactPath.ts"
import type { TraceDetail } from "../../src/domain/observability/Observability.ts"
import type { JobId } from "../../src/domain/jobs/Job.ts"
import { Artifacts } from "../../src/services/observability/Artifacts.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { Database, DbRole } from "../../src/services/platform/Database.ts"
import { operatorGet, RunningServiceTag, serviceLayer } from "./support.ts"

/** A fresh JWT secret per run: never a fixture. */
const jwtSecret = randomBytes(32).toString("hex")
const alice = randomUUID()
const bob = randomUUID()
const project = randomUUID()
const otherProject = randomUUID()
const job = randomUUID()
const otherJob = randomUUID()
const secretText = `outside-the-base ${randomUUID()}`

class Dirs extends Context.Service<Dirs, { readonly root: string; readonly base: string }>()("test/Dirs") {}

const tempDirs = Effect.acquireRelease(
  Effect.sync(() => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "cogo-artifacts-"))
    const base = path.join(root, "base")
    fs.mkdirSync(base)
    fs.writeFileSync(path.join(root, "secret.txt"), secretText)
    fs.mkdirSync(path.join(root, "outside"))
    fs.writeFileSync(path.join(root, "outside", "secret.txt"), secretText)
    return { root, base }
  }),
  ({ root }) => Effect.sync(() => fs.rmSync(root, { recursive: true, force: true }))
)

const TestLayer = Layer.unwrap(Effect.map(tempDirs, (dirs) =>
  serviceLayer({ ARTIFACTS_BASE: dirs.base, COGO_AUTH_MODE: "prod", SUPABASE_JWT_SECRET: jwtSecret }).pipe(
    Layer.merge(Layer.succeed(Dirs, dirs))
  )))

const tokenFor = (sub: string) =>
  Effect.promise(() =>
    new jose.SignJWT({ sub, role: "authenticated", aud: "authenticated" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode(jwtSecret)))

/** A GET with the path sent exactly as written (fetch would normalize `..` and backslashes away). */
const rawGet = (baseUrl: string, rawPath: string, headers: Record<string, string> = {}) =>
  Effect.callback<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resume) => {
    const url = new URL(baseUrl)
    const req = http.request({ host: url.hostname, port: url.port, path: rawPath, method: "GET", headers }, (res) => {
      let body = ""
      res.on("data", (chunk: Buffer) => (body += chunk.toString("latin1")))
      res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, headers: res.headers, body })))
    })
    req.on("error", (error) => resume(Effect.die(error)))
    req.end()
  })

const setUp = Effect.gen(function*() {
  const sql = yield* SqlClient
  const artifacts = yield* Artifacts
  const { root, base } = yield* Dirs
  yield* sql`INSERT INTO public.projects (id, name, owner_id) VALUES (${project}, 'artifacts test', ${randomUUID()}), (${otherProject}, 'other', ${bob})`
  yield* sql`INSERT INTO public.project_members (project_id, user_id, role) VALUES (${project}, ${alice}, 'viewer'), (${otherProject}, ${bob}, 'owner')
             ON CONFLICT DO NOTHING`
  const location = { projectId: project, jobId: job }
  yield* artifacts.write(location, "result.json", JSON.stringify({ ok: true, pages: 3 }))
  yield* artifacts.append(location, "logs/job.jsonl", "{\"line\":1}\n")
  yield* artifacts.append(location, "logs/job.jsonl", "{\"line\":2}\n")
  yield* artifacts.write(location, "transcript.md", "# chat\nhello")
  yield* artifacts.write({ projectId: otherProject, jobId: otherJob }, "x.json", "{\"theirs\":true}")
  const jobDir = path.join(base, project, job)
  fs.symlinkSync(path.join(root, "secret.txt"), path.join(jobDir, "escape.txt"))
  fs.symlinkSync(path.join(jobDir, "result.json"), path.join(jobDir, "inner-link.json"))
  fs.symlinkSync(path.join(root, "outside"), path.join(jobDir, "dirlink"))
})

layer(TestLayer, { excludeTestServices: true, timeout: Duration.seconds(60) })("artifacts", (it) => {
  it.effect("members list and fetch a job's artifacts with content type and length; others are refused", () =>
    Effect.gen(function*() {
      yield* setUp
      const service = yield* RunningServiceTag
      const aliceToken = yield* tokenFor(alice)
      const bobToken = yield* tokenFor(bob)
      const auth = (token: string) => ({ authorization: `Bearer ${token}` })

      const traceId = randomBytes(16).toString("hex")
      const listing = yield* rawGet(service.baseUrl, `/artifacts/${project}/${job}`, {
        ...auth(aliceToken),
        traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01`
      })
      assert.strictEqual(listing.status, 200, listing.body)
      const list = JSON.parse(listing.body) as { artifacts: Array<{ path: string; size: number; contentType: string; url: string }> }
      // Symlinks (inside or out) are not listed; nested files are.
      assert.deepStrictEqual(list.artifacts.map((a) => a.path), ["logs/job.jsonl", "result.json", "transcript.md"])
      assert.strictEqual(list.artifacts.find((a) => a.path === "logs/job.jsonl")!.size, 22)
      assert.strictEqual(list.artifacts.find((a) => a.path === "logs/job.jsonl")!.contentType, "application/x-ndjson")

      const file = yield* rawGet(service.baseUrl, list.artifacts.find((a) => a.path === "result.json")!.url, auth(aliceToken))
      assert.strictEqual(file.status, 200)
      assert.deepStrictEqual(JSON.parse(file.body), { ok: true, pages: 3 })
      assert.match(String(file.headers["content-type"]), /^application\/json/)
      assert.strictEqual(file.headers["content-length"], String(Buffer.byteLength(file.body)))
      assert.strictEqual(file.headers["x-content-type-options"], "nosniff")
      const nested = yield* rawGet(service.baseUrl, `/artifacts/${project}/${job}/logs/job.jsonl`, auth(aliceToken))
      assert.strictEqual(nested.body, "{\"line\":1}\n{\"line\":2}\n")

      // Not a member (bob), no token, another project alice is not in.
      assert.strictEqual((yield* rawGet(service.baseUrl, `/artifacts/${project}/${job}`, auth(bobToken))).status, 403)
      assert.strictEqual((yield* rawGet(service.baseUrl, `/artifacts/${project}/${job}/result.json`, auth(bobToken))).status, 403)
      assert.strictEqual((yield* rawGet(service.baseUrl, `/artifacts/${project}/${job}/result.json`)).status, 401)
      assert.strictEqual((yield* rawGet(service.baseUrl, `/artifacts/${project}/${job}`)).status, 401)
      const foreign = yield* rawGet(service.baseUrl, `/artifacts/${otherProject}/${otherJob}/x.json`, auth(aliceToken))
      assert.strictEqual(foreign.status, 403)
      assert.notInclude(foreign.body, "theirs")
      assert.strictEqual((yield* rawGet(service.baseUrl, `/artifacts/${otherProject}/${otherJob}/x.json`, auth(bobToken))).status, 200)
      assert.strictEqual((yield* rawGet(service.baseUrl, `/artifacts/${project}/${job}/missing.json`, auth(aliceToken))).status, 404)

      // The listing request's trace: HTTP server span -> Artifacts service spans -> database spans.
      const trace = yield* Effect.promise(() => operatorGet(service, `/traces/${traceId}`).then((r) => r.json() as Promise<TraceDetail>))
      const byId = new Map(trace.spans.map((s) => [s.spanId, s]))
      const server = trace.spans.find((s) => s.kind === "server")!
      const member = trace.spans.find((s) => s.name === "Artifacts.requireMember")!
      const listSpan = trace.spans.find((s) => s.name === "Artifacts.list")!
      const ancestors = (spanId: string): Array<string> => {
        const span = byId.get(spanId)
        return span?.parentSpanId ? [span.parentSpanId, ...ancestors(span.parentSpanId)] : []
      }
      assert.include(ancestors(member.spanId), server.spanId)
      assert.include(ancestors(listSpan.spanId), server.spanId)
      const dbSpan = trace.spans.find((s) => typeof s.attributes["db.query.text"] === "string" && ancestors(s.spanId).includes(member.spanId))
      assert.isDefined(dbSpan, `a DB span below Artifacts.requireMember in ${JSON.stringify(trace.spans.map((s) => s.name))}`)
    }))

  it.effect("every traversal attempt is refused and never returns a byte from outside", () =>
    Effect.gen(function*() {
      const service = yield* RunningServiceTag
      const token = yield* tokenFor(alice)
      const prefix = `/artifacts/${project}/${job}`
      const attempts = [
        `${prefix}/../../${otherProject}/${otherJob}/x.json`,
        `${prefix}/../../../secret.txt`,
        `${prefix}/..%2f..%2f..%2fsecret.txt`,
        `${prefix}/%2e%2e/%2e%2e/%2e%2e/secret.txt`,
        `${prefix}/%2E%2E%2F%2E%2E%2F%2E%2E%2Fsecret.txt`,
        `${prefix}/%252e%252e/%252e%252e/%252e%252e/secret.txt`,
        `${prefix}/%252e%252e%252f%252e%252e%252fsecret.txt`,
        `${prefix}/..\\..\\..\\secret.txt`,
        `${prefix}/..%5c..%5c..%5csecret.txt`,
        `${prefix}/%c0%ae%c0%ae/%c0%ae%c0%ae/secret.txt`,
        `${prefix}//etc/passwd`,
        `${prefix}/%2fetc%2fpasswd`,
        `/artifacts//etc/passwd`,
        `/artifacts/${project}/${job}/result.json%00.txt`,
        `/artifacts/${project}/${job}/result.json%2500`,
        `${prefix}/escape.txt`,
        `${prefix}/inner-link.json`,
        `${prefix}/dirlink/secret.txt`,
        `/artifacts/%2e%2e/${job}/secret.txt`,
        `/artifacts/..%2f..%2fsecret.txt/${job}/x`,
        `/artifacts/${project.toUpperCase()}/${job}/result.json`,
        `${prefix}/./result.json`,
        `${prefix}/%2e/result.json`
      ]
      for (const attempt of attempts) {
        const response = yield* rawGet(service.baseUrl, attempt, { authorization: `Bearer ${token}` })
        assert.isTrue(response.status >= 400 && response.status < 500, `${attempt} -> ${response.status}`)
        assert.notInclude(response.body, secretText, attempt)
        assert.notInclude(response.body, "root:", attempt)
        assert.notInclude(response.body, "theirs", attempt)
        // Malformed UTF-8 may already be refused by the router (404); everything else reaches the validator.
        if (attempt.startsWith(prefix) && !attempt.includes("%c0")) assert.strictEqual(response.status, 400, `${attempt} -> ${response.status} ${response.body}`)
      }
    }))

  it.effect("writers are held to the same rules", () =>
    Effect.gen(function*() {
      const artifacts = yield* Artifacts
      const location = { projectId: project, jobId: job }
      for (const bad of ["../x.json", "/etc/x", "a//b", "a\\b", "nul\u0000.txt", "..", "escape.txt", "dirlink/new.txt"]) {
        const result = yield* Effect.result(artifacts.write(location, bad, "x"))
        assert.isTrue(Result.isFailure(result), bad)
      }
      const { root } = yield* Dirs
      assert.strictEqual(fs.readFileSync(path.join(root, "secret.txt"), "utf8"), secretText)
      assert.isFalse(fs.existsSync(path.join(root, "outside", "new.txt")))
    }))

  it.effect("a finished job's record (job.json, result.json, events.jsonl) appears among its artifacts", () =>
    Effect.gen(function*() {
      const service = yield* RunningServiceTag
      const queue = yield* JobQueue
      const token = yield* tokenFor(alice)
      const enqueued = yield* queue.submit({ kind: "artifacts.test", projectId: project, payload: { from: "test" } })
      assert.isTrue(yield* queue.cancel(enqueued.id as JobId, "the test cancels it"))
      const listing = yield* rawGet(service.baseUrl, `/artifacts/${project}/${enqueued.id}`, { authorization: `Bearer ${token}` }).pipe(
        Effect.filterOrFail((r) => r.status === 200 && r.body.includes("events.jsonl")),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 100 })))
      )
      const paths = (JSON.parse(listing.body) as { artifacts: Array<{ path: string }> }).artifacts.map((a) => a.path)
      assert.deepStrictEqual(paths, ["events.jsonl", "job.json", "result.json"])
      const job = yield* rawGet(service.baseUrl, `/artifacts/${project}/${enqueued.id}/job.json`, { authorization: `Bearer ${token}` })
      assert.strictEqual((JSON.parse(job.body) as { state: string }).state, "cancelled")
      const events = yield* rawGet(service.baseUrl, `/artifacts/${project}/${enqueued.id}/events.jsonl`, { authorization: `Bearer ${token}` })
      assert.deepStrictEqual(events.body.trim().split("\n").map((l) => (JSON.parse(l) as { kind: string }).kind), ["enqueued", "cancelled"])
      const bob = yield* tokenFor(randomUUID())
      assert.strictEqual((yield* rawGet(service.baseUrl, `/artifacts/${project}/${enqueued.id}/job.json`, { authorization: `Bearer ${bob}` })).status, 403)
    }))

  it.effect("every job of a batch that succeeds together gets its record (the batch's events share one bus row)", () =>
    Effect.gen(function*() {
      const service = yield* RunningServiceTag
      const queue = yield* JobQueue
      const db = yield* Database
      const token = yield* tokenFor(alice)
      const kind = "artifacts.batch"
      const jobs = yield* db.withRole(DbRole.agent, queue.enqueueMany([1, 2, 3].map((n) => ({ kind, projectId: project, payload: { n } }))))
      const claimed = yield* queue.claim({ workerId: "artifacts-test", kinds: [kind], limit: 10, leaseMs: 60_000 })
      assert.strictEqual(claimed.length, 3)
      assert.strictEqual((yield* queue.completeMany("artifacts-test", claimed.map((job) => ({ job, result: { done: job.payload } })))).length, 3)
      for (const job of jobs) {
        const record = yield* rawGet(service.baseUrl, `/artifacts/${project}/${job.id}/job.json`, { authorization: `Bearer ${token}` }).pipe(
          Effect.filterOrFail((r) => r.status === 200),
          Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ times: 100 })))
        )
        assert.strictEqual((JSON.parse(record.body) as { state: string; id: string }).state, "succeeded")
      }
    }))

  it("the URL parser decodes exactly once", () => {
    const ok = parseArtifactUrlPath(`${project}/${job}/logs/a%2Db.json`)
    assert.deepStrictEqual(Result.getOrThrow(ok).segments, ["logs", "a-b.json"])
    assert.isTrue(Result.isFailure(parseArtifactUrlPath(`${project}/${job}/%252e%252e`)))
    assert.deepStrictEqual(Result.getOrThrow(parseArtifactUrlPath(`${project}/${job}/`)).segments, [])
  })
})
