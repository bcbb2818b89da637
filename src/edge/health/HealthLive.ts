import { Effect, Option } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { SqlClient } from "effect/sql/SqlClient"
import { problem, ServiceUnavailable } from "../../domain/platform/Problem.ts"
import { Database } from "../../services/platform/Database.ts"
import { Drain } from "../../services/platform/Drain.ts"
import { Leader } from "../../services/platform/Leader.ts"
import { Embeddings } from "../../services/agents/Embeddings.ts"
import { Llm } from "../../services/agents/Llm.ts"
import { Migrations } from "../../services/platform/Migrations.ts"
import { serviceVersion } from "../../services/platform/Version.ts"
import { Api } from "../Api.ts"

export const HealthLive = HttpApiBuilder.group(Api, "health", Effect.fn(function*(handlers) {
  const database = yield* Database
  const migrations = yield* Migrations
  const sql = yield* SqlClient
  const llm = yield* Llm
  const embeddings = yield* Embeddings
  const leader = yield* Leader
  const drain = yield* Drain
  const available = sql`SELECT 1`.pipe(
    Effect.timeout("2 seconds"),
    Effect.mapError(() => new ServiceUnavailable(problem(503, "degraded", "Degraded: database unavailable", `${database.target} did not answer`)))
  )
  return handlers.handle("health", () =>
    Effect.gen(function*() {
      if (yield* drain.isDraining) {
        return yield* new ServiceUnavailable(problem(503, "draining", "Draining", `replica ${leader.replicaId} is shutting down; use another replica`))
      }
      yield* available
      return {
        status: "ok" as const,
        version: serviceVersion,
        backend: database.backend,
        database: database.target,
        migrations: { latest: migrations.latest, count: migrations.count },
        llm: { mode: llm.mode, model: llm.model },
        embeddings: { mode: embeddings.mode, model: embeddings.model },
        uptimeSeconds: Math.round(process.uptime()),
        replica: { id: leader.replicaId, isLeader: yield* leader.isLeader, leader: Option.getOrNull(yield* leader.current) }
      }
    }))
}))
