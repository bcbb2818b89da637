/**
 * The outbox rows a projection batch works on and what it decides for each: the row as claimed, the update
 * it carries once decoded (an `Op`), and its `Outcome`. Pure: no statements here.
 */
import { Result } from "effect"
import { aggregateOf, decodeStoredUpdate, type EntityKind, type ProjectUpdate } from "../domain/cqrs/ProjectUpdate.ts"

/** The identifying columns of an outbox row as the driver returns them. */
interface OutboxRowIdentityRaw {
  readonly id: string
  readonly aggregate_type: string
  readonly aggregate_id: string
  readonly project_id: string
  readonly seq: string
  readonly update_type: string
  readonly schema_version: number
}

/** The columns of `cogo.project_updates` a batch reads (`due`: computed, no retry is pending). */
export interface ClaimedRowRaw extends OutboxRowIdentityRaw {
  readonly payload: unknown
  readonly base_version: string | null
  readonly traceparent: string | null
  readonly attempts: number
  readonly due: boolean
}

export interface ClaimedRow {
  readonly id: number
  readonly aggregateType: string
  readonly aggregateId: string
  readonly projectId: string
  readonly seq: number
  readonly updateType: string
  readonly schemaVersion: number
  readonly payload: unknown
  readonly baseVersion: number | null
  readonly traceparent: string | null
  readonly attempts: number
  readonly due: boolean
}

/** The identifying columns of an outbox row, as every reader of `cogo.project_updates` reports them. */
export const outboxRowIdentity = (row: OutboxRowIdentityRaw) => ({
  id: Number(row.id),
  aggregateType: row.aggregate_type,
  aggregateId: row.aggregate_id,
  projectId: row.project_id,
  seq: Number(row.seq),
  updateType: row.update_type,
  schemaVersion: row.schema_version
})

export const toClaimedRow = (row: ClaimedRowRaw): ClaimedRow => ({
  ...outboxRowIdentity(row),
  payload: typeof row.payload === "string" ? safeParse(row.payload) : row.payload,
  baseVersion: row.base_version === null ? null : Number(row.base_version),
  traceparent: row.traceparent,
  attempts: row.attempts,
  due: row.due
})

const safeParse = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

export type Outcome =
  | { readonly _tag: "applied" }
  | { readonly _tag: "superseded" }
  | { readonly _tag: "conflict"; readonly kind: "edited_by_user" | "deleted_by_user"; readonly publicVersion: number | null; readonly userId: string | null }
  | { readonly _tag: "retry"; readonly error: string; readonly delayMillis: number }
  | { readonly _tag: "dead"; readonly error: string }

/** A claimed row with the outcome decided for it (held rows have none). */
export type Decided = readonly [ClaimedRow, Outcome]

/** A claimed row whose update decoded: what the apply step works with. */
export interface Op {
  readonly row: ClaimedRow
  readonly update: ProjectUpdate
  readonly kind: EntityKind
  readonly key: string
}

export const aggregateKey = (type: string, id: string) => `${type}:${id}`

/** Decodes a row; a row whose payload does not match its own aggregate columns is as bad as undecodable. */
export const decodeRow = (row: ClaimedRow): Result.Result<Op, string> => {
  const decoded = decodeStoredUpdate(row)
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure.message)
  const aggregate = aggregateOf(decoded.success)
  if (aggregate.kind !== row.aggregateType || aggregate.id !== row.aggregateId || aggregate.projectId !== row.projectId) {
    return Result.fail(
      `payload is for ${aggregate.kind} ${aggregate.id} in project ${aggregate.projectId}, but the row is for ${row.aggregateType} ${row.aggregateId} in project ${row.projectId}`
    )
  }
  return Result.succeed({ row, update: decoded.success, kind: aggregate.kind, key: aggregateKey(row.aggregateType, row.aggregateId) })
}
