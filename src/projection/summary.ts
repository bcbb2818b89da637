/** What one batch did, as the worker (pacing), the metrics and the bench read it. */
import type { Decided, Outcome } from "./rows.ts"

export interface BatchSummary {
  /** Updates claimed by the batch (0: nothing to do). */
  readonly claimed: number
  readonly applied: number
  readonly superseded: number
  readonly conflicts: number
  readonly retried: number
  readonly dead: number
  /** Claimed but left pending (waiting for an earlier update of their aggregate). */
  readonly held: number
  readonly mode: "set" | "isolated" | "idle"
  /** The batch took as many projects or updates as it may: more work is probably due right now. */
  readonly saturated: boolean
}

/** Progress = the batch changed the state of at least one update (held-only batches are not progress). */
export const madeProgress = (summary: BatchSummary) => summary.claimed - summary.held > 0

export const emptySummary: BatchSummary = { claimed: 0, applied: 0, superseded: 0, conflicts: 0, retried: 0, dead: 0, held: 0, mode: "idle", saturated: false }

export const summarize = (claimed: number, decided: ReadonlyArray<Decided>, mode: BatchSummary["mode"], saturated: boolean): BatchSummary => {
  const count = (tag: Outcome["_tag"]) => decided.filter(([, outcome]) => outcome._tag === tag).length
  return {
    claimed,
    applied: count("applied"),
    superseded: count("superseded"),
    conflicts: count("conflict"),
    retried: count("retry"),
    dead: count("dead"),
    held: claimed - decided.length,
    mode,
    saturated
  }
}
