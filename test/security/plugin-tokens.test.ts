/**
 * Per-project plugin tokens over real HTTP: only the project's owners create, list and revoke them; the
 * secret is shown once and stored hashed; a token uploads into its own project only, cannot create a
 * project, and stops working when revoked or expired (403 problem+json).
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { createHash } from "node:crypto"
import type { JobId } from "../../src/domain/jobs/Job.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { baseUrl, userToken } from "../edge/server.ts"
import { fixture, FigmaServerLive, type JsonResponse, postJson, signedHeaders } from "../figma-service/support.ts"

const alice = "a11ce000-0000-4000-8000-0000000d0001"
const bob = "b0b00000-0000-4000-8000-0000000d0002"
const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const aliceJwt = await userToken(alice)
const bobJwt = await userToken(bob)

interface TokenAnswer {
  readonly status: number
  readonly body: {
    readonly id?: string
    readonly token?: string
    readonly projectId?: string
    readonly expiresAt?: string
    readonly revokedAt?: string | null
    readonly type?: string
    readonly tokens?: ReadonlyArray<Record<string, unknown>>
  }
}

const call = (method: string, path: string, jwt: string, payload?: unknown, headers: Record<string, string> = {}) =>
  Effect.flatMap(baseUrl, (root) =>
    promise(async (): Promise<TokenAnswer> => {
      const response = await fetch(`${root}${path}`, {
        method,
        headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json", ...headers },
        ...(payload === undefined ? {} : { body: JSON.stringify(payload) })
      })
      const text = await response.text()
      return { status: response.status, body: text === "" ? {} : JSON.parse(text) as TokenAnswer["body"] }
    }))

const body = (projectId: string, extra: Record<string, unknown> = {}) =>
  // A fresh fileKey per request: two identical bodies signed in the same second are a replay (409).
  JSON.stringify({ projectId, fileKey: `TOKKEY-${crypto.randomUUID()}`, document: fixture("text-mixed.json"), ...extra })

const upload = (payload: string, credential: string) =>
  Effect.flatMap(baseUrl, (root) =>
    promise(() => postJson(`${root}/functions/v1/figma-plugin`, payload, signedHeaders(payload, { credential }))))

const refused = (answer: JsonResponse, slug: string, what: string) => {
  assert.strictEqual(answer.status, 403, `${what}: ${JSON.stringify(answer.body)}`)
  assert.match(answer.contentType ?? "", /application\/problem\+json/, what)
  assert.strictEqual(answer.body.type, `https://cogo.dev/problems/${slug}`, what)
}

const awaitJob = (id: string | undefined) =>
  Effect.flatMap(Effect.service(JobQueue), (jobs) => jobs.awaitTerminal(id as JobId).pipe(Effect.timeout("30 seconds")))

layer(FigmaServerLive(), { excludeTestServices: true })("plugin tokens", (it) => {
  it.effect("owners create/list/revoke; the token uploads into its project only; revoked and expired tokens are 403", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const projectId = crypto.randomUUID()
      const otherProject = crypto.randomUUID()
      const path = `/functions/v1/projects/${projectId}/plugin-tokens`

      // No project yet: 404. Alice creates it with her JWT (a token can never create one).
      assert.strictEqual((yield* call("POST", path, aliceJwt, { name: "laptop" })).status, 404)
      const first = yield* upload(body(projectId), aliceJwt)
      assert.strictEqual(first.status, 202)
      assert.strictEqual((yield* awaitJob(first.body.jobId)).state, "succeeded")

      // Bob is not an owner: 403 on every token call.
      assert.strictEqual((yield* call("POST", path, bobJwt, { name: "bob's" })).status, 403)
      assert.strictEqual((yield* call("GET", path, bobJwt)).status, 403)

      const created = yield* call("POST", path, aliceJwt, { name: "laptop", expiresInDays: 7 }, { "idempotency-key": "create-laptop" })
      assert.strictEqual(created.status, 201, JSON.stringify(created.body))
      const token = created.body.token!
      assert.match(token, /^cogo_pt_[A-Za-z0-9_-]{43}$/)
      assert.strictEqual(created.body.projectId, projectId)
      const days = (Date.parse(created.body.expiresAt!) - Date.now()) / 86_400_000
      assert.isTrue(days > 6.9 && days <= 7, `expires in ${days} days`)
      // Stored as its SHA-256 only; the list never shows a secret.
      const stored = yield* sql<{ token_hash: string }>`SELECT token_hash FROM cogo.plugin_tokens WHERE id = ${created.body.id!}`
      assert.strictEqual(stored[0]?.token_hash, createHash("sha256").update(token).digest("hex"))
      const leaked = yield* sql<{ n: string }>`SELECT count(*) AS n FROM cogo.plugin_tokens WHERE row_to_json(plugin_tokens)::text LIKE ${`%${token}%`}`
      assert.strictEqual(Number(leaked[0]!.n), 0)
      // Not in the service-wide idempotency store either (it keeps response bodies).
      const remembered = yield* sql<{ n: string }>`SELECT count(*) AS n FROM cogo.idempotency_keys WHERE body LIKE ${`%${token}%`}`
      assert.strictEqual(Number(remembered[0]!.n), 0)
      const listed = yield* call("GET", path, aliceJwt)
      assert.strictEqual(listed.status, 200)
      assert.deepStrictEqual(listed.body.tokens?.map((t) => t["id"]), [created.body.id])
      assert.notInclude(JSON.stringify(listed.body), token)

      // The token uploads into its project (its body userId ignored: a token acts for the project, not a user).
      const ok = yield* upload(body(projectId, { userId: bob }), token)
      assert.strictEqual(ok.status, 202, JSON.stringify(ok.body))
      const job = yield* awaitJob(ok.body.jobId)
      assert.strictEqual(job.state, "succeeded", JSON.stringify(job.lastError))
      assert.isUndefined((job.payload as { userId?: string }).userId)
      // Not into another project, existing or not (so it cannot create one).
      refused(yield* upload(body(otherProject), token), "plugin-token-wrong-project", "new project with a token")
      const [owner] = yield* sql<{ n: string }>`SELECT count(*) AS n FROM cogo.project_entities WHERE id = ${otherProject}`
      assert.strictEqual(Number(owner!.n), 0)

      // Expired: 403. (Expiry moved into the past directly; the API only accepts 1-365 days.)
      const second = yield* call("POST", path, aliceJwt, { name: "ci" })
      assert.strictEqual(second.status, 201)
      yield* sql`UPDATE cogo.plugin_tokens SET expires_at = now() - interval '1 second' WHERE id = ${second.body.id!}`
      refused(yield* upload(body(projectId), second.body.token!), "plugin-token-expired", "expired token")

      // Bob cannot revoke Alice's token; Alice can; then the token is 403.
      assert.strictEqual((yield* call("DELETE", `${path}/${created.body.id}`, bobJwt)).status, 403)
      const revoked = yield* call("DELETE", `${path}/${created.body.id}`, aliceJwt)
      assert.strictEqual(revoked.status, 200)
      assert.isString(revoked.body.revokedAt)
      refused(yield* upload(body(projectId), token), "plugin-token-revoked", "revoked token")
      assert.strictEqual((yield* call("DELETE", `${path}/${crypto.randomUUID()}`, aliceJwt)).status, 404)
      // Bad input is 4xx.
      assert.strictEqual((yield* call("POST", path, aliceJwt, { name: "" })).status, 400)
      assert.strictEqual((yield* call("POST", path, aliceJwt, { name: "x", expiresInDays: 1000 })).status, 400)
      assert.strictEqual((yield* call("GET", "/functions/v1/projects/not-a-uuid/plugin-tokens", aliceJwt)).status, 400)
    }), 60_000)
})
