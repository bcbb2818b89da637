/**
 * `POST /functions/v1/figma-plugin`: the Figma plugin's signed upload. Headers `Authorization: Bearer <user JWT
 * or project plugin token>`, `x-cogo-timestamp` (unix seconds) and
 * `x-cogo-signature: v1=<hex HMAC-SHA256(FIGMA_PLUGIN_SECRET, "<timestamp>.<raw body>")>`; optional
 * `Idempotency-Key`. Answers 202 with the `figma.import` job; 401 without a valid credential, 403 when the
 * credential may not write the body's project. The handler verifies the signature over the raw bytes before
 * decoding, so the payload Schema here documents the body (its `userId` is ignored).
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema } from "effect/http-api"
import { JobId, JobState } from "../../domain/jobs/Job.ts"
import { BadRequest, Conflict, Forbidden, ServiceUnavailable, Unauthorized } from "../../domain/platform/Problem.ts"
import { FigmaImportPayload } from "../../services/figma/FigmaImport.ts"
import { PayloadTooLarge } from "./FigmaCompatApi.ts"

export const FigmaImportAccepted = Schema.Struct({
  jobId: JobId,
  /** False when the Idempotency-Key (or signature) named an import job that already existed. */
  created: Schema.Boolean,
  state: JobState,
  /** Server-sent events of the job (progress, result). */
  streamUrl: Schema.String
}).pipe(HttpApiSchema.status(202)).annotate({ identifier: "FigmaImportAccepted" })

export class FigmaPluginApi extends HttpApiGroup.make("figmaPlugin").add(
  HttpApiEndpoint.post("ingest", "/functions/v1/figma-plugin", {
    payload: FigmaImportPayload,
    success: FigmaImportAccepted,
    error: [BadRequest, Unauthorized, Forbidden, Conflict, PayloadTooLarge, ServiceUnavailable]
  })
) {}
