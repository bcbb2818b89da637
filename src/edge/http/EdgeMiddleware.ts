/**
 * The one global middleware of the edge surface, in this order:
 * 1. CORS the Supabase way: every preflight (`OPTIONS`, any path) is answered 204 with the allowed headers,
 *    and every response carries `Access-Control-Allow-Origin` and the exposed ids;
 * 2. request body caps: a body over the limit is 413 problem+json before any handler runs (the body is read
 *    once, bounded, and cached for the handler);
 * 3. text PostgreSQL cannot store (NUL, lone surrogates) in the URL or a JSON body, and JSON nested deeper
 *    than `COGO_MAX_JSON_DEPTH` (256; Figma uploads have their own guard), are a 400 naming the field
 *    (src/edge/http/unsafeText.ts), on every endpoint;
 * 4. `Idempotency-Key` on every POST (src/services/auth/Idempotency.ts);
 * 5. a request that failed (a database outage, a value PostgreSQL refused, a bug) gets its error response
 *    (`failureResponse`, src/edge/http/ProblemJson.ts); every 503 carries `Retry-After`, and every 5xx writes
 *    one error log line inside the request's span (so with its trace id).
 * (Error bodies are labelled `application/problem+json` by `ProblemJsonMiddleware`, src/edge/http/ProblemJson.ts.)
 */
import { ByteSize, Cause, Config, Effect } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as IncomingMessage from "effect/http/HttpIncomingMessage"
import { problem } from "../../domain/platform/Problem.ts"
import { Idempotency } from "../../services/auth/Idempotency.ts"
import { badRequest, problemResponse } from "../../services/platform/problemResponse.ts"
import { failureResponse, pgrstError, restPrefix, retryAfterSeconds } from "./ProblemJson.ts"
import { findUnsafeJsonText, findUnsafeUrlText, jsonDeeperThan, type UnsafeText } from "./unsafeText.ts"

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
  "if-match",
  "range",
  "x-supabase-api-version",
  "x-cogo-timestamp",
  "x-cogo-signature"
]
export const corsExposedHeaders = [
  "content-range",
  "etag",
  "location",
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
    const maxJsonDepth = yield* Config.Int("COGO_MAX_JSON_DEPTH").pipe(Config.withDefault(256))
    const allowedOrigins = origins === "*" ? undefined : new Set(origins.split(",").map((o) => o.trim()))

    // Built once: every response carries the same CORS headers (one set per allowed origin).
    const exposed = corsExposedHeaders.join(", ")
    const corsFor = (origin: string): Record<string, string> => ({
      "access-control-allow-origin": origin,
      "access-control-expose-headers": exposed,
      ...(allowedOrigins === undefined ? {} : { vary: "Origin" })
    })
    const anyOrigin = corsFor("*")
    const perOrigin = new Map([...allowedOrigins ?? []].map((origin) => [origin, corsFor(origin)]))
    /** The CORS headers of a response to `request`; undefined for an origin that is not allowed. */
    const corsHeaders = (request: HttpServerRequest.HttpServerRequest): Record<string, string> | undefined => {
      if (allowedOrigins === undefined) return anyOrigin
      const origin = request.headers["origin"]
      return origin === undefined ? undefined : perOrigin.get(origin)
    }
    const preflightHeaders = {
      "access-control-allow-methods": corsMethods,
      "access-control-allow-headers": corsAllowedHeaders.join(", "),
      "access-control-max-age": "86400"
    }

    const limitFor = (path: string) => importPathPrefixes.some((prefix) => path.startsWith(prefix)) ? maxImportBody : maxBody
    const tooLarge = (limit: number) =>
      problemResponse(problem(413, "payload-too-large", "Payload Too Large", `request bodies are limited to ${limit} bytes`))

    const unsafe = (path: string, found: UnsafeText) =>
      path.startsWith(restPrefix)
        ? pgrstError(400, "22P05", `${found.path.join(".")}: ${found.message}`)
        : badRequest(found.path, found.message)

    /**
     * Reads the body once with the cap (cached by the request for the handler) and checks it for text
     * PostgreSQL cannot store; the rejection response, if any.
     */
    const checkBody = (request: HttpServerRequest.HttpServerRequest, path: string) =>
      Effect.gen(function*() {
        const limit = limitFor(path)
        const declared = Number(request.headers["content-length"] ?? "0")
        if (Number.isFinite(declared) && declared > limit) return tooLarge(limit)
        const read = yield* request.text.pipe(
          Effect.provideService(IncomingMessage.MaxBodySize, ByteSize.bytes(limit)),
          Effect.result
        )
        if (read._tag === "Failure") return tooLarge(limit)
        // Figma uploads are nested by nature; their converter has its own depth guard (figma-compat / figma-plugin).
        const checkDepth = !importPathPrefixes.some((prefix) => path.startsWith(prefix))
        if (checkDepth && jsonDeeperThan(read.success, maxJsonDepth)) return unsafe(path, { path: ["payload"], message: `nested deeper than ${maxJsonDepth} levels` })
        const inBody = findUnsafeJsonText(read.success)
        return inBody === undefined ? undefined : unsafe(path, inBody)
      })

    /** Every 503 says when to retry; every 5xx is logged once, in the request's span. */
    const finish = (request: HttpServerRequest.HttpServerRequest, path: string, response: HttpServerResponse.HttpServerResponse, cause?: Cause.Cause<unknown>) =>
      response.status < 500 ? Effect.succeed(response) : Effect.logError(`${request.method} ${path} answered ${response.status}`).pipe(
        Effect.annotateLogs(cause === undefined ? {} : { cause: Cause.pretty(cause) }),
        Effect.as(
          response.status === 503 && response.headers["retry-after"] === undefined
            ? HttpServerResponse.setHeader(response, "retry-after", String(retryAfterSeconds))
            : response
        )
      )

    /** The handler's answer, or the response for its failure; POSTs through the idempotency store. */
    const handle = <E, R>(request: HttpServerRequest.HttpServerRequest, path: string, app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
      Effect.matchCauseEffect(request.method === "POST" ? idempotency.middleware(request, app) : app, {
        onSuccess: (response) => finish(request, path, response),
        onFailure: (cause) =>
          Cause.hasInterruptsOnly(cause) ? Effect.failCause(cause) : Effect.flatMap(failureResponse(cause, path), (response) => finish(request, path, response, cause))
      })

    return (app) =>
      Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
        const cors = corsHeaders(request)
        const withCors = (response: HttpServerResponse.HttpServerResponse) => cors === undefined ? response : HttpServerResponse.setHeaders(response, cors)
        if (request.method === "OPTIONS") {
          return Effect.succeed(HttpServerResponse.empty({ status: 204, headers: cors === undefined ? preflightHeaders : { ...cors, ...preflightHeaders } }))
        }
        const path = request.url.split("?")[0] ?? "/"
        const inUrl = findUnsafeUrlText(request.url)
        if (inUrl !== undefined) return Effect.succeed(withCors(unsafe(path, inUrl)))
        if (request.method === "GET" || request.method === "HEAD") return Effect.map(handle(request, path, app), withCors)
        return Effect.flatMap(checkBody(request, path), (rejected) => Effect.map(rejected === undefined ? handle(request, path, app) : Effect.succeed(rejected), withCors))
      })
  }),
  { global: true }
)
