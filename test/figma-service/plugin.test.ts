/**
 * figma-plugin ingress over real HTTP against the real service stack (orchestrator, projection worker):
 * signature checks, replay refusal, idempotency, and the end-to-end import (as a user with a JWT; the
 * credential attacks are in test/security/plugin-*.test.ts): plugin ingest -> figma.import
 * job -> project commands -> outbox -> projection -> `public.*`, read back by the IDE's read API
 * (`/rest/v1`, under RLS) for the project's members only; re-importing updates instead of duplicating.
 */
import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Result } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { JobId } from "../../src/domain/jobs/Job.ts"
import { parseTraceparent } from "../../src/domain/platform/Traceparent.ts"
import { planFigmaImport } from "../../src/services/figma/convert/index.ts"
import { projectPageId } from "../../src/services/figma/FigmaImport.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { baseUrl, userToken } from "../edge/server.ts"
import { fixture, FigmaServerLive, postJson, type SignOptions, signedHeaders } from "./support.ts"

const alice = "a11ce000-0000-4000-8000-00000000f001"
const bob = "b0b00000-0000-4000-8000-00000000f002"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

/** Alice uploads with her user JWT (she owns the projects her uploads create). */
const aliceJwt = await userToken(alice)
const signed = (body: string, options: SignOptions = {}) => signedHeaders(body, { credential: aliceJwt, ...options })

const pluginBody = (projectId: string, document: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ projectId, userId: alice, fileKey: "FILEKEY1", document, ...extra })

interface Row {
  readonly id: string
  readonly name: string
  readonly version: number
  readonly definition: { readonly tree: unknown; readonly figmaNodeId: string; readonly source: string }
}

/** GET /rest/v1/<table> as `user` (RLS applies, like supabase-js from the IDE). */
const readAs = (url: string, user: string, table: string, projectId: string) =>
  promise(async () => {
    const token = await userToken(user)
    const response = await fetch(`${url}/rest/v1/${table}?project_id=eq.${projectId}&order=id.asc`, { headers: { authorization: `Bearer ${token}` } })
    if (response.status !== 200) throw new Error(`read ${table}: ${response.status} ${await response.text()}`)
    return await response.json() as ReadonlyArray<Row>
  })

/** Polls until `check` passes (projection is asynchronous), failing with the last assertion after `within`. */
const eventually = <A>(effect: Effect.Effect<A>, check: (a: A) => boolean, within = Duration.seconds(20)) =>
  Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis(within)
    while (true) {
      const value = yield* effect
      if (check(value) || Date.now() > deadline) return value
      yield* Effect.sleep("100 millis")
    }
  })

layer(FigmaServerLive(), { excludeTestServices: true })("figma-plugin ingress", (it) => {
  it.effect("both figma endpoints are documented in the whole service's /openapi.json", () =>
    Effect.gen(function*() {
      const root = yield* baseUrl
      const openapi = yield* Effect.promise(async () => await (await fetch(`${root}/openapi.json`)).json() as { paths: Record<string, unknown> })
      assert.property(openapi.paths, "/functions/v1/figma-compat")
      assert.property(openapi.paths, "/functions/v1/figma-plugin")
    }))

  it.effect("refuses missing, malformed, wrong and stale signatures with 401 problem+json", () =>
    Effect.gen(function*() {
      const url = `${yield* baseUrl}/functions/v1/figma-plugin`
      const body = pluginBody(crypto.randomUUID(), fixture("text-mixed.json"))
      const now = Math.floor(Date.now() / 1000)
      const cases: ReadonlyArray<readonly [string, Record<string, string>, string]> = [
        ["no headers", { "content-type": "application/json" }, "signature-missing"],
        ["malformed signature", { ...signed(body), "x-cogo-signature": "sha256=abc" }, "signature-malformed"],
        ["malformed timestamp", { ...signed(body), "x-cogo-timestamp": "yesterday" }, "signature-malformed"],
        ["wrong secret", signed(body, { secret: "not-the-secret" }), "signature-invalid"],
        ["body changed after signing", signed(body.replace("FILEKEY1", "FILEKEY2")), "signature-invalid"],
        ["stale timestamp", signed(body, { timestamp: now - 301 }), "signature-expired"],
        ["timestamp from the future", signed(body, { timestamp: now + 400 }), "signature-expired"]
      ]
      for (const [name, headers, slug] of cases) {
        const answer = yield* promise(() => postJson(url, body, headers))
        assert.strictEqual(answer.status, 401, name)
        assert.match(answer.contentType ?? "", /application\/problem\+json/, name)
        assert.strictEqual(answer.body.type, `https://cogo.dev/problems/${slug}`, name)
      }
      // A signature four minutes old is still inside the window.
      const inWindow = yield* promise(() => postJson(url, body, signed(body, { timestamp: now - 240 })))
      assert.strictEqual(inWindow.status, 202)
    }))

  it.effect("refuses a replayed signature (409); the same Idempotency-Key answers the same job", () =>
    Effect.gen(function*() {
      const url = `${yield* baseUrl}/functions/v1/figma-plugin`
      const body = pluginBody(crypto.randomUUID(), fixture("text-mixed.json"))
      const headers = signed(body)
      const first = yield* promise(() => postJson(url, body, headers))
      assert.strictEqual(first.status, 202)
      assert.isTrue(first.body.created)
      assert.strictEqual(first.body.streamUrl, `/functions/v1/realtime/jobs/${first.body.jobId}`)
      const replay = yield* promise(() => postJson(url, body, headers))
      assert.strictEqual(replay.status, 409)
      assert.strictEqual(replay.body.type, "https://cogo.dev/problems/signature-replayed")
      // An attacker cannot turn a captured request into new work by adding an Idempotency-Key either.
      const rekeyed = yield* promise(() => postJson(url, body, { ...headers, "idempotency-key": "attacker-key" }))
      assert.strictEqual(rekeyed.status, 409)

      const keyed = pluginBody(crypto.randomUUID(), fixture("text-mixed.json"))
      const key = `upload-${crypto.randomUUID()}`
      const original = yield* promise(() => postJson(url, keyed, signed(keyed, { idempotencyKey: key })))
      assert.strictEqual(original.status, 202)
      assert.isTrue(original.body.created)
      // The plugin retries: re-signed with a later timestamp, same key -> the same job, nothing new.
      const retried = yield* promise(() =>
        postJson(url, keyed, signed(keyed, { idempotencyKey: key, timestamp: Math.floor(Date.now() / 1000) + 1 })))
      assert.strictEqual(retried.status, 202)
      assert.strictEqual(retried.body.jobId, original.body.jobId)
      assert.isFalse(retried.body.created)
      // A byte-identical retransmission (same signature, same key) also answers that job.
      const headersOnce = signed(keyed, { idempotencyKey: `${key}-b`, timestamp: Math.floor(Date.now() / 1000) + 2 })
      const once = yield* promise(() => postJson(url, keyed, headersOnce))
      assert.strictEqual(once.status, 202)
      const again = yield* promise(() => postJson(url, keyed, headersOnce))
      assert.strictEqual(again.status, 202)
      assert.strictEqual(again.body.jobId, once.body.jobId)
      assert.notStrictEqual(once.body.jobId, original.body.jobId)
    }))

  it.effect("concurrent copies of one signed request: exactly one is accepted, the others are replays", () =>
    Effect.gen(function*() {
      const url = `${yield* baseUrl}/functions/v1/figma-plugin`
      const body = pluginBody(crypto.randomUUID(), fixture("text-mixed.json"))
      const headers = signed(body)
      const answers = yield* Effect.forEach(Array.from({ length: 6 }), () => promise(() => postJson(url, body, headers)), { concurrency: 6 })
      assert.deepStrictEqual(answers.map((a) => a.status).sort(), [202, 409, 409, 409, 409, 409])
    }))

  it.effect("a verified but malformed body is 400 naming the path (envelope or Figma document)", () =>
    Effect.gen(function*() {
      const url = `${yield* baseUrl}/functions/v1/figma-plugin`
      const badProject = JSON.stringify({ projectId: "not-a-uuid", document: fixture("text-mixed.json") })
      const first = yield* promise(() => postJson(url, badProject, signed(badProject)))
      assert.strictEqual(first.status, 400)
      assert.deepStrictEqual(first.body.errors?.[0]?.path, ["projectId"])

      const document = fixture("auto-layout.json") as { document: { children: Array<{ children: Array<Record<string, unknown>> }> } }
      document.document.children[0]!.children[0]!["opacity"] = "high"
      const badDocument = pluginBody(crypto.randomUUID(), document)
      const second = yield* promise(() => postJson(url, badDocument, signed(badDocument)))
      assert.strictEqual(second.status, 400)
      assert.deepStrictEqual(second.body.errors?.[0]?.path, ["document", "document", "children", 0, "children", 0, "opacity"])

      const notJson = "{ nope"
      const third = yield* promise(() => postJson(url, notJson, signed(notJson)))
      assert.strictEqual(third.status, 400)
    }))

  it.effect("end to end: ingest -> job -> projection -> IDE read for members only; re-import updates in place", () =>
    Effect.gen(function*() {
      const root = yield* baseUrl
      const url = `${root}/functions/v1/figma-plugin`
      const jobs = yield* JobQueue
      const sql = yield* SqlClient
      const projectId = crypto.randomUUID()
      const document = fixture("components.json") as { document: { children: Array<{ children: Array<{ id: string; name: string; type: string }> }> } }
      const body = pluginBody(projectId, document)
      const accepted = yield* promise(() => postJson(url, body, signed(body, { idempotencyKey: "import-1" })))
      assert.strictEqual(accepted.status, 202)
      const job = yield* jobs.awaitTerminal(accepted.body.jobId as JobId).pipe(Effect.timeout("30 seconds"))
      assert.strictEqual(job.state, "succeeded", JSON.stringify(job.lastError))
      const result = job.result as { counts: { components: number; symbols: number; pages: number }; warnings: ReadonlyArray<unknown>; projectCreated: boolean }
      assert.isTrue(result.projectCreated)
      assert.isAbove(result.counts.components, 0)
      assert.isAbove(result.counts.pages, 0)
      assert.isArray(result.warnings)
      const events = yield* jobs.events(job.id)
      const stages = events.filter((e) => e.kind === "progress").map((e) => (e.data as { stage: string }).stage)
      assert.deepStrictEqual(stages, ["converted", "written"])

      // The IDE reads what the pure planner computed, tree for tree.
      const plan = planFigmaImport(projectId, document)
      assert.isTrue(Result.isSuccess(plan))
      const planned = Result.getOrThrow(plan).value
      const components = yield* eventually(readAs(root, alice, "components", projectId), (rows) => rows.length === planned.components.length)
      assert.strictEqual(components.length, planned.components.length)
      for (const expected of planned.components) {
        const row = components.find((r) => r.id === expected.id)
        assert.isDefined(row, `component ${expected.name}`)
        assert.deepStrictEqual(row!.definition.tree, expected.tree)
        assert.strictEqual(row!.definition.figmaNodeId, expected.figmaNodeId)
      }
      const pages = yield* eventually(readAs(root, alice, "pages", projectId), (rows) => rows.length === planned.pages.length)
      assert.deepStrictEqual(pages.map((p) => p.id).sort(), planned.pages.map((p) => p.id).sort())
      for (const expected of planned.pages) assert.deepStrictEqual(pages.find((p) => p.id === expected.id)!.definition.tree, expected.tree)
      const symbols = yield* eventually(readAs(root, alice, "symbols", projectId), (rows) => rows.length === planned.symbols.length)
      assert.strictEqual(symbols.length, planned.symbols.length)
      const links = yield* eventually(readAs(root, alice, "project_pages", projectId), (rows) => rows.length === planned.pages.length)
      assert.deepStrictEqual(links.map((l) => l.id).sort(), planned.pages.map((p) => projectPageId(projectId, p.figmaNodeId)).sort())

      // Not a member: nothing at all.
      assert.strictEqual((yield* readAs(root, bob, "components", projectId)).length, 0)
      assert.strictEqual((yield* readAs(root, bob, "pages", projectId)).length, 0)

      // One trace: the job and every outbox row it wrote carry the trace of the plugin request.
      const [stored] = yield* sql<{ traceparent: string | null }>`SELECT traceparent FROM cogo.jobs WHERE id = ${job.id}`
      const jobTrace = parseTraceparent(stored?.traceparent)
      assert.isTrue(jobTrace._tag === "Some", "the job stores its traceparent")
      const outboxTraces = yield* sql<{ traceparent: string | null }>`
        SELECT DISTINCT traceparent FROM cogo.project_updates WHERE project_id = ${projectId}`
      const traceIds = new Set(outboxTraces.map((row) => parseTraceparent(row.traceparent)).map((t) => t._tag === "Some" ? t.value.traceId : "none"))
      assert.deepStrictEqual([...traceIds], [jobTrace._tag === "Some" ? jobTrace.value.traceId : "?"])

      // Re-import with a renamed component set and a new key: same ids, rows updated, no duplicates.
      const set = document.document.children[0]!.children.find((n) => n.type === "COMPONENT_SET")!
      set.name = "Button v2"
      const again = pluginBody(projectId, document)
      const second = yield* promise(() => postJson(url, again, signed(again, { idempotencyKey: "import-2" })))
      assert.strictEqual(second.status, 202)
      assert.notStrictEqual(second.body.jobId, accepted.body.jobId)
      const secondJob = yield* jobs.awaitTerminal(second.body.jobId as JobId).pipe(Effect.timeout("30 seconds"))
      assert.strictEqual(secondJob.state, "succeeded", JSON.stringify(secondJob.lastError))
      assert.isFalse((secondJob.result as { projectCreated: boolean }).projectCreated)
      const setId = planned.components.find((c) => c.figmaNodeId === set.id)!.id
      const renamed = yield* eventually(readAs(root, alice, "components", projectId), (rows) => rows.some((r) => r.id === setId && r.name === "Button v2"))
      assert.strictEqual(renamed.length, planned.components.length)
      const row = renamed.find((r) => r.id === setId)!
      assert.strictEqual(row.name, "Button v2")
      assert.isAbove(Number(row.version), 1)
      const [counts] = yield* sql<{ components: string; pages: string; projects: string }>`
        SELECT (SELECT count(*) FROM public.components WHERE project_id = ${projectId}) AS components,
               (SELECT count(*) FROM public.pages WHERE project_id = ${projectId}) AS pages,
               (SELECT count(*) FROM public.projects WHERE id = ${projectId}) AS projects`
      assert.strictEqual(Number(counts!.components), planned.components.length)
      assert.strictEqual(Number(counts!.pages), planned.pages.length)
      assert.strictEqual(Number(counts!.projects), 1)
    }), 60_000)

  it.effect("screens listed by the plugin become the pages", () =>
    Effect.gen(function*() {
      const root = yield* baseUrl
      const url = `${root}/functions/v1/figma-plugin`
      const jobs = yield* JobQueue
      const projectId = crypto.randomUUID()
      const document = fixture("auto-layout.json") as { document: { children: Array<{ children: Array<{ id: string; type: string; children?: Array<{ id: string; type: string }> }> }> } }
      const inner = document.document.children[0]!.children[0]!.children?.find((n) => n.type === "FRAME")
      assert.isDefined(inner, "the fixture has a nested frame")
      const body = pluginBody(projectId, document, { screens: [inner!.id] })
      const accepted = yield* promise(() => postJson(url, body, signed(body)))
      const job = yield* jobs.awaitTerminal(accepted.body.jobId as JobId).pipe(Effect.timeout("30 seconds"))
      assert.strictEqual(job.state, "succeeded", JSON.stringify(job.lastError))
      const result = job.result as { pages: ReadonlyArray<{ figmaId: string }> }
      assert.deepStrictEqual(result.pages.map((p) => p.figmaId), [inner!.id])
    }), 60_000)
})
