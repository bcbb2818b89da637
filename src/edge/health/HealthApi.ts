/**
 * `GET /health`: backend, migrations, version and this replica's place (its id, whether it leads, who leads).
 * 503 `draining` once the replica is stopping (SIGTERM), 503 `degraded` while the database does not answer.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { ServiceUnavailable } from "../../domain/platform/Problem.ts"

export const HealthStatus = Schema.Struct({
  status: Schema.Literal("ok"),
  version: Schema.String,
  backend: Schema.Literals(["postgres", "embedded"]),
  database: Schema.String,
  migrations: Schema.Struct({ latest: Schema.Number, count: Schema.Number }),
  /** "offline": no OPENAI_API_KEY; answers quote indexed knowledge and embeddings are local hashed features. */
  llm: Schema.Struct({ mode: Schema.Literals(["openai", "offline"]), model: Schema.String }),
  embeddings: Schema.Struct({ mode: Schema.Literals(["openai", "offline"]), model: Schema.String }),
  uptimeSeconds: Schema.Number,
  /** This replica; `leader` is the replica holding the leader lock (null while none does). */
  replica: Schema.Struct({ id: Schema.String, isLeader: Schema.Boolean, leader: Schema.NullOr(Schema.String) })
})

export class HealthApi extends HttpApiGroup.make("health").add(
  HttpApiEndpoint.get("health", "/health", { success: HealthStatus, error: ServiceUnavailable })
) {}
