/**
 * The orchestrator: routes each job kind to the handler registered for it and runs the job workers of this
 * process as a scoped background service. Per kind: payload Schema, concurrency limit, timeout and retry
 * policy. Workers claim only kinds registered in this process, so a kind registered later (or only in some
 * replicas) is picked up without configuration.
 *
 * Registering a kind is one layer:
 *   export const ChatJobsLive = Orchestrator.handler({ kind: "chat.reply", payload: ChatReplyPayload,
 *     concurrency: 8, timeout: "2 minutes", run: (payload, job) => ... })
 */
import { Cause, Config, Context, Duration, Effect, Exit, type Fiber, FiberMap, Layer, Metric, Option, Queue, Schedule, Schema, Scope, Semaphore, Stream, Tracer } from "effect"
import * as os from "node:os"
import { type AgentError, describeAgentError, InvalidJobPayload, retryDecision, Timeout } from "../../domain/agents/AgentError.ts"
import { type ClaimedJob, type JobError, type JobId, JobKind } from "../../domain/jobs/Job.ts"
import { parseTraceparent } from "../../domain/platform/Traceparent.ts"
import { AttemptDeadlines } from "./attemptDeadlines.ts"
import { workerStoppedTag } from "./completeJobs.ts"
import { JobQueue } from "./JobQueue.ts"
import type { RetryPolicy } from "./RetryPolicy.ts"
import { latencyBuckets } from "../observability/Metrics.ts"
import { Notifications } from "../platform/Notifications.ts"

/** What a handler gets besides its payload. Progress and log lines become job events (never fail the job). */
export interface JobContext {
  readonly job: ClaimedJob
  readonly progress: (data: unknown) => Effect.Effect<void>
  readonly log: (message: string) => Effect.Effect<void>
}

export interface JobHandler<P, R> {
  readonly kind: string
  /** Decodes the stored JSON payload; a payload that does not decode makes the job dead (never retried). */
  readonly payload: Schema.Decoder<P>
  /** Runs one attempt. Its result must be JSON; it is stored on the job. */
  readonly run: (payload: P, context: JobContext) => Effect.Effect<unknown, AgentError, R>
  /** Jobs of this kind running at once in this process (default `JOBS_DEFAULT_CONCURRENCY`). */
  readonly concurrency?: number | undefined
  /**
   * How many jobs to hold per running slot (default `JOBS_PREFETCH`, 1): above 1, jobs are claimed (and
   * leased) ahead of a free slot, so short jobs are claimed in bigger batches. The cost: held jobs wait here
   * even when another worker is idle. Use it for many short jobs, not for long ones.
   */
  readonly prefetch?: number | undefined
  /** Per-attempt timeout (default `JOBS_DEFAULT_TIMEOUT`); a timeout is a retryable `Timeout` error. */
  readonly timeout?: Duration.Input | undefined
  /** Default: exponential from `JOBS_RETRY_BASE`, capped at `JOBS_RETRY_CAP`, `JOBS_MAX_ATTEMPTS` attempts. */
  readonly retry?: RetryPolicy | undefined
  /**
   * Whether the kind's lifecycle (enqueued, started, succeeded) is published on the bus, i.e. on the job's
   * realtime stream (default true). `false` suits many short jobs nobody watches live: a job that succeeds
   * then writes only its own row (3 bus rows fewer); failures, progress and log lines are still published;
   * the audit trail (`JobQueue.events`) is complete either way.
   */
  readonly stream?: boolean | undefined
  /**
   * Whether a job that succeeds stays in `cogo.jobs` until retention (default true). `false` suits many short
   * jobs nobody reads back: the completion deletes the job (half the database work of an update), so `get`
   * finds nothing, `awaitTerminal` answers `JobGone`, its idempotency key is free again and its audit trail is
   * gone (progress and log lines stay until `COGO_RETAIN_JOB_EVENTS`). Failed, dead and cancelled jobs are kept.
   */
  readonly keepSucceeded?: boolean | undefined
}

export class Orchestrator extends Context.Service<Orchestrator, {
  /** Registers a kind for the lifetime of the current scope (its workers stop when the scope closes). */
  readonly register: <P, R>(handler: JobHandler<P, R>) => Effect.Effect<void, never, R | Scope.Scope>
  /** Kinds registered in this process. */
  readonly kinds: Effect.Effect<ReadonlyArray<string>>
  /** This process's worker id (stored as `locked_by` on the jobs it holds). */
  readonly workerId: string
}>()("cogo/Orchestrator") {
  /** The registry plus this process's workers (claim loop, completion writer, heartbeats, lease rescue). */
  static readonly layer = Layer.effect(Orchestrator, Effect.suspend(() => makeOrchestrator))

  /** A layer that registers one job kind: the one-liner other areas use to plug their kinds in. */
  static readonly handler = <P, R>(handler: JobHandler<P, R>): Layer.Layer<never, never, Orchestrator | Exclude<R, Scope.Scope>> =>
    Layer.effectDiscard(Effect.flatMap(Effect.service(Orchestrator), (orchestrator) => orchestrator.register(handler))) as Layer.Layer<
      never,
      never,
      Orchestrator | Exclude<R, Scope.Scope>
    >
}

/**
 * A kind's metrics, labelled when it registers: the labels go into each metric's definition rather than through
 * `Metric.withAttributes`, whose every update adds them to the fiber's context again. The series are the same.
 * The per-job ones are updated in place (`updateUnsafe`), not as effects: with the shared timeout timer below,
 * that took the orchestrator bench from ~10.2 to ~8.5 µs of CPU per no-op job.
 */
const kindMetrics = (kind: string) => {
  const duration = (outcome: "succeeded" | "failed" | "interrupted") =>
    Metric.histogram("cogo_job_duration_seconds", {
      description: "Duration of one job attempt, by kind and outcome (succeeded, failed, interrupted)",
      boundaries: latencyBuckets,
      attributes: { kind, outcome }
    })
  return {
    held: Metric.gauge("cogo_jobs_held", {
      description: "Jobs this process holds under a lease (running, or claimed ahead and waiting for a slot), by kind",
      attributes: { kind }
    }),
    startLatency: Metric.histogram("cogo_job_start_latency_seconds", {
      description: "Time from enqueue to the first attempt's start, by kind",
      boundaries: latencyBuckets,
      attributes: { kind }
    }),
    succeeded: duration("succeeded"),
    failed: duration("failed"),
    interrupted: duration("interrupted")
  }
}

interface Registered {
  readonly kind: string
  readonly concurrency: number
  /**
   * The running attempts' timeouts, by claim (one object per attempt: a job re-claimed here while its previous
   * attempt is still ending has two); undefined above what a timer can wait (2^31 - 1 ms, ~24.8 days): no timeout.
   */
  readonly deadlines: AttemptDeadlines<ClaimedJob, Fiber.Fiber<unknown, unknown>> | undefined
  readonly timeoutError: () => Timeout
  /**
   * One attempt: the handler, wrapped by `around` (its span), in the context the kind was registered in
   * (its handler's services).
   */
  readonly run: (job: ClaimedJob, context: JobContext, around: AroundAttempt) => Effect.Effect<unknown, AgentError>
  /** Running slots. */
  readonly permits: Semaphore.Semaphore
  /** concurrency x prefetch: how many jobs this process holds at most. */
  readonly capacity: number
  /** A busy kind claims again once this much room is free (half its capacity). */
  readonly claimAt: number
  /** The span of an attempt. */
  readonly spanName: string
  held: number
  /** This kind's metrics, labelled once. */
  readonly metrics: ReturnType<typeof kindMetrics>
}

type AroundAttempt = <A, E, R>(attempt: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

interface Completion {
  readonly job: ClaimedJob
  readonly result: unknown
}

const isJobKind = Schema.is(JobKind)
const noStackTrace = { captureStackTrace: false } as const
/** The longest a Node timer waits (a longer one fires at once). */
const maxTimerMs = 2 ** 31 - 1
/** The interruptor an attempt's timeout names (no fiber has a negative id). */
const timeoutInterruptor = -1
/**
 * Interrupted by its timeout and nothing else: a job that its lease loss or a stopping process interrupted too
 * is released (`WorkerStopped`), not failed.
 */
const timedOutOnly = (cause: Cause.Cause<unknown>) => {
  const interruptors = Cause.interruptors(cause)
  return interruptors.size === 1 && interruptors.has(timeoutInterruptor)
}

const defectError = (cause: Cause.Cause<unknown>): JobError => ({
  tag: "Defect",
  message: Cause.pretty(cause).slice(0, 2000),
  retryable: true
})

const makeOrchestrator = Effect.gen(function*() {
  const queue = yield* JobQueue
  const notifications = yield* Notifications
  const workerId = yield* Config.String("JOBS_WORKER_ID").pipe(
    Config.withDefault(`${os.hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`)
  )
  const enabled = yield* Config.Boolean("JOBS_WORKER_ENABLED").pipe(Config.withDefault(true))
  const pollEvery = yield* Config.Duration("JOBS_POLL_INTERVAL").pipe(Config.withDefault(Duration.seconds(2)))
  const lease = yield* Config.Duration("JOBS_LEASE").pipe(Config.withDefault(Duration.seconds(30)))
  const claimBatch = yield* Config.Int("JOBS_CLAIM_BATCH").pipe(Config.withDefault(50))
  const defaultConcurrency = yield* Config.Int("JOBS_DEFAULT_CONCURRENCY").pipe(Config.withDefault(4))
  const defaultPrefetch = yield* Config.Int("JOBS_PREFETCH").pipe(Config.withDefault(1))
  const defaultTimeout = yield* Config.Duration("JOBS_DEFAULT_TIMEOUT").pipe(Config.withDefault(Duration.minutes(5)))
  const rescueEvery = yield* Config.Duration("JOBS_RESCUE_INTERVAL").pipe(Config.withDefault(Duration.seconds(15)))
  const leaseMs = Duration.toMillis(lease)

  const scope = yield* Effect.scope
  // The registry the per-job metrics are updated in (`updateUnsafe`): the one of the layer's context.
  const metricsContext = yield* Effect.context<never>()
  const registry = new Map<string, Registered>()
  const held = new Map<JobId, ClaimedJob>()
  /** Finished attempts whose completion is not committed yet. */
  const completing = new Set<ClaimedJob>()
  // By claim, not by id: a job that lost its lease can be claimed here again while its old attempt is still ending,
  // and that attempt's end must not stop the heartbeats of the new one.
  const unhold = (job: ClaimedJob) => {
    if (held.get(job.id) === job) held.delete(job.id)
  }
  const fibers = yield* FiberMap.make<JobId, void>()
  // Coalescing wake-up signal: capacity freed, a kind registered, a retry became due.
  const kicks = yield* Queue.sliding<void>(1)
  const kick = Effect.asVoid(Queue.offer(kicks, undefined))
  const completions = yield* Queue.unbounded<Completion>()

  const setHeld = (entry: Registered) => Metric.update(entry.metrics.held, entry.held)

  const logQueueError = (what: string) => (cause: Cause.Cause<unknown>) => Effect.logWarning(`job queue: ${what} failed`, cause)

  /** Records an attempt's failure and, when it will retry soon, wakes this worker when it is due. */
  const recordFailure = (job: ClaimedJob, error: JobError, notBefore: Duration.Duration) =>
    queue.fail(workerId, job, error, notBefore).pipe(
      Effect.tap((outcome) =>
        outcome._tag === "Retrying"
          ? Effect.forkIn(Effect.andThen(Effect.sleep(Duration.millis(Math.max(0, outcome.runAt.getTime() - Date.now()))), kick), scope)
          : Effect.void
      ),
      Effect.catchCause(logQueueError("recording a failure"))
    )

  /** One attempt, in a span that continues the trace stored on the job. */
  const attempt = (entry: Registered, job: ClaimedJob) => {
    const context: JobContext = {
      job,
      progress: (data) => queue.progress(job, data).pipe(Effect.catchCause(logQueueError("progress"))),
      log: (message) => queue.log(job, message).pipe(Effect.catchCause(logQueueError("log")))
    }
    const attributes = { "job.id": job.id, "job.kind": job.kind, "job.attempt": job.attempt }
    const parent = storedParent(job.traceparent)
    return entry.run(job, context, (run) =>
      run.pipe(
        // No stack trace per span: capturing one cost a tenth of a no-op job's time in the drain profile.
        // A job without a stored trace starts its own: never a child of a span the registration ran in.
        Effect.withSpan(entry.spanName, parent === undefined ? { attributes, root: true } : { attributes, parent }, noStackTrace)
      ))
  }

  // The jobs of one enqueue batch share their stored trace: it is parsed once, not once per job.
  let lastTraceparent: string | null = null
  let lastParent: Tracer.ExternalSpan | undefined
  const storedParent = (traceparent: string | null) => {
    if (traceparent !== lastTraceparent) {
      lastTraceparent = traceparent
      lastParent = Option.getOrUndefined(Option.map(parseTraceparent(traceparent), Tracer.externalSpan))
    }
    return lastParent
  }

  /** An attempt failed (an error or a defect): the queue retries it or buries it. */
  const attemptFailed = (entry: Registered, job: ClaimedJob, cause: Cause.Cause<AgentError>, started: number) =>
    Effect.andThen(Metric.update(entry.metrics.failed, (Date.now() - started) / 1000), () => {
      const error = Cause.findErrorOption(cause)
      if (Option.isNone(error)) return recordFailure(job, defectError(cause), Duration.zero)
      const decision = retryDecision(error.value)
      return recordFailure(job, describeAgentError(error.value), decision._tag === "Retry" ? decision.notBefore : Duration.zero)
    })

  /**
   * Recorded by the completion writer in batches; the slot is free now, the job stays held (and heartbeated)
   * until its completion is committed.
   */
  const succeeded = (entry: Registered, job: ClaimedJob, result: unknown, started: number) => {
    completing.add(job)
    Queue.offerUnsafe(completions, { job, result })
    entry.metrics.succeeded.updateUnsafe((Date.now() - started) / 1000, metricsContext)
  }

  /** Gives the job's slot back once its outcome is recorded (or recording it died). */
  const freeSlot = (entry: Registered, job: ClaimedJob) => {
    if (!completing.has(job)) unhold(job)
    entry.held--
    // Wake the claim loop only when it may claim again (see `fill`): once per half of the room, not per job.
    return entry.held === 0 || entry.capacity - entry.held === entry.claimAt ? kick : Effect.void
  }

  /**
   * Lease lost, job cancelled, or this process stopping: fenced by (worker, attempt), so a job someone else now
   * holds is left alone; otherwise it goes back to the queue at once.
   */
  const released = (entry: Registered, job: ClaimedJob) =>
    Metric.update(entry.metrics.interrupted, 0).pipe(
      Effect.andThen(queue.fail(workerId, job, { tag: workerStoppedTag, message: `worker ${workerId} stopped`, retryable: true })),
      Effect.catchCause(logQueueError("releasing an interrupted job"))
    )

  // The per-job path is plain combinators, not a generator: it runs for every job (~8.5 µs of CPU for a no-op job).
  const runJob = (entry: Registered, job: ClaimedJob) => {
    const started = Date.now()
    // The kind's timeout interrupts this job's fiber in the name of `timeoutInterruptor` (then recorded as a
    // `Timeout` failure below), not `Effect.timeout`, which races the attempt against a sleep in two more fibers
    // per job. The clock starts once the job has a running slot.
    const deadlines = entry.deadlines
    const timed = deadlines === undefined ? attempt(entry, job) : Effect.withFiber((fiber) => {
      deadlines.start(job, fiber)
      return attempt(entry, job)
    })
    // One finalizer for every outcome (one wrapper instead of three per job): it runs uninterruptibly, so a
    // failure or a release is recorded even when the process starts stopping meanwhile.
    return Semaphore.withPermit(entry.permits)(timed).pipe(
      Effect.onExit((exit) => {
        deadlines?.end(job)
        if (Exit.isSuccess(exit)) {
          // Synchronous, so nothing can fail between recording the success and giving the slot back.
          succeeded(entry, job, exit.value, started)
          return freeSlot(entry, job)
        }
        const outcome = timedOutOnly(exit.cause)
          ? attemptFailed(entry, job, Cause.fail(entry.timeoutError()), started)
          : Cause.hasInterrupts(exit.cause)
          ? released(entry, job)
          : attemptFailed(entry, job, exit.cause, started)
        // Even if recording the outcome died: a slot never given back would stall the kind.
        return Effect.ensuring(outcome, Effect.suspend(() => freeSlot(entry, job)))
      })
    )
  }

  /**
   * Claims as many jobs as there is room for, kind by kind, until the queue runs dry. A busy kind waits
   * until half its room is free, so a stream of finishing jobs turns into a few batch claims instead of
   * one claim per finished job; an idle kind claims at once, so a lone job starts without delay.
   */
  const fill = Effect.gen(function*() {
    let more = true
    while (more) {
      more = false
      for (const entry of registry.values()) {
        const free = entry.capacity - entry.held
        if (free <= 0 || (entry.held > 0 && free < entry.claimAt)) continue
        const limit = Math.min(free, claimBatch)
        const claimed = yield* queue.claim({ workerId, kinds: [entry.kind], limit, leaseMs })
        if (claimed.length === limit) more = true
        entry.held += claimed.length
        yield* setHeld(entry)
        for (const job of claimed) {
          held.set(job.id, job)
          if (job.attempt === 1) {
            entry.metrics.startLatency.updateUnsafe((job.startedAt.getTime() - job.createdAt.getTime()) / 1000, metricsContext)
          }
          yield* FiberMap.run(fibers, job.id)(runJob(entry, job))
        }
      }
    }
  })

  /** Records finished jobs in one statement per batch (a job whose record fails runs again after its lease). */
  const recordCompletions = (batch: ReadonlyArray<Completion>) =>
    queue.completeMany(workerId, batch).pipe(
      Effect.catchCause(logQueueError("recording completions")),
      Effect.ensuring(Effect.sync(() => {
        for (const { job } of batch) {
          completing.delete(job)
          unhold(job)
        }
      }))
    )
  const completionWriter = Effect.forever(Effect.flatMap(Queue.takeAll(completions), recordCompletions))
  // On shutdown, after the writer stops: record what finished instead of leaving it to lease expiry.
  const flushCompletions = Effect.flatMap(Queue.clear(completions), (pending) => pending.length === 0 ? Effect.void : recordCompletions(pending))

  const heartbeats = Effect.gen(function*() {
    const ids = Array.from(held.keys())
    const still = new Set(yield* queue.heartbeat(workerId, ids, leaseMs))
    // Jobs no longer ours (cancelled, or rescued after a stall): stop working on them.
    yield* Effect.forEach(ids.filter((id) => !still.has(id)), (id) => FiberMap.remove(fibers, id), { discard: true })
  }).pipe(
    Effect.catchCause(logQueueError("heartbeat")),
    Effect.repeat(Schedule.spaced(Duration.millis(Math.max(50, leaseMs / 3))))
  )

  const rescuer = queue.rescueExpired.pipe(
    Effect.tap((n) => n > 0 ? Effect.logInfo(`rescued ${n} job(s) whose worker stopped renewing its lease`) : Effect.void),
    Effect.catchCause(logQueueError("rescue")),
    Effect.repeat(Schedule.spaced(rescueEvery))
  )

  if (enabled) {
    yield* Effect.addFinalizer(() => flushCompletions)
    yield* Stream.merge(notifications.wakeups("jobs", pollEvery), Stream.fromQueue(kicks)).pipe(
      Stream.runForEach(() => fill.pipe(Effect.catchCause(logQueueError("claim")))),
      Effect.forkScoped
    )
    yield* Effect.forkScoped(completionWriter)
    yield* Effect.forkScoped(heartbeats)
    yield* Effect.forkScoped(rescuer)
    yield* Effect.logInfo(`job workers started as ${workerId}`)
  }

  const register = <P, R>(handler: JobHandler<P, R>) =>
    Effect.gen(function*() {
      // A kind name is code, not input: a malformed one is a bug.
      if (!isJobKind(handler.kind)) return yield* Effect.die(new Error(`invalid job kind name: ${handler.kind}`))
      const services = yield* Effect.context<R>()
      const decode = Schema.decodeUnknownEffect(handler.payload)
      const concurrency = Math.max(1, handler.concurrency ?? defaultConcurrency)
      const capacity = concurrency * Math.max(1, handler.prefetch ?? defaultPrefetch)
      const timeoutMs = Duration.toMillis(Duration.fromInputUnsafe(handler.timeout ?? defaultTimeout))
      const entry: Registered = {
        kind: handler.kind,
        concurrency,
        capacity,
        claimAt: Math.ceil(capacity / 2),
        spanName: `job ${handler.kind}`,
        deadlines: timeoutMs <= maxTimerMs ? new AttemptDeadlines(timeoutMs, (fiber) => fiber.interruptUnsafe(timeoutInterruptor)) : undefined,
        timeoutError: () => new Timeout({ operation: `job ${handler.kind}`, afterMs: timeoutMs }),
        permits: yield* Semaphore.make(concurrency),
        held: 0,
        metrics: kindMetrics(handler.kind),
        run: (job, context, around) =>
          around(decode(job.payload).pipe(
            Effect.mapError((error) => new InvalidJobPayload({ kind: handler.kind, message: error.message })),
            Effect.flatMap((payload) => handler.run(payload, context))
          )).pipe(
            // Swapped in whole, around the span: `provideContext` merged it into the worker's context on every
            // job, copying every service of both (and a fresh context meant a fresh fiber cache).
            Effect.updateContext((_: Context.Context<never>) => services)
          )
      }
      yield* queue.configureKind(handler.kind, {
        ...(handler.retry === undefined ? {} : { retry: handler.retry }),
        ...(handler.stream === undefined ? {} : { stream: handler.stream }),
        ...(handler.keepSucceeded === undefined ? {} : { keepSucceeded: handler.keepSucceeded })
      })
      registry.set(handler.kind, entry)
      yield* Effect.addFinalizer(() => Effect.sync(() => registry.delete(handler.kind)))
      yield* kick
    })

  return Orchestrator.of({
    register,
    kinds: Effect.sync(() => Array.from(registry.keys())),
    workerId
  })
})
