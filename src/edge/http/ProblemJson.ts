/**
 * Every error an endpoint declares is a problem object (src/domain/platform/Problem.ts), but HttpApi encodes
 * declared errors as `application/json`. This global middleware labels JSON error responses as
 * `application/problem+json` (RFC 9457), so clients can rely on the media type for every 4xx/5xx.
 */
import { Effect } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"

export const ProblemJsonMiddleware = HttpRouter.middleware((app) =>
  Effect.map(app, (response) => {
    const body = response.body as { readonly contentType?: string | undefined }
    const contentType = response.headers["content-type"] ?? body.contentType ?? ""
    return response.status >= 400 && contentType.startsWith("application/json")
      ? HttpServerResponse.setHeader(response, "content-type", "application/problem+json")
      : response
  }), { global: true })
