/**
 * The figma-plugin path shares figma-compat's depth guard: a signed, authenticated upload whose document is
 * nested 10,000 deep is 400 problem+json ("Input nested too deeply"), never a 5xx, and queues nothing.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { baseUrl, userToken } from "../edge/server.ts"
import { FigmaServerLive, postJson, signedHeaders } from "../figma-service/support.ts"

const alice = "a11ce000-0000-4000-8000-0000000e0001"

layer(FigmaServerLive(), { excludeTestServices: true })("figma-plugin depth guard", (it) => {
  it.effect("a document nested 10,000 deep is 400 problem+json and enqueues no job", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const url = `${yield* baseUrl}/functions/v1/figma-plugin`
      const credential = yield* Effect.promise(() => userToken(alice))
      const projectId = crypto.randomUUID()
      const levels = 10_000
      const document = `${'{"id":"1:1","type":"FRAME","children":['.repeat(levels)}{"id":"2:2","type":"TEXT"}${"]}".repeat(levels)}`
      const body = `{"projectId":"${projectId}","document":{"document":{"id":"0:0","type":"DOCUMENT","children":[{"id":"0:1","type":"CANVAS","children":[${document}]}]}}}`
      const answer = yield* Effect.promise(() => postJson(url, body, signedHeaders(body, { credential })))
      assert.strictEqual(answer.status, 400, JSON.stringify(answer.body).slice(0, 300))
      assert.match(answer.contentType ?? "", /application\/problem\+json/)
      assert.strictEqual(answer.body.type, "https://cogo.dev/problems/invalid-figma-document")
      assert.include(answer.body.detail ?? "", "nested too deeply")
      const jobs = yield* sql<{ n: string }>`SELECT count(*) AS n FROM cogo.jobs WHERE project_id = ${projectId}`
      assert.strictEqual(Number(jobs[0]!.n), 0)
    }))
})
