/**
 * Per-user rate limit of the chat gateway: a token bucket per caller (`COGO_CHAT_RATE_BURST` requests at once,
 * refilled at `COGO_CHAT_RATE_PER_MINUTE`). Kept in memory: each replica limits on its own, so N replicas
 * allow up to N times the rate (documented; a shared limit would need a database round trip per request).
 * Not effect/persistence RateLimiter: its memory store never forgets a key's bucket (memory grows with every
 * caller ever seen, where this one drops full buckets) and it reads the Clock, not an injectable `now`.
 */
import { Config, Context, Effect, Layer, Metric, Schedule } from "effect"

export type RateDecision =
  | { readonly _tag: "Allowed"; readonly remaining: number }
  | { readonly _tag: "Limited"; readonly retryAfterSeconds: number }

const limited = Metric.counter("chat_rate_limited_total", { description: "Chat requests refused with 429", incremental: true })

interface Bucket {
  tokens: number
  updatedAt: number
}

export class RateLimiter extends Context.Service<RateLimiter, {
  /** Takes one token from `key`'s bucket. */
  readonly take: (key: string) => Effect.Effect<RateDecision>
}>()("cogo/RateLimiter") {
  static readonly make = (options: { readonly burst: number; readonly perMinute: number; readonly now?: () => number }) =>
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
          if (bucket.tokens >= 1) {
            bucket.tokens -= 1
            return Effect.succeed<RateDecision>({ _tag: "Allowed", remaining: Math.floor(bucket.tokens) })
          }
          const retryAfterSeconds = Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000))
          return Effect.as(Metric.update(limited, 1), { _tag: "Limited", retryAfterSeconds } as const)
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

  static readonly layer = Layer.effect(
    RateLimiter,
    Effect.gen(function*() {
      const burst = yield* Config.Int("COGO_CHAT_RATE_BURST").pipe(Config.withDefault(10))
      const perMinute = yield* Config.Int("COGO_CHAT_RATE_PER_MINUTE").pipe(Config.withDefault(30))
      return yield* RateLimiter.make({ burst, perMinute })
    })
  )
}
