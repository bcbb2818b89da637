/**
 * One leader among the replicas on one Postgres, for the singleton duties (alert evaluation and webhooks,
 * expired-lease rescue, job artifact recording, retention).
 *
 * Election: a session-level advisory lock (`pg_try_advisory_lock`) held on a dedicated connection (its own
 * one-connection client, `application_name = cogo-leader:<replica>`), never a pooled one. Every
 * `COGO_LEADER_POLL` (1 s) a follower tries the lock and the leader checks, on that same session, that it
 * still holds it (`pg_locks` of its own backend): a lost connection or a pool reconnect ends the leadership at
 * the next check instead of leaving two leaders. When a leader dies its session closes and Postgres releases
 * the lock, so another replica leads within about one poll.
 *
 * Who leads is read from `pg_locks` + `pg_stat_activity` (the holder's `application_name`), so any replica's
 * /health can name the leader. On the embedded backend the single process is always the leader.
 *
 * A `Context.Reference`: code that runs without this layer (tests of one service) sees the single-process
 * default, "this process leads".
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Data, Duration, Effect, Layer, Option, Ref, Schedule } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as os from "node:os"
import { AppConfig } from "./AppConfig.ts"

interface LeaderShape {
  /** This replica's id (`COGO_REPLICA_ID`, default `<hostname>:<pid>`). */
  readonly replicaId: string
  /** Does this replica lead right now? */
  readonly isLeader: Effect.Effect<boolean>
  /** The replica that holds the leader lock (none while nobody does, or the database cannot say). */
  readonly current: Effect.Effect<Option.Option<string>>
}

/** The advisory lock's key (`pg_locks`: classid 0, objid = key, objsubid 1); advisory locks are per database. */
const leaderLockKey = 0x636f676f

const applicationPrefix = "cogo-leader:"

/** The longest replica id: `application_name` holds 63 bytes, the prefix takes 12. */
const maxReplicaIdLength = 50

/**
 * `<hostname>:<pid>`, cut from the hostname's end when too long: the pid is what tells two processes on one host
 * apart (container and pod names can be 63 characters).
 */
export const replicaIdOf = (hostname: string, pid: number): string =>
  `${hostname.slice(0, maxReplicaIdLength - String(pid).length - 1)}:${pid}`

const defaultReplicaId = replicaIdOf(os.hostname(), process.pid)

const single = (replicaId: string): LeaderShape => ({
  replicaId,
  isLeader: Effect.succeed(true),
  current: Effect.succeed(Option.some(replicaId))
})

/** Runs `duty` only while this replica leads (a follower skips it and returns `Option.none()`). */
export const whenLeader = <A, E, R>(duty: Effect.Effect<A, E, R>): Effect.Effect<Option.Option<A>, E, R> =>
  Effect.flatMap(Effect.service(Leader), (leader) =>
    Effect.flatMap(leader.isLeader, (leads) => leads ? Effect.asSome(duty) : Effect.succeedNone))

export const Leader = Context.Reference<LeaderShape>("cogo/Leader", { defaultValue: () => single(defaultReplicaId) })

class NotAcquired extends Data.TaggedError("NotAcquired") {}

/** The elected leader on a real Postgres; the single process on the embedded backend. */
export const LeaderLive = Layer.effect(
  Leader,
  Effect.gen(function*() {
    const config = yield* AppConfig
    const replicaId = (yield* Config.String("COGO_REPLICA_ID").pipe(Config.withDefault(defaultReplicaId))).slice(0, maxReplicaIdLength)
    if (Option.isNone(config.databaseUrl)) return single(replicaId)
    const poll = yield* Config.Duration("COGO_LEADER_POLL").pipe(Config.withDefault(Duration.seconds(1)))
    const sql = yield* PgClient.PgClient
    const leading = yield* Ref.make(false)
    const url = config.databaseUrl.value

    // One term: connect, wait for the lock, then hold it while the session provably still owns it.
    const term = Effect.scoped(Effect.gen(function*() {
      const session = yield* PgClient.make({ url, maxConnections: 1, applicationName: `${applicationPrefix}${replicaId}` })
      const tryLock = session<{ ok: boolean }>`SELECT pg_try_advisory_lock(${leaderLockKey}) AS ok`.pipe(
        Effect.flatMap(([row]) => row?.ok === true ? Effect.void : Effect.fail(new NotAcquired()))
      )
      yield* tryLock.pipe(Effect.retry({ while: (e) => e._tag === "NotAcquired", schedule: Schedule.spaced(poll) }))
      yield* Ref.set(leading, true)
      yield* Effect.logInfo(`replica ${replicaId} is the leader`)
      const stillHeld = session<{ held: boolean }>`
        SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
                         AND classid = 0 AND objid = ${leaderLockKey} AND objsubid = 1) AS held`.pipe(
        Effect.timeout(poll),
        Effect.flatMap(([row]) => row?.held === true ? Effect.void : Effect.fail(new NotAcquired()))
      )
      return yield* Effect.repeat(stillHeld, Schedule.spaced(poll))
    }).pipe(Effect.provide(Reactivity.layer)))

    yield* term.pipe(
      Effect.ensuring(Effect.flatMap(Ref.getAndSet(leading, false), (was) =>
        was ? Effect.logWarning(`replica ${replicaId} lost the leadership`) : Effect.void)),
      Effect.catchCause((cause) => Effect.logDebug("leader election: session ended; trying again", cause)),
      Effect.andThen(Effect.sleep(poll)),
      Effect.forever,
      Effect.forkScoped
    )

    const current = sql<{ name: string }>`
      SELECT a.application_name AS name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = ${leaderLockKey} AND l.objsubid = 1
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`.pipe(
      Effect.timeout("2 seconds"),
      Effect.map(([row]) => row === undefined ? Option.none() : Option.some(row.name.slice(applicationPrefix.length))),
      Effect.orElseSucceed(() => Option.none<string>())
    )
    return { replicaId, isLeader: Ref.get(leading), current }
  })
)
