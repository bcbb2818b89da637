/**
 * The one global middleware of the edge surface, in this order:
 * 1. CORS the Supabase way: every preflight (`OPTIONS`, any path) is answered 204 with the allowed headers,
 *    and every response carries `Access-Control-Allow-Origin` and the exposed ids;
 * 2. request body caps: a body over the limit is 413 problem+json before any handler runs (the body is read
 *    once, bounded, and cached for the handler);
 * 3. `Idempotency-Key` on every POST (src/services/auth/Idempotency.ts).
 * (Error bodies are labelled `application/problem+json` by `ProblemJsonMiddleware`, src/edge/http/ProblemJson.ts.)
 */
import { ByteSize, Config, Effect } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as IncomingMessage from "effect/http/HttpIncomingMessage"
import { problem } from "../../domain/platform/Problem.ts"
import { Idempotency } from "../../services/auth/Idempotency.ts"
import { problemResponse } from "../../services/platform/problemResponse.ts"

export const corsAllowedHeaders = [
  "authorization",
  "apikey",
  "x-client-info",
  "content-type",
  "idempotency-key",
  "traceparent",
  "tracestate",
  "last-event-id",
  "accept",
  "accept-profile",
  "content-profile",
  "prefer",
  "range",
  "x-supabase-api-version",
  "x-cogo-timestamp",
  "x-cogo-signature"
]
export const corsExposedHeaders = [
  "content-range",
  "retry-after",
  "idempotent-replayed",
  "x-cogo-stream-id",
  "x-cogo-chat-id",
  "x-vercel-ai-ui-message-stream",
  "traceparent"
]
const corsMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"

/** Paths whose uploads are Figma documents: a larger cap. */
const importPathPrefixes = ["/functions/v1/figma-"]

export const EdgeMiddleware = HttpRouter.middleware(
  Effect.gen(function*() {
    const idempotency = yield* Idempotency
    const origins = yield* Config.String("COGO_CORS_ORIGINS").pipe(Config.withDefault("*"))
    const maxBody = yield* Config.Int("COGO_MAX_BODY_BYTES").pipe(Config.withDefault(1024 * 1024))
    const maxImportBody = yield* Config.Int("COGO_MAX_IMPORT_BODY_BYTES").pipe(Config.withDefault(32 * 1024 * 1024))
    const allowedOrigins = origins === "*" ? undefined : new Set(origins.split(",").map((o) => o.trim()))

    const corsHeaders = (request: HttpServerRequest.HttpServerRequest): Record<string, string> => {
      const origin = request.headers["origin"]
      const allowOrigin = allowedOrigins === undefined ? "*" : origin !== undefined && allowedOrigins.has(origin) ? origin : undefined
      if (allowOrigin === undefined) return {}
      return {
        "access-control-allow-origin": allowOrigin,
        "access-control-expose-headers": corsExposedHeaders.join(", "),
        ...(allowedOrigins === undefined ? {} : { vary: "Origin" })
      }
    }

    const limitFor = (path: string) => importPathPrefixes.some((prefix) => path.startsWith(prefix)) ? maxImportBody : maxBody
    const tooLarge = (limit: number) =>
      problemResponse(problem(413, "payload-too-large", "Payload Too Large", `request bodies are limited to ${limit} bytes`))

    /** Reads the body once with the cap (cached by the request for the handler); a 413 response when over. */
    const capBody = (request: HttpServerRequest.HttpServerRequest) =>
      Effect.gen(function*() {
        if (request.method === "GET" || request.method === "HEAD" || request.method === "OPTIONS") return undefined
        const limit = limitFor(request.url.split("?")[0] ?? "/")
        const declared = Number(request.headers["content-length"] ?? "0")
        if (Number.isFinite(declared) && declared > limit) return tooLarge(limit)
        const read = yield* request.arrayBuffer.pipe(
          Effect.provideService(IncomingMessage.MaxBodySize, ByteSize.bytes(limit)),
          Effect.result
        )
        return read._tag === "Failure" ? tooLarge(limit) : undefined
      })

    return (app) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const cors = corsHeaders(request)
        if (request.method === "OPTIONS") {
          return HttpServerResponse.empty({
            status: 204,
            headers: {
              ...cors,
              "access-control-allow-methods": corsMethods,
              "access-control-allow-headers": corsAllowedHeaders.join(", "),
              "access-control-max-age": "86400"
            }
          })
        }
        const rejected = yield* capBody(request)
        const response = rejected ?? (yield* idempotency.middleware(request, app))
        return HttpServerResponse.setHeaders(response, cors)
      })
  }),
  { global: true }
)
