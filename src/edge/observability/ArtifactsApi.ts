/**
 * `GET /artifacts/:projectId/:jobId`: a job's artifacts (path, size, content type, url), for members of the
 * project. The files themselves are served by the raw route `GET /artifacts/<project>/<job>/<path>` (see
 * ArtifactsLive.ts), which takes the same token.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { ArtifactEntry } from "../../domain/observability/Observability.ts"
import { Forbidden } from "../../domain/platform/Problem.ts"
import { Authentication } from "../../services/auth/Auth.ts"

const Uuid = Schema.String.check(Schema.isPattern(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/))

export const ArtifactListing = Schema.Struct({
  projectId: Schema.String,
  jobId: Schema.String,
  artifacts: Schema.Array(ArtifactEntry)
})

export class ArtifactsApi extends HttpApiGroup.make("artifacts").add(
  HttpApiEndpoint.get("list", "/artifacts/:projectId/:jobId", {
    params: { projectId: Uuid, jobId: Uuid },
    success: ArtifactListing,
    error: Forbidden
  })
).middleware(Authentication) {}
