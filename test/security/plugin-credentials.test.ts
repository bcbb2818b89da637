/**
 * Attacks on the figma-plugin upload, over real HTTP against the real service stack (embedded PGlite, or
 * TEST_DATABASE_URL): every request is correctly HMAC-signed, so what is tested is the credential and the
 * project binding (src/edge/figma/FigmaPluginLive.ts). Absent/forged credentials are 401; another user's
 * project, a viewer, a token of another project, a revoked or expired token are 403; the body's `userId` is
 * never trusted.
 */
import { assert, layer } from "@effect/vitest"
import { Duration, Effect, Schedule } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { JobId } from "../../src/domain/jobs/Job.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { anonKey, baseUrl, signToken, userToken } from "../edge/server.ts"
import { fixture, FigmaServerLive, type JsonResponse, postJson, signedHeaders } from "../figma-service/support.ts"

const alice = "a11ce000-0000-4000-8000-0000000c0001"
const bob = "b0b00000-0000-4000-8000-0000000c0002"
const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const aliceJwt = await userToken(alice)
const bobJwt = await userToken(bob)

const body = (projectId: string, extra: Record<string, unknown> = {}) =>
  // A fresh fileKey per request: two identical bodies signed in the same second are a replay (409).
  JSON.stringify({ projectId, fileKey: `SECKEY-${crypto.randomUUID()}`, document: fixture("text-mixed.json"), ...extra })

/** A correctly signed upload of `payload` with `credential` (none when undefined). */
const upload = (payload: string, credential: string | undefined) =>
  Effect.flatMap(baseUrl, (root) =>
    promise(() => postJson(`${root}/functions/v1/figma-plugin`, payload,
      signedHeaders(payload, credential === undefined ? {} : { credential }))))

const problemOf = (answer: JsonResponse, status: number, slug: string, what: string) => {
  assert.strictEqual(answer.status, status, `${what}: ${JSON.stringify(answer.body)}`)
  assert.match(answer.contentType ?? "", /application\/problem\+json/, what)
  assert.strictEqual(answer.body.type, `https://cogo.dev/problems/${slug}`, what)
}

/** Uploads as `credential` and waits for the job; returns it. */
const importAs = (projectId: string, credential: string, extra: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const accepted = yield* upload(body(projectId, extra), credential)
    assert.strictEqual(accepted.status, 202, JSON.stringify(accepted.body))
    const jobs = yield* JobQueue
    return yield* jobs.awaitTerminal(accepted.body.jobId as JobId).pipe(Effect.timeout("30 seconds"))
  })

/** The project's owner in canonical state (set by the import that created it). */
const canonicalOwner = (projectId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    const rows = yield* sql<{ owner: string | null }>`
      SELECT state->>'ownerId' AS owner FROM cogo.project_entities WHERE entity_type = 'project' AND id = ${projectId}`
    return rows[0]?.owner ?? null
  })

/** Waits until the projection wrote the project into public.projects (membership rows come with it). */
const projected = (projectId: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql<{ n: string }>`SELECT count(*) AS n FROM public.projects WHERE id = ${projectId}`.pipe(
      Effect.filterOrFail((rows) => Number(rows[0]!.n) === 1),
      Effect.retry(Schedule.spaced(Duration.millis(100)).pipe(Schedule.upTo({ times: 200 }))),
      Effect.orDie
    )
  })

layer(FigmaServerLive(), { excludeTestServices: true })("figma-plugin credentials", (it) => {
  it.effect("absent, forged, anonymous and unknown credentials are 401 problem+json (the signature alone is not enough)", () =>
    Effect.gen(function*() {
      const payload = body(crypto.randomUUID())
      problemOf(yield* upload(payload, undefined), 401, "credential-missing", "no credential")
      const forged = yield* promise(() => signToken({ sub: alice, role: "authenticated", aud: "authenticated" }, { secret: "x".repeat(40) }))
      problemOf(yield* upload(payload, forged), 401, "credential-invalid", "JWT signed with another key")
      const expired = yield* promise(() => signToken({ sub: alice, role: "authenticated", aud: "authenticated" }, { expiresIn: -60 }))
      problemOf(yield* upload(payload, expired), 401, "credential-invalid", "expired JWT")
      problemOf(yield* upload(payload, yield* promise(anonKey)), 401, "credential-anonymous", "anon key")
      problemOf(yield* upload(payload, `cogo_pt_${"A".repeat(43)}`), 401, "plugin-token-invalid", "made-up plugin token")
    }))

  it.effect("the body's userId is ignored: a new project belongs to the authenticated user", () =>
    Effect.gen(function*() {
      const projectId = crypto.randomUUID()
      const job = yield* importAs(projectId, aliceJwt, { userId: bob })
      assert.strictEqual(job.state, "succeeded", JSON.stringify(job.lastError))
      assert.strictEqual(yield* canonicalOwner(projectId), alice)
      assert.strictEqual((job.payload as { userId?: string }).userId, alice)
    }))

  it.effect("another user's project is 403; a viewer is 403; an editor may import", () =>
    Effect.gen(function*() {
      const projectId = crypto.randomUUID()
      const created = yield* importAs(projectId, aliceJwt)
      assert.strictEqual(created.state, "succeeded", JSON.stringify(created.lastError))
      // Before the projection ran (canonical state only) and after it: both refuse Bob.
      problemOf(yield* upload(body(projectId, { userId: alice }), bobJwt), 403, "project-access-denied", "Bob into Alice's project")
      yield* projected(projectId)
      problemOf(yield* upload(body(projectId), bobJwt), 403, "project-access-denied", "Bob after projection")

      const sql = yield* SqlClient
      yield* sql`INSERT INTO public.project_members (project_id, user_id, role) VALUES (${projectId}, ${bob}, 'viewer')`
      problemOf(yield* upload(body(projectId), bobJwt), 403, "project-access-denied", "Bob as a viewer")
      yield* sql`UPDATE public.project_members SET role = 'editor' WHERE project_id = ${projectId} AND user_id = ${bob}`
      const asEditor = yield* importAs(projectId, bobJwt)
      assert.strictEqual(asEditor.state, "succeeded", JSON.stringify(asEditor.lastError))
      assert.strictEqual(yield* canonicalOwner(projectId), alice, "an editor's import keeps the owner")
    }), 60_000)

  it.effect("the job checks access again when it runs: an import for a non-editor fails, writing nothing", () =>
    Effect.gen(function*() {
      const projectId = crypto.randomUUID()
      const created = yield* importAs(projectId, aliceJwt)
      assert.strictEqual(created.state, "succeeded")
      const sql = yield* SqlClient
      const jobs = yield* JobQueue
      const [before] = yield* sql<{ n: string }>`SELECT count(*) AS n FROM cogo.project_updates WHERE project_id = ${projectId}`
      // What an upload accepted while Bob was an editor leaves behind after he was removed (or a race of two
      // uploads creating the same project id): a job for Bob into Alice's project.
      const job = yield* jobs.submit({
        kind: "figma.import",
        projectId,
        payload: { projectId, userId: bob, document: fixture("text-mixed.json") },
        createdBy: bob
      })
      const done = yield* jobs.awaitTerminal(job.id).pipe(Effect.timeout("30 seconds"))
      assert.strictEqual(done.state, "dead")
      assert.include(done.lastError?.message ?? "", "may not edit")
      const [after] = yield* sql<{ n: string }>`SELECT count(*) AS n FROM cogo.project_updates WHERE project_id = ${projectId}`
      assert.strictEqual(after!.n, before!.n)
    }), 60_000)
})
