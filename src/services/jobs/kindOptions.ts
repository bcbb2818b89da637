/** Per-kind settings of the job queue in this process (set by `Orchestrator.register`), with the defaults. */
import type { RetryPolicy } from "./RetryPolicy.ts"

export interface KindOptions {
  readonly retry: RetryPolicy
  /** Lifecycle changes (enqueued, started, succeeded) are bus events: the job's realtime stream (default true). */
  readonly stream: boolean
  /**
   * A succeeded job stays in `cogo.jobs` until retention (default true). `false`: its completion deletes it
   * (as graphile-worker does); failures, dead and cancelled jobs are kept either way.
   */
  readonly keepSucceeded: boolean
}

export interface KindRegistry {
  readonly get: (kind: string) => KindOptions
  readonly set: (kind: string, options: Partial<KindOptions>) => void
}

/**
 * Kinds not configured here get `defaults`: a process that only enqueues a kind it does not run streams it
 * (its `enqueued` bus event is written), which costs a row, never a lost event.
 */
export const makeKindRegistry = (defaults: KindOptions): KindRegistry => {
  const kinds = new Map<string, KindOptions>()
  return {
    get: (kind) => kinds.get(kind) ?? defaults,
    set: (kind, options) => {
      kinds.set(kind, { ...(kinds.get(kind) ?? defaults), ...options })
    }
  }
}
