/**
 * Job artifacts (logs, conversion results, chat transcripts) as files under
 * `ARTIFACTS_BASE/<project>/<job>/<path>`. Writers and readers go through the same path validation
 * (`src/domain/observability/ArtifactPath.ts`), and every file is resolved with `realpath` and must stay inside the real
 * base directory, so neither `..` in any encoding nor a symlink placed in the tree can reach other files.
 * Writes are atomic (temporary file + rename), appends are for line logs.
 *
 * `Artifacts.jobRecorderLayer` records every job of a project that reaches a terminal state (succeeded, dead,
 * cancelled; seen as `job` bus events) as `job.json` (the job row), `result.json` (its result or last error:
 * conversion results, chat replies) and `events.jsonl` (its events: progress, log lines, retries). It follows
 * the bus from the newest event at start-up (re-reading the last 200 ids on every pass, for transactions that
 * commit out of id order), so jobs that finished while no process ran are not recorded;
 * every replica records (same files, atomic writes), so replicas should share `ARTIFACTS_BASE`.
 */
import { Config, Context, Duration, Effect, Layer, Metric, Option, Result, Schema, Stream } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import * as fs from "node:fs/promises"
import * as nodePath from "node:path"
import { type ArtifactLocation, parseRelativePath } from "../../domain/observability/ArtifactPath.ts"
import type { ArtifactEntry } from "../../domain/observability/Observability.ts"
import type { JobId } from "../../domain/jobs/Job.ts"
import { AppConfig } from "../platform/AppConfig.ts"
import { EventBus } from "../platform/EventBus.ts"
import { JobQueue } from "../jobs/JobQueue.ts"
import { Notifications } from "../platform/Notifications.ts"
import { whenLeader } from "../platform/Leader.ts"

export class ArtifactPathRefused extends Schema.TaggedError<ArtifactPathRefused>()("ArtifactPathRefused", {
  reason: Schema.String
}) {}
export class ArtifactNotFound extends Schema.TaggedError<ArtifactNotFound>()("ArtifactNotFound", {
  path: Schema.String
}) {}
export class ArtifactIoError extends Schema.TaggedError<ArtifactIoError>()("ArtifactIoError", {
  operation: Schema.String,
  message: Schema.String
}) {}

export const artifactBytesWritten = Metric.counter("artifact_bytes_written_total", {
  description: "Bytes written to job artifacts",
  incremental: true
})
export const artifactsServed = Metric.counter("artifacts_served_total", {
  description: "Artifact requests, by outcome (served, listed, refused_path, forbidden, not_found)",
  incremental: true
})

const contentTypes: Record<string, string> = {
  ".json": "application/json",
  ".jsonl": "application/x-ndjson",
  ".ndjson": "application/x-ndjson",
  ".txt": "text/plain; charset=utf-8",
  ".log": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".webp": "image/webp",
  ".zip": "application/zip"
}
export const contentTypeOf = (fileName: string): string =>
  contentTypes[nodePath.extname(fileName).toLowerCase()] ?? "application/octet-stream"

export interface ArtifactFile {
  /** The real path on disk (inside the base). */
  readonly realPath: string
  readonly size: number
  readonly contentType: string
}

const isMissing = (error: unknown) =>
  typeof error === "object" && error !== null && "code" in error && (error.code === "ENOENT" || error.code === "ENOTDIR")

const io = <A>(operation: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (error) => new ArtifactIoError({ operation, message: String(error) }) })

export class Artifacts extends Context.Service<Artifacts, {
  readonly base: string
  /** Writes (replaces) one artifact atomically. `path` is relative to the job's directory, `/`-separated. */
  readonly write: (
    location: { readonly projectId: string; readonly jobId: string },
    path: string,
    content: string | Uint8Array
  ) => Effect.Effect<void, ArtifactPathRefused | ArtifactIoError>
  /** Appends to one artifact (job logs as JSON lines). */
  readonly append: (
    location: { readonly projectId: string; readonly jobId: string },
    path: string,
    content: string
  ) => Effect.Effect<void, ArtifactPathRefused | ArtifactIoError>
  /** Every regular file of a job, depth first, sorted by path; `urlPrefix` builds each entry's `url`. */
  readonly list: (
    location: { readonly projectId: string; readonly jobId: string },
    urlPrefix: string
  ) => Effect.Effect<ReadonlyArray<ArtifactEntry>, ArtifactIoError>
  /** Resolves one file for serving; refuses anything outside the base, directories and symlink escapes. */
  readonly open: (location: ArtifactLocation) => Effect.Effect<ArtifactFile, ArtifactPathRefused | ArtifactNotFound | ArtifactIoError>
}>()("cogo/Artifacts") {
  static readonly make = (base: string) =>
    Effect.gen(function*() {
      const absoluteBase = nodePath.resolve(base)
      yield* io("mkdir", () => fs.mkdir(absoluteBase, { recursive: true }))
      const realBase = yield* io("realpath", () => fs.realpath(absoluteBase))
      const inside = (candidate: string) => candidate === realBase || candidate.startsWith(realBase + nodePath.sep)

      const jobDirectory = (location: { readonly projectId: string; readonly jobId: string }) =>
        Effect.gen(function*() {
          const checked = parseRelativePath(`${location.projectId}/${location.jobId}`)
          if (Result.isFailure(checked)) return yield* new ArtifactPathRefused({ reason: checked.failure })
          return nodePath.join(realBase, location.projectId, location.jobId)
        })

      /** The target of a write: validated, and its existing directories must resolve inside the base. */
      const writeTarget = (location: { readonly projectId: string; readonly jobId: string }, path: string) =>
        Effect.gen(function*() {
          const directory = yield* jobDirectory(location)
          const segments = parseRelativePath(path)
          if (Result.isFailure(segments)) return yield* new ArtifactPathRefused({ reason: segments.failure })
          const target = nodePath.join(directory, ...segments.success)
          yield* io("mkdir", () => fs.mkdir(nodePath.dirname(target), { recursive: true }))
          const realDirectory = yield* io("realpath", () => fs.realpath(nodePath.dirname(target)))
          if (!inside(realDirectory)) return yield* new ArtifactPathRefused({ reason: "directory resolves outside the artifacts base" })
          const existing = yield* io("lstat", () => fs.lstat(target).catch((e: unknown) => (isMissing(e) ? undefined : Promise.reject(e))))
          if (existing?.isSymbolicLink() === true) return yield* new ArtifactPathRefused({ reason: "target is a symlink" })
          return nodePath.join(realDirectory, nodePath.basename(target))
        })

      const write = Effect.fn("Artifacts.write")(function*(
        location: { readonly projectId: string; readonly jobId: string },
        path: string,
        content: string | Uint8Array
      ) {
        const target = yield* writeTarget(location, path)
        const temporary = `${target}.${process.pid}.${Date.now().toString(36)}.tmp`
        yield* io("write", () => fs.writeFile(temporary, content, { flag: "wx" }))
        yield* io("rename", () => fs.rename(temporary, target))
        yield* Metric.update(artifactBytesWritten, typeof content === "string" ? Buffer.byteLength(content) : content.byteLength)
      })

      const append = Effect.fn("Artifacts.append")(function*(
        location: { readonly projectId: string; readonly jobId: string },
        path: string,
        content: string
      ) {
        const target = yield* writeTarget(location, path)
        yield* io("append", () => fs.appendFile(target, content))
        yield* Metric.update(artifactBytesWritten, Buffer.byteLength(content))
      })

      const list = Effect.fn("Artifacts.list")(function*(
        location: { readonly projectId: string; readonly jobId: string },
        urlPrefix: string
      ) {
        const directory = yield* jobDirectory(location).pipe(Effect.catchTag("ArtifactPathRefused", () => Effect.succeed(undefined)))
        if (directory === undefined) return []
        const entries: Array<ArtifactEntry> = []
        const walk = async (dir: string, prefix: ReadonlyArray<string>, depth: number): Promise<void> => {
          const children = await fs.readdir(dir, { withFileTypes: true }).catch((e: unknown) => (isMissing(e) ? [] : Promise.reject(e)))
          for (const child of children) {
            const segments = [...prefix, child.name]
            // Only what a reader could fetch: valid names, real files and directories (never symlinks).
            if (parseRelativePath(segments.join("/"))._tag === "Failure") continue
            const full = nodePath.join(dir, child.name)
            if (child.isDirectory() && depth < 8) await walk(full, segments, depth + 1)
            else if (child.isFile()) {
              const stat = await fs.stat(full)
              const relative = segments.join("/")
              entries.push({
                path: relative,
                size: stat.size,
                contentType: contentTypeOf(child.name),
                modifiedAt: stat.mtime.toISOString(),
                url: `${urlPrefix}/${segments.map(encodeURIComponent).join("/")}`
              })
            }
          }
        }
        yield* io("list", () => walk(directory, [], 1))
        return entries.sort((a, b) => a.path.localeCompare(b.path))
      })

      const open = Effect.fn("Artifacts.open")(function*(location: ArtifactLocation) {
        const directory = yield* jobDirectory(location)
        if (location.segments.length === 0) return yield* new ArtifactNotFound({ path: "" })
        const relative = location.segments.join("/")
        const checked = parseRelativePath(relative)
        if (Result.isFailure(checked)) return yield* new ArtifactPathRefused({ reason: checked.failure })
        const candidate = nodePath.join(directory, ...checked.success)
        const real = yield* io("realpath", () => fs.realpath(candidate).catch((e: unknown) => (isMissing(e) ? undefined : Promise.reject(e))))
        if (real === undefined) return yield* new ArtifactNotFound({ path: relative })
        if (!inside(real)) return yield* new ArtifactPathRefused({ reason: "resolves outside the artifacts base" })
        // Symlinks inside the tree are refused too: the file must be exactly where its path says.
        if (real !== candidate) return yield* new ArtifactPathRefused({ reason: "path goes through a symlink" })
        const stat = yield* io("stat", () => fs.stat(real))
        if (!stat.isFile()) return yield* new ArtifactNotFound({ path: relative })
        return { realPath: real, size: stat.size, contentType: contentTypeOf(real) }
      })

      return Artifacts.of({ base: realBase, write, append, list, open })
    })

  static readonly layer = Layer.effect(
    Artifacts,
    Effect.flatMap(Effect.service(AppConfig), (config) => Artifacts.make(config.artifactsBase)).pipe(Effect.orDie)
  )

  /** Records finished jobs' artifacts (see the module comment); needs `Artifacts` and the job queue. */
  static readonly jobRecorderLayer = Layer.effectDiscard(Effect.suspend(() => jobRecorder))
}

const terminalJobEvents: ReadonlySet<string> = new Set(["succeeded", "dead", "cancelled"])

/** Writes one finished job's artifacts. */
const recordJob = (artifacts: Artifacts["Service"], queue: JobQueue["Service"], jobId: JobId) =>
  Effect.gen(function*() {
    const job = yield* queue.get(jobId)
    if (Option.isNone(job) || job.value.projectId === null) return
    const location = { projectId: job.value.projectId, jobId }
    const events = yield* queue.events(jobId)
    const { payload: _payload, result, lastError, ...meta } = job.value
    yield* artifacts.write(location, "job.json", JSON.stringify(meta, null, 2))
    yield* artifacts.write(location, "result.json", JSON.stringify(job.value.state === "succeeded" ? result : { error: lastError }, null, 2))
    yield* artifacts.write(location, "events.jsonl", events.map((event) => JSON.stringify(event)).join("\n") + "\n")
  }).pipe(Effect.withSpan("Artifacts.recordJob", { attributes: { "job.id": jobId } }), Effect.withTracerEnabled(true))

export const jobRecorder = Effect.gen(function*() {
  const artifacts = yield* Artifacts
  const queue = yield* JobQueue
  const bus = yield* EventBus
  const notifications = yield* Notifications
  const sql = yield* SqlClient
  const pollEvery = yield* Config.Duration("ARTIFACTS_RECORDER_POLL").pipe(Config.withDefault(Duration.seconds(5)))
  const [start] = yield* sql<{ id: string | null }>`SELECT max(id) AS id FROM cogo.bus_events`
  let cursor = Number(start?.id ?? 0)
  // Ids are allocated before commit, so a lower id can become visible after a higher one was read: every
  // pass re-reads the last `lookback` ids and skips the events it already handled.
  const lookback = 200
  // Keyed by id and job: the jobs of a batch row share its id (migration 0027). Value: the event's id.
  const handled = new Map<string, number>()
  const drain = Effect.gen(function*() {
    let afterId = Math.max(0, cursor - lookback)
    for (;;) {
      const { events, more } = yield* bus.page({ afterId, limit: 500 })
      for (const event of events) {
        afterId = event.id
        const key = `${event.id} ${event.jobId ?? ""}`
        if (handled.has(key)) continue
        handled.set(key, event.id)
        cursor = Math.max(cursor, event.id)
        if (event.topic !== "job" || !terminalJobEvents.has(event.kind) || event.jobId === null || event.projectId === null) continue
        yield* recordJob(artifacts, queue, event.jobId as JobId).pipe(
          Effect.catchCause((cause) => Effect.logWarning(`artifacts of job ${event.jobId} not recorded`, cause))
        )
      }
      for (const [key, id] of handled) if (id <= cursor - lookback) handled.delete(key)
      if (!more) return
    }
  })
  yield* notifications.wakeups("bus", pollEvery).pipe(
    // A singleton duty: only the leader records (a new leader resumes from the cursor it started with).
    Stream.runForEach(() => whenLeader(drain).pipe(Effect.catchCause((cause) => Effect.logWarning("job artifact recorder: reading the bus failed", cause)))),
    Effect.withTracerEnabled(false),
    Effect.forkScoped
  )
})
