/**
 * figma-plugin ingress: verify the HMAC signature over the raw body, authenticate the credential, decode,
 * authorize the upload for its project, refuse replays and enqueue the `figma.import` job idempotently.
 * Order matters: nothing is parsed before the signature and the credential hold.
 *
 * Credentials (docs/figma-service.md), in `Authorization: Bearer …`:
 * - a Supabase user JWT: the upload acts as that user, who must be an owner/editor of the project (403
 *   otherwise); a project id that does not exist yet is created for THAT user;
 * - a plugin token (`cogo_pt_…`, created by a project owner): the upload must target the token's project, and
 *   the token must be neither revoked nor expired (403); it cannot create a project.
 * A missing or unverifiable credential is 401. The body's `userId` is never trusted: it is replaced by the
 * authenticated user (or dropped, for a token). The HMAC below stays as a second factor: the plugin secret
 * ships inside the plugin, so it proves little alone, but it binds the credential to the exact body and
 * timestamp, which makes a captured request useless after the window (and replays inside it are refused).
 *
 * Policy:
 * - the timestamp must be within `FIGMA_PLUGIN_SIGNATURE_WINDOW` (default 300 s) of the server clock, either
 *   way; a missing, malformed, stale or wrong signature is 401;
 * - each accepted signature is remembered (cogo.figma_plugin_signatures) until it falls out of the window;
 *   the same signature again is a replay: 409, unless it carries the same Idempotency-Key as the first time
 *   (an exact retransmission), which answers the original job;
 * - the job's idempotency key is the Idempotency-Key header, else the signature: the same key answers the
 *   same job (202, `created: false`); a retry re-signed with a fresh timestamp and the same key joins it too.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Duration, Effect, Metric, Option, Redacted, Result, Schema, SchemaIssue } from "effect"
import { HttpServerResponse } from "effect/http"
import type { HttpServerRequest } from "effect/http/HttpServerRequest"
import { HttpApiBuilder } from "effect/http-api"
import type { JobId } from "../../domain/jobs/Job.ts"
import { problem } from "../../domain/platform/Problem.ts"
import { decodeFigma } from "../../services/figma/convert/index.ts"
import { Auth, requestToken } from "../../services/auth/Auth.ts"
import { canEdit, isPluginToken, PluginTokens } from "../../services/auth/PluginTokens.ts"
import { Database, DbRole } from "../../services/platform/Database.ts"
import { FigmaImportPayload, figmaImportKind } from "../../services/figma/FigmaImport.ts"
import { JobQueue } from "../../services/jobs/JobQueue.ts"
import { Api } from "../Api.ts"
import { decodeErrorBody, defaultFigmaMaxBodyBytes, invalidBody, parseJsonBody, readCappedBody, type RejectedBody } from "./FigmaCompatLive.ts"
import { problemResponse } from "../../services/platform/problemResponse.ts"
import { signatureHeader, timestampHeader, verifyFigmaPluginSignature } from "./signature.ts"

export const figmaPluginRequests = Metric.counter("cogo_figma_plugin_requests_total", {
  description: "figma-plugin requests, by outcome (accepted, joined, unauthorized, forbidden, replayed, invalid, too_large, unconfigured, unavailable)",
  incremental: true
})

type Outcome = "accepted" | "joined" | "unauthorized" | "forbidden" | "replayed" | "invalid" | "too_large" | "unconfigured" | "unavailable"

interface Refused {
  readonly outcome: Outcome
  readonly response: HttpServerResponse.HttpServerResponse
}

const refuse = (outcome: Outcome, status: number, slug: string, title: string, detail: string): Refused => ({
  outcome,
  response: problemResponse(problem(status, slug, title, detail))
})
const unauthorized = (slug: string, detail: string) => refuse("unauthorized", 401, slug, "Unauthorized", detail)
const forbidden = (slug: string, detail: string) => refuse("forbidden", 403, slug, "Forbidden", detail)
const storageUnavailable = () => refuse("unavailable", 503, "storage-unavailable", "Service Unavailable", "the import could not be queued; retry later")

/** Who an upload acts for: a user (JWT), or one project (plugin token). */
type Uploader =
  | { readonly _tag: "User"; readonly userId: string }
  | { readonly _tag: "ProjectToken"; readonly projectId: string; readonly createdBy: string }

const keyPattern = /^[\x21-\x7e]{1,255}$/
const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()
const decodePayload = Schema.decodeUnknownResult(FigmaImportPayload)

/**
 * `decodeFigma` with figma-compat's guard: a document nested deeper than the decoder's stack can follow
 * (10,000 levels) is a 400 "Input nested too deeply", as in figma-compat, never a 500.
 */
const decodeDocument = (document: unknown): Result.Result<unknown, RejectedBody> => {
  try {
    const figma = decodeFigma(document)
    return Result.isFailure(figma) ? Result.fail(decodeErrorBody(figma.failure, ["document"])) : Result.succeed(figma.success)
  } catch (error) {
    if (!(error instanceof RangeError)) throw error
    return Result.fail(invalidBody("invalid-figma-document", "Input nested too deeply", [{ path: ["document"], message: error.message }]))
  }
}

const pathSegment = (segment: PropertyKey | { readonly key: PropertyKey }): string | number => {
  const key = typeof segment === "object" ? segment.key : segment
  return typeof key === "number" ? key : String(key)
}

export const FigmaPluginLive = HttpApiBuilder.group(Api, "figmaPlugin", Effect.fn(function*(handlers) {
  const sql = yield* PgClient.PgClient
  const database = yield* Database
  const jobs = yield* JobQueue
  const auth = yield* Auth
  const pluginTokens = yield* PluginTokens
  const secret = yield* Config.option(Config.Redacted("FIGMA_PLUGIN_SECRET"))
  const window = yield* Config.Duration("FIGMA_PLUGIN_SIGNATURE_WINDOW").pipe(Config.withDefault(Duration.minutes(5)))
  const limit = yield* Config.Int("FIGMA_MAX_BODY_BYTES").pipe(Config.withDefault(defaultFigmaMaxBodyBytes))
  const windowSeconds = Duration.toSeconds(window)

  /** The signature's hex digest when it is valid for `body`, else the 401 to answer. */
  const verify = (key: Redacted.Redacted<string>, request: HttpServerRequest, body: Uint8Array): Result.Result<string, Refused> =>
    Result.mapError(
      verifyFigmaPluginSignature(Redacted.value(key), {
        timestamp: request.headers[timestampHeader],
        signature: request.headers[signatureHeader],
        body
      }, windowSeconds, Date.now() / 1000),
      (refusal) => unauthorized(refusal.slug, refusal.detail)
    )

  /** The uploader of a request's bearer credential; 401 when it is missing or does not verify. */
  const authenticate = (request: HttpServerRequest): Effect.Effect<Uploader, Refused> =>
    Effect.gen(function*() {
      const credential = requestToken(request)
      if (credential === undefined) {
        return yield* Effect.fail(unauthorized("credential-missing",
          "send a user JWT or a project plugin token in Authorization: Bearer"))
      }
      if (isPluginToken(credential)) {
        const checked = yield* pluginTokens.check(credential).pipe(Effect.mapError(storageUnavailable))
        switch (checked._tag) {
          case "Unknown":
            return yield* Effect.fail(unauthorized("plugin-token-invalid", "the plugin token is not known"))
          case "Revoked":
            return yield* Effect.fail(forbidden("plugin-token-revoked", "the plugin token was revoked"))
          case "Expired":
            return yield* Effect.fail(forbidden("plugin-token-expired", "the plugin token has expired"))
          case "Valid":
            return { _tag: "ProjectToken", projectId: checked.projectId, createdBy: checked.createdBy } as const
        }
      }
      const principal = yield* auth.verify(credential).pipe(
        Effect.mapError((error) => unauthorized("credential-invalid", error.detail)))
      if (principal === undefined) return yield* Effect.fail(unauthorized("credential-anonymous", "an anonymous key cannot upload"))
      if (principal.role !== "authenticated") {
        return yield* Effect.fail(forbidden("user-credential-required", "uploads act for a user: send a user JWT or a plugin token"))
      }
      return { _tag: "User", userId: principal.userId } as const
    })

  /**
   * The payload to enqueue when `uploader` may upload into its project: `userId` is the authenticated user
   * (whatever the body said), or absent for a project token; 403 otherwise.
   */
  const authorize = (uploader: Uploader, payload: FigmaImportPayload): Effect.Effect<FigmaImportPayload, Refused> =>
    Effect.gen(function*() {
      const { userId: _ignored, ...rest } = payload
      if (uploader._tag === "ProjectToken") {
        if (uploader.projectId.toLowerCase() !== payload.projectId.toLowerCase()) {
          return yield* Effect.fail(forbidden("plugin-token-wrong-project", "this plugin token belongs to another project"))
        }
        return rest
      }
      const access = yield* pluginTokens.access(uploader.userId, payload.projectId).pipe(Effect.mapError(storageUnavailable))
      if (access !== "missing" && !canEdit(access)) {
        return yield* Effect.fail(forbidden("project-access-denied", "only the project's owners and editors can import into it"))
      }
      return { ...rest, userId: uploader.userId }
    })

  /** Decodes the verified body: the envelope, then the Figma document inside it (400s name their paths). */
  const decodeBody = (bytes: Uint8Array): Result.Result<FigmaImportPayload, RejectedBody> =>
    Result.flatMap(parseJsonBody(bytes), (json) => {
      const decoded = decodePayload(json)
      if (Result.isFailure(decoded)) {
        const errors = formatIssues(decoded.failure.issue).issues.map((issue) => ({
          path: (issue.path ?? []).map(pathSegment),
          message: issue.message
        }))
        const first = errors[0]
        return Result.fail(invalidBody("invalid-figma-plugin-request",
          first === undefined ? "invalid request body" : `${first.path.join(".") || "body"}: ${first.message}`, errors))
      }
      const figma = decodeDocument(decoded.success.document)
      return Result.isFailure(figma) ? Result.fail(figma.failure) : Result.succeed(decoded.success)
    })

  /** Remembers the signature and enqueues (or joins) the job, in one agent transaction. */
  const enqueue = (signature: string, jobKey: string, payload: FigmaImportPayload, createdBy: string, windowEnds: number) =>
    database.withRole(DbRole.agent, Effect.gen(function*() {
      yield* sql`DELETE FROM cogo.figma_plugin_signatures WHERE expires_at < now()`
      const inserted = yield* sql<{ signature: string }>`
        INSERT INTO cogo.figma_plugin_signatures (signature, idempotency_key, expires_at)
        VALUES (${signature}, ${jobKey}, to_timestamp(${windowEnds}))
        ON CONFLICT (signature) DO NOTHING
        RETURNING signature`
      if (inserted.length === 0) {
        const seen = yield* sql<{ idempotency_key: string; job_id: string | null }>`
          SELECT idempotency_key, job_id FROM cogo.figma_plugin_signatures WHERE signature = ${signature}`
        const first = seen[0]
        // An exact retransmission under the same Idempotency-Key answers its job; anything else is a replay.
        if (first === undefined || first.job_id === null || first.idempotency_key !== jobKey || jobKey === `figma-plugin:sig:${signature}`) {
          return { _tag: "Replayed" } as const
        }
        const job = yield* jobs.get(first.job_id as JobId)
        return Option.match(job, {
          onNone: () => ({ _tag: "Replayed" }) as const,
          onSome: (found) => ({ _tag: "Job", id: found.id, created: false, state: found.state }) as const
        })
      }
      const job = yield* jobs.enqueue({
        kind: figmaImportKind,
        payload,
        projectId: payload.projectId,
        idempotencyKey: jobKey,
        createdBy
      })
      yield* sql`UPDATE cogo.figma_plugin_signatures SET job_id = ${job.id} WHERE signature = ${signature}`
      return { _tag: "Job", id: job.id, created: job.created, state: job.state } as const
    }))

  const ingest = Effect.fn("FigmaPlugin.ingest")(function*(request: HttpServerRequest) {
    if (Option.isNone(secret)) {
      return yield* Effect.fail(refuse("unconfigured", 503, "figma-plugin-not-configured", "Service Unavailable",
        "FIGMA_PLUGIN_SECRET is not configured on this server"))
    }
    const idempotencyKey = request.headers["idempotency-key"]
    if (idempotencyKey !== undefined && !keyPattern.test(idempotencyKey)) {
      return yield* Effect.fail(invalidBody("invalid-idempotency-key", "Idempotency-Key must be 1-255 visible ASCII characters",
        [{ path: ["headers", "idempotency-key"], message: "1-255 visible ASCII characters" }]))
    }
    const bytes = yield* readCappedBody(request, limit)
    const signature = yield* Result.match(verify(secret.value, request, bytes), { onFailure: Effect.fail, onSuccess: Effect.succeed })
    const uploader = yield* authenticate(request)
    const decoded = yield* Result.match(decodeBody(bytes), { onFailure: Effect.fail, onSuccess: Effect.succeed })
    const payload = yield* authorize(uploader, decoded)
    yield* Effect.annotateCurrentSpan({ "figma.project_id": payload.projectId, "figma.body_bytes": bytes.byteLength })
    // Keys are per project, so two projects' plugins can never join each other's jobs.
    const jobKey = idempotencyKey === undefined
      ? `figma-plugin:sig:${signature}`
      : `figma-plugin:${payload.projectId}:${idempotencyKey}`
    const windowEnds = Number(request.headers[timestampHeader]) + windowSeconds
    const createdBy = uploader._tag === "User" ? uploader.userId : uploader.createdBy
    const enqueued = yield* enqueue(signature, jobKey, payload, createdBy, windowEnds).pipe(
      Effect.tapError((error) => Effect.logError("figma-plugin enqueue failed").pipe(Effect.annotateLogs({ error: error.message }))),
      Effect.mapError(storageUnavailable)
    )
    if (enqueued._tag === "Replayed") {
      return yield* Effect.fail(refuse("replayed", 409, "signature-replayed", "Conflict",
        "this signature was already used; sign every request with a fresh timestamp"))
    }
    yield* Metric.update(Metric.withAttributes(figmaPluginRequests, { outcome: enqueued.created ? "accepted" : "joined" }), 1)
    return HttpServerResponse.jsonUnsafe({
      jobId: enqueued.id,
      created: enqueued.created,
      state: enqueued.state,
      streamUrl: `/functions/v1/realtime/jobs/${enqueued.id}`
    }, { status: 202 })
  })

  return handlers.handleRaw("ingest", ({ request }) =>
    ingest(request).pipe(
      Effect.catch((refused: Refused | RejectedBody) =>
        Effect.as(Metric.update(Metric.withAttributes(figmaPluginRequests, { outcome: refused.outcome }), 1), refused.response))
    ))
}))
