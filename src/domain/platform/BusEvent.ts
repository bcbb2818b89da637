/** Bus events: every state change worth watching, stored in `cogo.bus_events` and replayable by id. */
import { Schema } from "effect"

export const BusTopic = Schema.Literals(["job", "project", "alert", "trace", "breaker", "system"])
export type BusTopic = typeof BusTopic.Type

export const BusEvent = Schema.Struct({
  id: Schema.Number,
  topic: BusTopic,
  kind: Schema.String,
  projectId: Schema.NullOr(Schema.String),
  jobId: Schema.NullOr(Schema.String),
  payload: Schema.Unknown,
  traceparent: Schema.NullOr(Schema.String),
  createdAt: Schema.String
})
export type BusEvent = typeof BusEvent.Type

export interface NewBusEvent {
  readonly topic: BusTopic
  readonly kind: string
  readonly projectId?: string | undefined
  readonly jobId?: string | undefined
  readonly payload?: unknown
  readonly traceparent?: string | undefined
}
