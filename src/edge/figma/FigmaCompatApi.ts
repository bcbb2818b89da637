/**
 * `POST /functions/v1/figma-compat`: the body is a Figma document as-is (a `GET /v1/files/:key` response, a
 * `GET /v1/files/:key/nodes` response, a bare node, or a plugin `JSON_REST_V1` export), or a UUI / COGO UI
 * JSON document for the other directions; `?direction=` selects the conversion (default `figma-to-cogo`).
 * `figma-to-html` and `cogo-to-html` answer `text/html`: the COGO UI JSON rendered by the preview renderer.
 * The handler reads the body itself (any content type, capped), so the payload Schema here documents it.
 */
import { Schema } from "effect"
import { HttpApiEndpoint, HttpApiGroup } from "effect/http-api"
import { CogoDocument } from "../../domain/figma/CogoUi.ts"
import { ConversionWarning } from "../../domain/figma/ConversionWarning.ts"
import { UuiDocument } from "../../domain/figma/Uui.ts"
import { BadRequest } from "../../domain/platform/Problem.ts"
import { CONVERSION_DIRECTIONS } from "../../services/figma/convert/index.ts"

/** A request body over the endpoint's cap (problem+json 413). */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  type: Schema.String,
  title: Schema.String,
  status: Schema.Number,
  detail: Schema.String
}, { httpApiStatus: 413 }) {}

/** Directions answered with a `text/html` preview (src/services/preview/) instead of JSON. */
export const HTML_DIRECTIONS = ["figma-to-html", "cogo-to-html"] as const
export type HtmlDirection = (typeof HTML_DIRECTIONS)[number]

export const ConversionDirection = Schema.Literals(CONVERSION_DIRECTIONS)

export const FigmaCompatQuery = Schema.Struct({ direction: Schema.optional(Schema.Literals([...CONVERSION_DIRECTIONS, ...HTML_DIRECTIONS])) })

export const ConversionResponse = Schema.Struct({
  direction: ConversionDirection,
  format: Schema.Literals(["cogo", "uui"]),
  document: Schema.Union([CogoDocument, UuiDocument]),
  warnings: Schema.Array(ConversionWarning)
}).annotate({ identifier: "FigmaConversionResponse" })

export class FigmaCompatApi extends HttpApiGroup.make("figmaCompat").add(
  HttpApiEndpoint.post("convert", "/functions/v1/figma-compat", {
    query: FigmaCompatQuery,
    payload: Schema.Unknown.annotate({ description: "A Figma, UUI or COGO UI JSON document, unwrapped" }),
    success: ConversionResponse,
    error: [BadRequest, PayloadTooLarge]
  })
) {}
