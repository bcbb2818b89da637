import { Effect } from "effect"
import { HttpApiBuilder } from "effect/http-api"
import { SqlClient } from "effect/sql/SqlClient"
import { problem, ServiceUnavailable } from "../domain/Problem.ts"
import { Database } from "../services/Database.ts"
import { Embeddings } from "../services/Embeddings.ts"
import { Llm } from "../services/Llm.ts"
import { Migrations } from "../services/Migrations.ts"
import { serviceVersion } from "../services/Version.ts"
import { Api } from "./Api.ts"

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
