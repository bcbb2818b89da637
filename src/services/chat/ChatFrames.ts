/**
 * The shared log of chat runs (`cogo.chat_runs` + `cogo.chat_frames`), so any replica can serve a run's
 * stream (issue 15).
 *
 * The owner replica (ChatSessions) appends a run's new frames once per tick in ONE statement, which also
 * upserts the run row, beats its heartbeat, reads back a pending abort request and, when frames were added,
 * NOTIFYs `chat:<runId>`. A reader on any other replica (`follow`) reads the frames after its Last-Event-ID,
 * then wakes on that notification (or a poll tick, should one be lost) for the next ones, until `[DONE]`.
 * A run whose heartbeat is older than `COGO_CHAT_STALE_AFTER` (its owner died) is finished by the reader
 * that notices: an `error` frame and `[DONE]`, appended at most once (a conditional update).
 * Aborting from another replica sets `abort_requested` and NOTIFYs `chat:abort:<runId>`; the owner hears
 * the notification, or reads the flag back at its next heartbeat.
 */
import { PgClient } from "@effect/sql-pg"
import { Config, Context, Duration, Effect, Layer, Option, Schedule, Stream } from "effect"
import type { SqlError } from "effect/sql/SqlError"
import { Notifications } from "../platform/Notifications.ts"

/** A run as stored: who may read it, and whether it still runs. */
interface StoredRun {
  readonly id: string
  readonly chatId: string
  readonly ownerScope: string
  readonly createdAt: number
}

/** One tick's append of a run's frames (`datas` are the SSE `data:` texts from id `firstSeq` on). */
interface FrameBatch {
  readonly run: StoredRun
  readonly owner: string
  readonly firstSeq: number
  readonly datas: ReadonlyArray<string>
  readonly finished: boolean
}

/** What the owner learns from an append. */
type AppendResult =
  | { readonly _tag: "Appended"; readonly abortRequested: boolean }
  /** The run was finished elsewhere (a reader took it over as stale): the owner must stop. */
  | { readonly _tag: "Gone" }

/** The SSE text of one frame. */
export const frameText = (id: number, data: string) => `id: ${id}\ndata: ${data}\n\n`

const abortPrefix = "abort:"

const staleErrorText = "the replica generating this reply stopped; the reply is incomplete (send the message again)"

interface RunRow {
  readonly id: string
  readonly chat_id: string
  readonly owner_scope: string
  readonly created_at: Date
}

const toRun = (row: RunRow): StoredRun =>
  ({ id: row.id, chatId: row.chat_id, ownerScope: row.owner_scope, createdAt: row.created_at.getTime() })

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export class ChatFrames extends Context.Service<ChatFrames, {
  /** Appends a tick's frames (possibly none: a heartbeat) in one statement. */
  readonly append: (batch: FrameBatch) => Effect.Effect<AppendResult, SqlError>
  /** A run by its id, or the latest run of `scope`'s chat `id`. */
  readonly find: (scope: string, id: string) => Effect.Effect<Option.Option<StoredRun>, SqlError>
  /** The stored frames after `afterId`, then live ones, until `[DONE]` (finishing a stale run). */
  readonly follow: (runId: string, afterId: number) => Stream.Stream<string>
  /** Asks the owner of a live run to stop it; false when the run is not live. */
  readonly requestAbort: (runId: string) => Effect.Effect<boolean, SqlError>
  /** Notifications of aborts requested on other replicas (run ids). */
  readonly abortRequests: Stream.Stream<string>
  /** How often the owner beats a live run's heartbeat. */
  readonly heartbeat: Duration.Duration
}>()("cogo/ChatFrames") {
  static readonly layer = Layer.effect(
    ChatFrames,
    Effect.gen(function*() {
      const sql = yield* PgClient.PgClient
      const notifications = yield* Notifications
      const heartbeat = yield* Config.Duration("COGO_CHAT_HEARTBEAT").pipe(Config.withDefault(Duration.seconds(1)))
      const staleAfter = yield* Config.Duration("COGO_CHAT_STALE_AFTER").pipe(Config.withDefault(Duration.seconds(4)))
      const pollEvery = yield* Config.Duration("COGO_CHAT_POLL").pipe(Config.withDefault(Duration.seconds(1)))
      const staleSeconds = Duration.toMillis(staleAfter) / 1000
      const readLimit = 1000

      const append = Effect.fn("ChatFrames.append")(function*(batch: FrameBatch) {
        const count = batch.datas.length
        const frameCount = batch.firstSeq + count
        const frames = count === 0 ? sql`` : sql`
          , frames AS (
            INSERT INTO cogo.chat_frames (run_id, seq, data)
            SELECT ${batch.run.id}::uuid, ${batch.firstSeq} + f.n - 1, f.data
            FROM jsonb_array_elements_text(${JSON.stringify(batch.datas)}::jsonb) WITH ORDINALITY AS f(data, n)
            ON CONFLICT DO NOTHING)`
        const notify = count === 0 ? sql`` : sql`, LATERAL (SELECT pg_notify('cogo', ${`chat:${batch.run.id}`})) AS n`
        const rows = yield* sql<{ abort_requested: boolean }>`
          WITH run AS (
            INSERT INTO cogo.chat_runs AS r (id, chat_id, owner_scope, owner, created_at, frame_count, finished_at)
            VALUES (${batch.run.id}::uuid, ${batch.run.chatId}, ${batch.run.ownerScope}, ${batch.owner},
                    ${new Date(batch.run.createdAt)}, ${frameCount}, ${batch.finished ? sql`now()` : sql`NULL`})
            ON CONFLICT (id) DO UPDATE SET frame_count = excluded.frame_count, heartbeat_at = now(), finished_at = excluded.finished_at
            WHERE r.finished_at IS NULL
            RETURNING r.abort_requested)
          ${frames}
          SELECT run.abort_requested FROM run ${notify}`
        const row = rows[0]
        return row === undefined ? { _tag: "Gone" as const } : { _tag: "Appended" as const, abortRequested: row.abort_requested }
      })

      const find = Effect.fn("ChatFrames.find")(function*(scope: string, id: string) {
        const byId = uuidPattern.test(id)
          ? yield* sql<RunRow>`SELECT id, chat_id, owner_scope, created_at FROM cogo.chat_runs WHERE id = ${id}::uuid`
          : []
        const rows = byId.length > 0 ? byId : yield* sql<RunRow>`
          SELECT id, chat_id, owner_scope, created_at FROM cogo.chat_runs
          WHERE owner_scope = ${scope} AND chat_id = ${id} ORDER BY created_at DESC LIMIT 1`
        return Option.map(Option.fromNullishOr(rows[0]), toRun)
      })

      /**
       * Ends a run whose owner stopped beating (at most once, whoever notices first). The owner may have sent its
       * own readers frames it had not written yet, so the ending goes after the noticing reader's cursor too: that
       * reader sees no id twice and no gap, and every reader ends with `error` + `[DONE]`.
       */
      const finishStale = (runId: string, cursor: number) =>
        sql`
          WITH run AS (
            UPDATE cogo.chat_runs SET finished_at = now(), frame_count = GREATEST(frame_count, ${cursor + 1}) + 2
            WHERE id = ${runId}::uuid AND finished_at IS NULL AND heartbeat_at < now() - make_interval(secs => ${staleSeconds})
            RETURNING frame_count),
          frames AS (
            INSERT INTO cogo.chat_frames (run_id, seq, data)
            SELECT ${runId}::uuid, run.frame_count - 2, ${JSON.stringify({ type: "error", errorText: staleErrorText })} FROM run
            UNION ALL SELECT ${runId}::uuid, run.frame_count - 1, '[DONE]' FROM run
            ON CONFLICT DO NOTHING)
          SELECT 1 FROM run, LATERAL (SELECT pg_notify('cogo', ${`chat:${runId}`})) AS n`

      /** The frames after `cursor`, and whether they are the last ones. */
      const readAfter = (runId: string, cursor: number) =>
        Effect.gen(function*() {
          // The run's state first: when it says finished, the frames read next are all there is.
          const [run] = yield* sql<{ finished: boolean; stale: boolean }>`
            SELECT finished_at IS NOT NULL AS finished, heartbeat_at < now() - make_interval(secs => ${staleSeconds}) AS stale
            FROM cogo.chat_runs WHERE id = ${runId}::uuid`
          if (run === undefined) return { frames: [], last: true }
          if (!run.finished && run.stale) yield* finishStale(runId, cursor)
          const frames = yield* sql<{ seq: number; data: string }>`
            SELECT seq, data FROM cogo.chat_frames WHERE run_id = ${runId}::uuid AND seq > ${cursor} ORDER BY seq LIMIT ${readLimit}`
          return { frames, last: run.finished && frames.length < readLimit }
        })

      const follow = (runId: string, afterId: number): Stream.Stream<string> => {
        let cursor = afterId
        let last = false
        const wakeups = Stream.merge(
          notifications.subscribe("chat").pipe(Stream.filter((n) => n.payload === runId || n.payload === "")),
          Stream.fromSchedule(Schedule.spaced(pollEvery))
        ).pipe(Stream.prepend([undefined]))
        const pull = Effect.suspend(() => readAfter(runId, cursor)).pipe(
          Effect.map(({ frames, last: isLast }) => {
            const texts = frames.map((f) => frameText(f.seq, f.data))
            cursor = frames.at(-1)?.seq ?? cursor
            last = isLast
            return texts
          }),
          Effect.catchTag("SqlError", (error) =>
            Effect.as(Effect.logWarning("reading chat frames failed; retrying at the next wakeup", error), []))
        )
        return wakeups.pipe(
          // A wakeup reads until it is caught up (a long backlog comes in pages).
          Stream.mapEffect(() => Effect.gen(function*() {
            const out: Array<string> = []
            for (;;) {
              const page = yield* pull
              out.push(...page)
              if (last || page.length < readLimit) return out
            }
          })),
          Stream.takeUntil(() => last),
          Stream.flattenIterable
        )
      }

      const requestAbort = Effect.fn("ChatFrames.requestAbort")(function*(runId: string) {
        const rows = yield* sql`
          WITH run AS (UPDATE cogo.chat_runs SET abort_requested = true WHERE id = ${runId}::uuid AND finished_at IS NULL RETURNING id)
          SELECT 1 FROM run, LATERAL (SELECT pg_notify('cogo', ${`chat:${abortPrefix}${runId}`})) AS n`
        return rows.length > 0
      })

      const abortRequests = notifications.subscribe("chat").pipe(
        Stream.filter((n) => n.payload.startsWith(abortPrefix)),
        Stream.map((n) => n.payload.slice(abortPrefix.length))
      )

      return ChatFrames.of({ append, find, follow, requestAbort, abortRequests, heartbeat })
    })
  )
}
