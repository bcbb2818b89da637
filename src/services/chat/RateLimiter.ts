/**
 * Per-user rate limits of the chat endpoints: a token bucket per caller (`burst` requests at once, refilled at
 * `perMinute`).
 * - `makeShared` (what the service runs): the bucket lives in Postgres (`cogo.rate_buckets`, migration 0016)
 *   and is taken with one call of `cogo.take_rate_token` (an upsert that locks the bucket's row), so the limit holds across
 *   every replica on the database (one round trip per request). While the database cannot be reached the
 *   replica falls back to its own in-memory bucket (the limit is then per replica, never absent); retention
 *   prunes buckets idle for long enough to be full again.
 * - `make`: the same bucket in memory, one per process (tests, and the fallback above). Full buckets are
 *   dropped every minute, so memory follows active callers only.
 * Not effect/persistence RateLimiter: its memory store never forgets a key's bucket and it reads the Clock,
 * not an injectable `now`.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Effect, Layer, Metric, Schedule } from "effect"

export type RateDecision =
  | { readonly _tag: "Allowed"; readonly remaining: number }
  | { readonly _tag: "Limited"; readonly retryAfterSeconds: number }

const limited = Metric.counter("chat_rate_limited_total", { description: "Chat requests refused with 429", incremental: true })
const fallbacks = Metric.counter("chat_rate_limit_fallbacks_total", {
  description: "Rate-limit decisions taken in memory because the shared bucket could not be read",
  incremental: true
})

interface RateLimitOptions {
  readonly burst: number
  readonly perMinute: number
  readonly now?: () => number
}

interface Bucket {
  tokens: number
  updatedAt: number
}

const decide = (tokensLeft: number, allowed: boolean, perMinute: number): Effect.Effect<RateDecision> => {
  if (allowed) return Effect.succeed({ _tag: "Allowed", remaining: Math.floor(tokensLeft) })
  const retryAfterSeconds = Math.max(1, Math.ceil((1 - tokensLeft) * 60 / perMinute))
  return Effect.as(Metric.update(limited, 1), { _tag: "Limited", retryAfterSeconds } as const)
}

export class RateLimiter extends Context.Service<RateLimiter, {
  /** Takes one token from `key`'s bucket. */
  readonly take: (key: string) => Effect.Effect<RateDecision>
}>()("cogo/RateLimiter") {
  /** An in-memory bucket per key, for this process only. */
  static readonly make = (options: RateLimitOptions) =>
    Effect.gen(function*() {
      const now = options.now ?? Date.now
      const buckets = new Map<string, Bucket>()
      const perMs = options.perMinute / 60_000

      const refill = (bucket: Bucket, at: number) => {
        bucket.tokens = Math.min(options.burst, bucket.tokens + (at - bucket.updatedAt) * perMs)
        bucket.updatedAt = at
      }

      const take = (key: string) =>
        Effect.suspend(() => {
          const at = now()
          const bucket = buckets.get(key) ?? { tokens: options.burst, updatedAt: at }
          buckets.set(key, bucket)
          refill(bucket, at)
          const allowed = bucket.tokens >= 1
          if (allowed) bucket.tokens -= 1
          return decide(bucket.tokens, allowed, options.perMinute)
        })

      // Full buckets carry no information: drop them so memory follows active users only.
      yield* Effect.sync(() => {
        const at = now()
        for (const [key, bucket] of buckets) {
          refill(bucket, at)
          if (bucket.tokens >= options.burst) buckets.delete(key)
        }
      }).pipe(Effect.repeat(Schedule.spaced("1 minute")), Effect.forkScoped)

      return RateLimiter.of({ take })
    })

  /**
   * A bucket per `name:key` in Postgres, shared by every replica; `name` separates limits that count the
   * same callers (the gateway's and the direct chat endpoint's).
   */
  static readonly makeShared = (options: RateLimitOptions & { readonly name: string }) =>
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const local = yield* RateLimiter.make(options)
      const perSecond = options.perMinute / 60
      const take = (key: string) =>
        sql<{ tokens: number; allowed: boolean }>`
          SELECT tokens, allowed FROM cogo.take_rate_token(${`${options.name}:${key}`}, ${options.burst}, ${perSecond})`.pipe(
          Effect.flatMap(([row]) => row === undefined ? local.take(key) : decide(Number(row.tokens), row.allowed, options.perMinute)),
          Effect.catchCause((cause) =>
            Effect.logWarning("shared rate limit unavailable; limiting in this replica", cause).pipe(
              Effect.andThen(Metric.update(fallbacks, 1)),
              Effect.andThen(local.take(key))
            )
          )
        )
      return RateLimiter.of({ take })
    })

  /** The chat gateway's limit (`COGO_CHAT_RATE_BURST`, `COGO_CHAT_RATE_PER_MINUTE`), shared across replicas. */
  static readonly layer = Layer.effect(
    RateLimiter,
    Effect.gen(function*() {
      const burst = yield* Config.Int("COGO_CHAT_RATE_BURST").pipe(Config.withDefault(10))
      const perMinute = yield* Config.Int("COGO_CHAT_RATE_PER_MINUTE").pipe(Config.withDefault(30))
      return yield* RateLimiter.makeShared({ name: "gateway", burst, perMinute })
    })
  )
}
