/**
 * Ids PostgreSQL accepts are accepted by every layer after it: a project whose owner id is a valid uuid but
 * not an RFC 4122 variant (version 0, variant 0 here) used to make every Figma import into it die with
 * `ownerId: Expected a UUID` (the canonical-state Schema was stricter than the `uuid` column).
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import type { JobId } from "../../src/domain/jobs/Job.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { baseUrl, userToken } from "../edge/server.ts"
import { fixture, FigmaServerLive, postJson, signedHeaders } from "../figma-service/support.ts"

const owner = "0a0e0000-0000-0000-0000-0000000a0c01"

layer(FigmaServerLive(), { excludeTestServices: true })("non-RFC 4122 uuids", (it) => {
  it.effect("an import into an IDE-created project owned by a non-RFC 4122 uuid succeeds", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const jobs = yield* JobQueue
      const [project] = yield* sql<{ id: string }>`
        INSERT INTO public.projects (name, owner_id) VALUES ('IDE project', ${owner}) RETURNING id`
      const projectId = project!.id
      const credential = yield* Effect.promise(() => userToken(owner))
      const body = JSON.stringify({ projectId, document: fixture("text-mixed.json") })
      const url = `${yield* baseUrl}/functions/v1/figma-plugin`
      const accepted = yield* Effect.promise(() => postJson(url, body, signedHeaders(body, { credential })))
      assert.strictEqual(accepted.status, 202, JSON.stringify(accepted.body))
      const job = yield* jobs.awaitTerminal(accepted.body.jobId as JobId).pipe(Effect.timeout("30 seconds"))
      assert.strictEqual(job.state, "succeeded", JSON.stringify(job.lastError))
      const [adopted] = yield* sql<{ owner: string }>`
        SELECT state->>'ownerId' AS owner FROM cogo.project_entities WHERE entity_type = 'project' AND id = ${projectId}`
      assert.strictEqual(adopted?.owner, owner)
    }))
})
