import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { SqlClient } from "effect/sql/SqlClient"
import { problem, ServiceUnavailable } from "../../domain/platform/Problem.ts"
import { Database } from "../../services/platform/Database.ts"
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
  return handlers.handle("health", () =>
    sql`SELECT 1`.pipe(
      Effect.timeout("2 seconds"),
      Effect.mapError(() =>
        new ServiceUnavailable(problem(503, "database-unavailable", "Database unavailable", `${database.target} did not answer`))
      ),
      Effect.as({
        status: "ok" as const,
        version: serviceVersion,
        backend: database.backend,
        database: database.target,
        migrations: { latest: migrations.latest, count: migrations.count },
        llm: { mode: llm.mode, model: llm.model },
        embeddings: { mode: embeddings.mode, model: embeddings.model },
        uptimeSeconds: Math.round(process.uptime())
      })
    ))
}))
