import { Schema } from "effect"

/**
 * A feature that a converter approximated or could not carry over. Every lossy step emits one, so that
 * nothing is lost silently: `nodeId` says where, `feature` what (a stable kebab-case key, e.g.
 * `gradient-diamond`), `action` what was done instead (human readable).
 */
export const ConversionWarning = Schema.Struct({
  nodeId: Schema.String,
  feature: Schema.String,
  action: Schema.String
}).annotate({ identifier: "ConversionWarning" })
export type ConversionWarning = typeof ConversionWarning.Type

/** One issue of a failed decode: `path` is the JSON path of the offending value (`[]` = the whole body). */
export const DecodeIssue = Schema.Struct({
  path: Schema.Array(Schema.Union([Schema.String, Schema.Number])),
  message: Schema.String
})
export type DecodeIssue = typeof DecodeIssue.Type

/** The input is not any supported shape, or a field has the wrong type. Maps to a 400 problem+json. */
export class FigmaDecodeError extends Schema.TaggedError<FigmaDecodeError>()("FigmaDecodeError", {
  format: Schema.Literals(["figma", "uui", "cogo"]),
  message: Schema.String,
  issues: Schema.Array(DecodeIssue)
}) {}
