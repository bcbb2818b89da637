/**
 * Errors every edge endpoint may answer with, as RFC 9457 problem+json bodies with a stable `type`.
 * Groups declare the ones they use; the HttpApi encodes them with their status.
 */
import { Schema } from "effect"

const problemFields = {
  type: Schema.String,
  title: Schema.String,
  status: Schema.Number,
  detail: Schema.String
}

export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", {
  ...problemFields,
  errors: Schema.optional(Schema.Array(Schema.Struct({ path: Schema.Array(Schema.Union([Schema.String, Schema.Number])), message: Schema.String })))
}, { httpApiStatus: 400 }) {}

export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", problemFields, { httpApiStatus: 401 }) {}
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", problemFields, { httpApiStatus: 403 }) {}
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", problemFields, { httpApiStatus: 404 }) {}
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", problemFields, { httpApiStatus: 409 }) {}
export class UnprocessableEntity extends Schema.TaggedError<UnprocessableEntity>()("UnprocessableEntity", problemFields, {
  httpApiStatus: 422
}) {}
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", problemFields, {
  httpApiStatus: 503
}) {}

/** Builds the problem fields with a `type` URI under the project's namespace. */
export const problem = (status: number, slug: string, title: string, detail: string) => ({
  type: `https://cogo.dev/problems/${slug}`,
  title,
  status,
  detail
})
