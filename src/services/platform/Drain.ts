/**
 * Graceful drain on SIGTERM. When the process is asked to stop, the first finalizer to run (registered by
 * `DrainOnShutdownLive`, built after both HTTP servers) is `Drain.run`, before any server or worker closes:
 * 1. draining begins: `/health` answers 503 `draining` (a load balancer stops routing here), job workers and
 *    projection fibers stop claiming, and every SSE stream sends `retry:` and ends (clients reconnect to
 *    another replica with their Last-Event-ID);
 * 2. it waits `COGO_DRAIN_NOTICE` (1 s) so the balancer sees the 503, then until no tracked work is busy (jobs
 *    this process holds), at most `COGO_DRAIN_TIMEOUT` (20 s);
 * 3. the other finalizers then run: servers close, and any job still running is interrupted and released to
 *    the queue at once (not left to its lease).
 *
 * A `Context.Reference`: without `DrainLive` (tests of one service) nothing ever drains.
 */
import { Config, Context, Deferred, Duration, Effect, Layer, Ref, Schedule, Stream } from "effect"
import type { Scope } from "effect"

interface DrainShape {
  readonly isDraining: Effect.Effect<boolean>
  /** Completes once draining has begun (never, without `DrainLive`). */
  readonly started: Effect.Effect<void>
  /** Begins draining (idempotent). */
  readonly begin: Effect.Effect<void>
  /** Work the drain waits for: `busy` is polled until false (a failure counts as idle) or the deadline. */
  readonly track: (name: string, busy: Effect.Effect<boolean, unknown>) => Effect.Effect<void, never, Scope.Scope>
  /** The shutdown sequence (begin, notice, wait for tracked work up to the deadline). */
  readonly run: Effect.Effect<void>
}

export const Drain = Context.Reference<DrainShape>("cogo/Drain", {
  defaultValue: () => ({
    isDraining: Effect.succeed(false),
    started: Effect.never,
    begin: Effect.void,
    track: () => Effect.void,
    run: Effect.void
  })
})

export const DrainLive = Layer.effect(
  Drain,
  Effect.gen(function*() {
    const notice = yield* Config.Duration("COGO_DRAIN_NOTICE").pipe(Config.withDefault(Duration.seconds(1)))
    const deadline = yield* Config.Duration("COGO_DRAIN_TIMEOUT").pipe(Config.withDefault(Duration.seconds(20)))
    const signal = yield* Deferred.make<void>()
    const tracked = yield* Ref.make(new Map<string, Effect.Effect<boolean, unknown>>())

    const begin = Effect.asVoid(Deferred.succeed(signal, undefined))
    const track = (name: string, busy: Effect.Effect<boolean, unknown>) =>
      Effect.acquireRelease(
        Ref.update(tracked, (map) => new Map(map).set(name, busy)),
        () => Ref.update(tracked, (map) => {
          const next = new Map(map)
          next.delete(name)
          return next
        })
      )

    const busyNames = Effect.flatMap(Ref.get(tracked), (map) =>
      Effect.filter([...map.entries()], ([, busy]) => busy.pipe(Effect.orElseSucceed(() => false))).pipe(
        Effect.map((entries) => entries.map(([name]) => name))
      ))
    const waitIdle = Effect.flatMap(busyNames, (names) => names.length === 0 ? Effect.void : Effect.fail(names)).pipe(
      Effect.retry({ schedule: Schedule.spaced("100 millis") }),
      Effect.catch(() => Effect.void),
      Effect.timeoutOption(deadline),
      Effect.flatMap((idle) =>
        idle._tag === "Some"
          ? Effect.logInfo("drain: in-flight work finished")
          : Effect.flatMap(busyNames, (names) => Effect.logWarning(`drain: deadline reached with work still running (${names.join(", ")}); releasing it`)))
    )

    const run = Effect.gen(function*() {
      yield* begin
      yield* Effect.logInfo("draining: /health is 503, no new claims, SSE clients told to reconnect")
      yield* Effect.sleep(notice)
      yield* waitIdle
    })

    return { isDraining: Deferred.isDone(signal), started: Deferred.await(signal), begin, track, run }
  })
)

/** Registers `Drain.run` as a finalizer: provide it above the servers so it runs before they close. */
export const DrainOnShutdownLive = Layer.effectDiscard(Effect.flatMap(Effect.service(Drain), (drain) => Effect.addFinalizer(() => drain.run)))

/** Ends `frames` when draining begins, with `farewell` (an SSE `retry:` frame) as its last item. */
export const endOnDrain = <A, E, R>(frames: Stream.Stream<A, E, R>, farewell: A): Stream.Stream<A, E, R> =>
  Stream.unwrap(Effect.map(Effect.service(Drain), (drain) =>
    frames.pipe(
      Stream.interruptWhen(drain.started),
      Stream.concat(Stream.fromEffect(drain.isDraining).pipe(Stream.filter((draining) => draining), Stream.map(() => farewell)))
    )))
