/**
 * `Idempotency-Key` for every POST of the edge surface, stored in `cogo.idempotency_keys` (migration 0008).
 *
 * - The first request with a key claims it (`INSERT … ON CONFLICT DO NOTHING`: exactly one winner, across
 *   replicas), executes, and stores its response (status < 500; a 5xx or a crash releases the key so a retry
 *   executes again).
 * - A retry with the same key and the same request (method, path, body) gets the stored response, marked
 *   `Idempotent-Replayed: true`; with another request it is 422.
 * - A concurrent duplicate waits for the first to finish (polling the row) and then replays it, so the work
 *   runs once; if the first holder's lease expires (its replica died) the waiter takes over.
 * - Keys are scoped by caller (role + user id) so one user can never replay another's response.
 * - Streaming responses (chat) store a `streamId` instead of a body; their routes claim keys themselves and
 *   resume the stream on replay (see ChatSessions).
 */
import { Config, Duration, Effect, Layer, Context, Schedule } from "effect"
import type { HttpServerRequest } from "effect/http/HttpServerRequest"
import { HttpServerResponse } from "effect/http"
import { SqlClient } from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { createHash } from "node:crypto"
import { BadRequest, Conflict, problem, UnprocessableEntity } from "../../domain/platform/Problem.ts"
import { problemResponse } from "../platform/problemResponse.ts"
import { Auth, principalKey } from "./Auth.ts"
import { Database, DbRole } from "../platform/Database.ts"

export const idempotencyHeader = "idempotency-key"
/** Set on a response that carries a resumable stream; stored instead of the body. */
export const streamIdHeader = "x-cogo-stream-id"

export interface StoredResponse {
  readonly status: number
  readonly contentType: string | null
  readonly body: string | null
  readonly streamId: string | null
}

export interface IdempotencyRequest {
  readonly scope: string
  readonly key: string
  readonly method: string
  readonly path: string
  /** Anything that makes two requests "the same" (the body, usually). */
  readonly content: string
}

export type Claim =
  | { readonly _tag: "Execute" }
  | { readonly _tag: "Replay"; readonly response: StoredResponse }

export type ClaimError = BadRequest | UnprocessableEntity | Conflict | SqlError

const keyPattern = /^[\x21-\x7e]{1,255}$/


/** The key of a request, `undefined` without the header, 400 when malformed. */
export const requestKey = (request: HttpServerRequest): Effect.Effect<string | undefined, BadRequest> => {
  const key = request.headers[idempotencyHeader]
  if (key === undefined) return Effect.succeed(undefined)
  if (!keyPattern.test(key)) {
    return Effect.fail(new BadRequest({
      ...problem(400, "invalid-idempotency-key", "Bad Request", "Idempotency-Key must be 1-255 visible ASCII characters"),
      errors: [{ path: ["headers", idempotencyHeader], message: "1-255 visible ASCII characters" }]
    }))
  }
  return Effect.succeed(key)
}

const fingerprintOf = (request: IdempotencyRequest) =>
  createHash("sha256").update(`${request.method}\n${request.path}\n`).update(request.content).digest("hex")

export class Idempotency extends Context.Service<Idempotency, {
  /** Claims a key: execute (then `complete` or `release`), or replay the stored response. */
  readonly claim: (request: IdempotencyRequest) => Effect.Effect<Claim, ClaimError>
  readonly complete: (scope: string, key: string, response: StoredResponse) => Effect.Effect<void, SqlError>
  /** Gives a claimed key back (the request failed with a 5xx or crashed): the next retry executes. */
  readonly release: (scope: string, key: string) => Effect.Effect<void, SqlError>
  /** Wraps a POST handler: claim, execute once, store, replay. Paths that manage keys themselves pass through. */
  readonly middleware: <E, R>(
    request: HttpServerRequest,
    app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
}>()("cogo/Idempotency") {
  /** `selfManagedPaths`: exact paths, or patterns (e.g. paths with an id in them). */
  static readonly layer = (options: { readonly selfManagedPaths: ReadonlyArray<string | RegExp> } = { selfManagedPaths: [] }) =>
    Layer.effect(
      Idempotency,
      Effect.gen(function*() {
        const sql = yield* SqlClient
        const db = yield* Database
        const auth = yield* Auth
        const ttl = yield* Config.Duration("COGO_IDEMPOTENCY_TTL").pipe(Config.withDefault(Duration.hours(24)))
        const lease = yield* Config.Duration("COGO_IDEMPOTENCY_LEASE").pipe(Config.withDefault(Duration.seconds(60)))
        const ttlSeconds = Duration.toSeconds(ttl)
        const leaseSeconds = Duration.toSeconds(lease)
        const asAgent = <A, E, R>(effect: Effect.Effect<A, E, R>) => db.withRole(DbRole.agent, effect)

        interface Row {
          readonly fingerprint: string
          readonly state: "running" | "done"
          readonly status: number | null
          readonly content_type: string | null
          readonly body: string | null
          readonly stream_id: string | null
          readonly expired_lease: boolean
        }

        const tryInsert = (request: IdempotencyRequest, fingerprint: string) =>
          asAgent(sql<{ key: string }>`
            INSERT INTO cogo.idempotency_keys (scope, key, fingerprint, method, path, locked_until, expires_at)
            VALUES (${request.scope}, ${request.key}, ${fingerprint}, ${request.method}, ${request.path},
                    now() + make_interval(secs => ${leaseSeconds}), now() + make_interval(secs => ${ttlSeconds}))
            ON CONFLICT (scope, key) DO UPDATE SET
              fingerprint = EXCLUDED.fingerprint, method = EXCLUDED.method, path = EXCLUDED.path, state = 'running',
              status = NULL, content_type = NULL, body = NULL, stream_id = NULL,
              locked_until = EXCLUDED.locked_until, expires_at = EXCLUDED.expires_at, created_at = now()
            WHERE cogo.idempotency_keys.expires_at < now()
            RETURNING key`)

        const read = (scope: string, key: string) =>
          asAgent(sql<Row>`
            SELECT fingerprint, state, status, content_type, body, stream_id, locked_until < now() AS expired_lease
            FROM cogo.idempotency_keys WHERE scope = ${scope} AND key = ${key}`)

        const takeOver = (scope: string, key: string) =>
          asAgent(sql<{ key: string }>`
            UPDATE cogo.idempotency_keys SET locked_until = now() + make_interval(secs => ${leaseSeconds})
            WHERE scope = ${scope} AND key = ${key} AND state = 'running' AND locked_until < now()
            RETURNING key`)

        const stillRunning = Symbol("stillRunning")
        const mismatch = (request: IdempotencyRequest) =>
          new UnprocessableEntity(problem(422, "idempotency-key-reused", "Unprocessable Entity",
            `Idempotency-Key ${JSON.stringify(request.key)} was used for a different request`))

        const claim = Effect.fn("Idempotency.claim")(function*(request: IdempotencyRequest) {
          const fingerprint = fingerprintOf(request)
          const attempt: Effect.Effect<Claim, typeof stillRunning | UnprocessableEntity | SqlError> = Effect.gen(function*() {
            if ((yield* tryInsert(request, fingerprint)).length > 0) return { _tag: "Execute" } as const
            const row = (yield* read(request.scope, request.key))[0]
            // Deleted between our insert and read (released): try again.
            if (row === undefined) return yield* Effect.fail(stillRunning)
            if (row.fingerprint !== fingerprint) return yield* mismatch(request)
            if (row.state === "done") {
              return {
                _tag: "Replay",
                response: { status: row.status ?? 200, contentType: row.content_type, body: row.body, streamId: row.stream_id }
              } as const
            }
            if (row.expired_lease && (yield* takeOver(request.scope, request.key)).length > 0) return { _tag: "Execute" } as const
            return yield* Effect.fail(stillRunning)
          })
          return yield* attempt.pipe(
            Effect.retry({ schedule: Schedule.spaced("25 millis"), while: (e) => e === stillRunning, times: Math.ceil(leaseSeconds * 40) + 40 }),
            Effect.catchIf((e): e is typeof stillRunning => e === stillRunning, () =>
              Effect.fail(new Conflict(problem(409, "idempotency-key-in-progress", "Conflict",
                `a request with Idempotency-Key ${JSON.stringify(request.key)} is still in progress`))))
          )
        })

        const complete = Effect.fn("Idempotency.complete")(function*(scope: string, key: string, response: StoredResponse) {
          yield* asAgent(sql`
            UPDATE cogo.idempotency_keys
            SET state = 'done', status = ${response.status}, content_type = ${response.contentType},
                body = ${response.body}, stream_id = ${response.streamId}
            WHERE scope = ${scope} AND key = ${key}`)
        })

        const release = Effect.fn("Idempotency.release")(function*(scope: string, key: string) {
          yield* asAgent(sql`DELETE FROM cogo.idempotency_keys WHERE scope = ${scope} AND key = ${key} AND state = 'running'`)
        })

        const replay = (stored: StoredResponse) =>
          HttpServerResponse.text(stored.body ?? "", {
            status: stored.status,
            contentType: stored.contentType ?? "application/json",
            headers: { "idempotent-replayed": "true" }
          })

        const selfManaged = new Set(options.selfManagedPaths.filter((p) => typeof p === "string"))
        const selfManagedPatterns = options.selfManagedPaths.filter((p) => p instanceof RegExp)

        type Decision =
          | { readonly _tag: "Pass" }
          | { readonly _tag: "Respond"; readonly response: HttpServerResponse.HttpServerResponse }
          | { readonly _tag: "Execute"; readonly scope: string; readonly key: string }

        const decide = (request: HttpServerRequest): Effect.Effect<Decision, SqlError> =>
          Effect.gen(function*() {
            const path = request.url.split("?")[0] ?? "/"
            if (request.method !== "POST" || selfManaged.has(path) || selfManagedPatterns.some((p) => p.test(path)) ||
              request.headers[idempotencyHeader] === undefined) {
              return { _tag: "Pass" } as const
            }
            const key = yield* requestKey(request)
            const principal = yield* Effect.option(auth.authenticate(request))
            // Unauthenticated requests fail in the route itself; nothing to remember.
            if (key === undefined || principal._tag === "None") return { _tag: "Pass" } as const
            const scope = principalKey(principal.value)
            const content = yield* Effect.orElseSucceed(request.text, () => "")
            const claimed = yield* claim({ scope, key, method: request.method, path, content })
            if (claimed._tag === "Replay") return { _tag: "Respond", response: replay(claimed.response) } as const
            return { _tag: "Execute", scope, key } as const
          }).pipe(
            Effect.catchTags({
              BadRequest: (e) => Effect.succeed({ _tag: "Respond", response: problemResponse(e) } as const),
              UnprocessableEntity: (e) => Effect.succeed({ _tag: "Respond", response: problemResponse(e) } as const),
              Conflict: (e) => Effect.succeed({ _tag: "Respond", response: problemResponse(e) } as const)
            })
          )

        const remember = (scope: string, key: string, response: HttpServerResponse.HttpServerResponse) => {
          if (response.status >= 500) return release(scope, key)
          const body = response.body
          const stored: StoredResponse = body._tag === "Uint8Array"
            ? { status: response.status, contentType: body.contentType, body: new TextDecoder().decode(body.body), streamId: null }
            : {
              status: response.status,
              contentType: body._tag === "Empty" ? null : (body.contentType ?? null),
              body: null,
              streamId: response.headers[streamIdHeader] ?? null
            }
          return complete(scope, key, stored)
        }

        const middleware = <E, R>(
          request: HttpServerRequest,
          app: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
        ): Effect.Effect<HttpServerResponse.HttpServerResponse, E, R> =>
          Effect.flatMap(Effect.orDie(decide(request)), (decision) => {
            switch (decision._tag) {
              case "Pass":
                return app
              case "Respond":
                return Effect.succeed(decision.response)
              case "Execute":
                return app.pipe(
                  // Failing to store only means the key stays running until its lease ends, then re-executes.
                  Effect.tap((response) => Effect.ignore(remember(decision.scope, decision.key, response), { log: "Warn" })),
                  Effect.onExit((exit) => exit._tag === "Failure" ? Effect.ignore(release(decision.scope, decision.key)) : Effect.void)
                )
            }
          })

        // Expired keys are swept every few minutes (they are also reclaimable on insert).
        yield* asAgent(sql`DELETE FROM cogo.idempotency_keys WHERE expires_at < now()`).pipe(
          Effect.ignore,
          Effect.repeat(Schedule.spaced("5 minutes")),
          Effect.forkScoped
        )

        return Idempotency.of({ claim, complete, release, middleware })
      })
    )
}

