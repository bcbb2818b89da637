/**
 * figma-compat handlers, plus the body handling the figma-plugin ingress shares: the body is read here (not
 * by the HttpApi's JSON decoder) so that any content type is accepted, the cap answers 413 problem+json, a
 * body that is not JSON answers 400, and the plugin can verify its HMAC over the exact raw bytes.
 *
 * Conversion is pure and synchronous (src/services/figma/convert/); no input may make it answer 5xx: decode failures are 400
 * naming the offending paths, and a converter that throws anyway is logged, counted and answered 422.
 */
import { ByteSize, Config, Effect, Metric, Result } from "effect"
import { HttpServerResponse } from "effect/http"
import * as IncomingMessage from "effect/http/HttpIncomingMessage"
import type { HttpServerRequest } from "effect/http/HttpServerRequest"
import { HttpApiBuilder } from "effect/http-api"
import type { FigmaDecodeError } from "../../domain/figma/ConversionWarning.ts"
import { problem } from "../../domain/platform/Problem.ts"
import { type ConversionDirection, type ConversionOutput, convertFigma, decodeCogo } from "../../services/figma/convert/index.ts"
import { renderDocument } from "../../services/preview/document.ts"
import { latencyBuckets } from "../../services/observability/Metrics.ts"
import { Api } from "../Api.ts"
import type { HtmlDirection } from "./FigmaCompatApi.ts"
import { problemResponse } from "../../services/platform/problemResponse.ts"

/** Default body cap of the figma endpoints (`FIGMA_MAX_BODY_BYTES`). */
export const defaultFigmaMaxBodyBytes = 20 * 1024 * 1024

/** Issues listed in a 400 (a mangled document can have thousands; the first ones locate the problem). */
const maxListedIssues = 20

export const figmaConversions = Metric.counter("cogo_figma_conversions_total", {
  description: "figma-compat conversions, by direction and outcome (ok, invalid, too_large, failed)",
  incremental: true
})
export const figmaConversionDuration = Metric.histogram("cogo_figma_conversion_duration_seconds", {
  description: "Time to decode and convert one figma-compat document, by direction",
  boundaries: latencyBuckets
})

type JsonPath = ReadonlyArray<string | number>

/** A request that cannot be processed, as the problem+json response it becomes. */
export interface RejectedBody {
  readonly outcome: "too_large" | "invalid"
  readonly response: HttpServerResponse.HttpServerResponse
}

const tooLarge = (limit: number): RejectedBody => ({
  outcome: "too_large",
  response: problemResponse(problem(413, "payload-too-large", "Payload Too Large", `figma documents are limited to ${limit} bytes`))
})

export const invalidBody = (slug: string, detail: string, errors: ReadonlyArray<{ readonly path: JsonPath; readonly message: string }>): RejectedBody => ({
  outcome: "invalid",
  response: problemResponse({ ...problem(400, slug, "Bad Request", detail), errors })
})

/** Reads the raw body under `limit` bytes (the declared length is checked before reading anything). */
export const readCappedBody = (request: HttpServerRequest, limit: number): Effect.Effect<Uint8Array, RejectedBody> =>
  Effect.gen(function*() {
    const declared = Number(request.headers["content-length"] ?? "0")
    if (Number.isFinite(declared) && declared > limit) return yield* Effect.fail(tooLarge(limit))
    const read = yield* request.arrayBuffer.pipe(
      Effect.provideService(IncomingMessage.MaxBodySize, ByteSize.bytes(limit)),
      Effect.result
    )
    if (Result.isFailure(read)) {
      const reason = read.failure.reason
      return yield* Effect.fail(reason._tag === "RequestParseError" && reason.reason === "BodyTooLarge"
        ? tooLarge(limit)
        : invalidBody("unreadable-body", "the request body could not be read", [{ path: [], message: "unreadable body" }]))
    }
    // A body read earlier (e.g. by the edge middleware under its own cap) is cached: check it again.
    if (read.success.byteLength > limit) return yield* Effect.fail(tooLarge(limit))
    return new Uint8Array(read.success)
  })

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Parses a JSON body; any failure (empty, bad UTF-8, bad JSON, nesting too deep) is a 400 at path []. */
export const parseJsonBody = (bytes: Uint8Array): Result.Result<unknown, RejectedBody> => {
  if (bytes.byteLength === 0) return Result.fail(invalidBody("invalid-json", "the request body is empty", [{ path: [], message: "Expected a JSON body" }]))
  try {
    return Result.succeed(JSON.parse(utf8.decode(bytes)))
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return Result.fail(invalidBody("invalid-json", `the request body is not valid JSON: ${message}`, [{ path: [], message: "Expected a valid JSON body" }]))
  }
}

/** A FigmaDecodeError as a 400 naming the bad paths, each prefixed with `prefix` (where the document sits). */
export const decodeErrorBody = (error: FigmaDecodeError, prefix: JsonPath = []): RejectedBody => {
  const errors = error.issues.slice(0, maxListedIssues).map((issue) => ({ path: [...prefix, ...issue.path], message: issue.message }))
  const first = errors[0]
  const where = first === undefined ? "" : ` at ${first.path.length === 0 ? "the document root" : first.path.join(".")}: ${first.message}`
  const more = error.issues.length > 1 ? ` (${error.issues.length} issues)` : ""
  return invalidBody("invalid-figma-document", `${error.message}${where}${more}`, errors)
}

/** `convertFigma` with its one remaining escape (a converter bug that throws) turned into a value. */
export const convertSafely = (input: unknown, direction: ConversionDirection): Result.Result<ConversionOutput, FigmaDecodeError | { readonly _tag: "ConverterCrashed"; readonly message: string }> => {
  try {
    return convertFigma(input, direction)
  } catch (error) {
    return Result.fail({ _tag: "ConverterCrashed", message: error instanceof Error ? error.message : String(error) })
  }
}

/** COGO UI JSON for an html direction: converted from Figma, or validated as given. */
const cogoForHtml = (input: unknown, direction: HtmlDirection) => {
  if (direction === "cogo-to-html") {
    return Result.map(decodeCogo(input), (document) => ({ format: "cogo" as const, document, warnings: [] }))
  }
  return convertSafely(input, "figma-to-cogo")
}

const count = (direction: ConversionDirection | HtmlDirection, outcome: string) =>
  Metric.update(Metric.withAttributes(figmaConversions, { direction, outcome }), 1)

export const FigmaCompatLive = HttpApiBuilder.group(Api, "figmaCompat", Effect.fn(function*(handlers) {
  const limit = yield* Config.Int("FIGMA_MAX_BODY_BYTES").pipe(Config.withDefault(defaultFigmaMaxBodyBytes))

  const convert = Effect.fn("FigmaCompat.convert")(function*(request: HttpServerRequest, direction: ConversionDirection | HtmlDirection) {
    yield* Effect.annotateCurrentSpan({ "figma.direction": direction })
    const bytes = yield* readCappedBody(request, limit)
    yield* Effect.annotateCurrentSpan({ "figma.body_bytes": bytes.byteLength })
    const input = yield* Result.match(parseJsonBody(bytes), { onFailure: Effect.fail, onSuccess: Effect.succeed })
    const started = performance.now()
    const html = direction === "figma-to-html" || direction === "cogo-to-html"
    const converted = html ? cogoForHtml(input, direction) : convertSafely(input, direction)
    yield* Metric.update(Metric.withAttributes(figmaConversionDuration, { direction }), (performance.now() - started) / 1000)
    if (Result.isFailure(converted)) {
      const failure = converted.failure
      if (failure._tag === "FigmaDecodeError") return yield* Effect.fail(decodeErrorBody(failure))
      yield* Effect.logError("figma converter threw").pipe(Effect.annotateLogs({ direction, error: failure.message }))
      yield* count(direction, "failed")
      return problemResponse(problem(422, "figma-conversion-failed", "Unprocessable Entity",
        `the ${direction} converter could not process this document`))
    }
    const output = converted.success
    yield* Effect.annotateCurrentSpan({ "figma.warnings": output.warnings.length })
    yield* count(direction, "ok")
    if (html && output.format === "cogo") {
      return HttpServerResponse.text(renderDocument(output.document), {
        contentType: "text/html; charset=utf-8",
        headers: { "x-conversion-warnings": String(output.warnings.length), "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; img-src * data:" }
      })
    }
    return HttpServerResponse.jsonUnsafe({ direction, ...output })
  })

  return handlers.handleRaw("convert", ({ request, query }) => {
    const direction = query.direction ?? "figma-to-cogo"
    return convert(request, direction).pipe(
      Effect.catch((rejected: RejectedBody) => Effect.as(count(direction, rejected.outcome), rejected.response))
    )
  })
}))
