/**
 * figma-plugin ingress: verify the HMAC signature over the raw body, refuse replays, decode, and enqueue the
 * `figma.import` job idempotently. Order matters: nothing is parsed before the signature holds.
 *
 * Policy (docs/figma-service.md):
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
import { createHmac, timingSafeEqual } from "node:crypto"
import type { JobId } from "../../domain/jobs/Job.ts"
import { problem } from "../../domain/platform/Problem.ts"
import { decodeFigma } from "../../services/figma/convert/index.ts"
import { Database, DbRole } from "../../services/platform/Database.ts"
import { FigmaImportPayload, figmaImportKind } from "../../services/figma/FigmaImport.ts"
import { JobQueue } from "../../services/jobs/JobQueue.ts"
import { Api } from "../Api.ts"
import { decodeErrorBody, defaultFigmaMaxBodyBytes, invalidBody, parseJsonBody, readCappedBody, type RejectedBody } from "./FigmaCompatLive.ts"
import { problemResponse } from "../../services/platform/problemResponse.ts"

export const timestampHeader = "x-cogo-timestamp"
export const signatureHeader = "x-cogo-signature"

export const figmaPluginRequests = Metric.counter("cogo_figma_plugin_requests_total", {
  description: "figma-plugin requests, by outcome (accepted, joined, unauthorized, replayed, invalid, too_large, unconfigured, unavailable)",
  incremental: true
})

type Outcome = "accepted" | "joined" | "unauthorized" | "replayed" | "invalid" | "too_large" | "unconfigured" | "unavailable"

interface Refused {
  readonly outcome: Outcome
  readonly response: HttpServerResponse.HttpServerResponse
}

const refuse = (outcome: Outcome, status: number, slug: string, title: string, detail: string): Refused => ({
  outcome,
  response: problemResponse(problem(status, slug, title, detail))
})
const unauthorized = (slug: string, detail: string) => refuse("unauthorized", 401, slug, "Unauthorized", detail)

/** `HMAC-SHA256(secret, "<timestamp>.<body>")`, the value after `v1=`. */
export const figmaPluginSignature = (secret: string, timestamp: string, body: Uint8Array | string): string =>
  createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex")

const signaturePattern = /^v1=([0-9a-fA-F]{64})$/
const timestampPattern = /^\d{1,12}$/
const keyPattern = /^[\x21-\x7e]{1,255}$/
const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()
const decodePayload = Schema.decodeUnknownResult(FigmaImportPayload)

const pathSegment = (segment: PropertyKey | { readonly key: PropertyKey }): string | number => {
  const key = typeof segment === "object" ? segment.key : segment
  return typeof key === "number" ? key : String(key)
}

export const FigmaPluginLive = HttpApiBuilder.group(Api, "figmaPlugin", Effect.fn(function*(handlers) {
  const sql = yield* PgClient.PgClient
  const database = yield* Database
  const jobs = yield* JobQueue
  const secret = yield* Config.option(Config.Redacted("FIGMA_PLUGIN_SECRET"))
  const window = yield* Config.Duration("FIGMA_PLUGIN_SIGNATURE_WINDOW").pipe(Config.withDefault(Duration.minutes(5)))
  const limit = yield* Config.Int("FIGMA_MAX_BODY_BYTES").pipe(Config.withDefault(defaultFigmaMaxBodyBytes))
  const windowSeconds = Duration.toSeconds(window)

  /** The signature's hex digest when it is valid for `body`, else the 401 to answer. */
  const verify = (key: Redacted.Redacted<string>, request: HttpServerRequest, body: Uint8Array): Result.Result<string, Refused> => {
    const timestamp = request.headers[timestampHeader]
    const signature = request.headers[signatureHeader]
    if (timestamp === undefined || signature === undefined) {
      return Result.fail(unauthorized("signature-missing", `${timestampHeader} and ${signatureHeader} headers are required`))
    }
    if (!timestampPattern.test(timestamp)) return Result.fail(unauthorized("signature-malformed", `${timestampHeader} must be unix seconds`))
    const match = signaturePattern.exec(signature)
    if (match === null) return Result.fail(unauthorized("signature-malformed", `${signatureHeader} must be v1=<64 hex digits>`))
    const skew = Math.abs(Date.now() / 1000 - Number(timestamp))
    if (skew > windowSeconds) {
      return Result.fail(unauthorized("signature-expired", `the signature timestamp is outside the ${windowSeconds} s window`))
    }
    const given = Buffer.from(match[1]!, "hex")
    const expected = Buffer.from(figmaPluginSignature(Redacted.value(key), timestamp, body), "hex")
    if (!timingSafeEqual(given, expected)) return Result.fail(unauthorized("signature-invalid", "the signature does not match the body"))
    return Result.succeed(expected.toString("hex"))
  }

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
      const figma = decodeFigma(decoded.success.document)
      return Result.isFailure(figma) ? Result.fail(decodeErrorBody(figma.failure, ["document"])) : Result.succeed(decoded.success)
    })

  /** Remembers the signature and enqueues (or joins) the job, in one agent transaction. */
  const enqueue = (signature: string, jobKey: string, payload: FigmaImportPayload, windowEnds: number) =>
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
        createdBy: payload.userId
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
    const payload = yield* Result.match(decodeBody(bytes), { onFailure: Effect.fail, onSuccess: Effect.succeed })
    yield* Effect.annotateCurrentSpan({ "figma.project_id": payload.projectId, "figma.body_bytes": bytes.byteLength })
    // Keys are per project, so two projects' plugins can never join each other's jobs.
    const jobKey = idempotencyKey === undefined
      ? `figma-plugin:sig:${signature}`
      : `figma-plugin:${payload.projectId}:${idempotencyKey}`
    const windowEnds = Number(request.headers[timestampHeader]) + windowSeconds
    const enqueued = yield* enqueue(signature, jobKey, payload, windowEnds).pipe(
      Effect.tapError((error) => Effect.logError("figma-plugin enqueue failed").pipe(Effect.annotateLogs({ error: error.message }))),
      Effect.mapError(() => refuse("unavailable", 503, "storage-unavailable", "Service Unavailable", "the import could not be queued; retry later"))
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
