/**
 * The main thread's side of the embedded backend: starts the PGlite worker (pglite-worker.ts) on a data
 * directory and hands out virtual connections to it as in-process Duplex streams, which `@effect/sql-pg`
 * treats like sockets (its `stream` option). Used by the EmbeddedPostgres service and the template builder.
 */
import { Effect, Schema, type Scope } from "effect"
import { Duplex } from "node:stream"
import { Worker } from "node:worker_threads"

export class EmbeddedStartError extends Schema.TaggedError<EmbeddedStartError>()("EmbeddedStartError", {
  message: Schema.String
}) {}

type WorkerOutbound =
  | { readonly type: "ready" }
  | { readonly type: "data"; readonly id: number; readonly bytes: Uint8Array }
  | { readonly type: "end"; readonly id: number }
  | { readonly type: "fatal"; readonly message: string }
  | { readonly type: "closed" }
  | { readonly type: "dumped" }

interface Bridge {
  /** Opens one virtual connection to the worker's backend. */
  readonly connect: () => Duplex
  /** Writes a consistent tarball of the data directory to `file` (PGlite's `loadDataDir` format). */
  readonly dump: (file: string) => Effect.Effect<void, EmbeddedStartError>
  /** Shuts the backend down cleanly (a checkpoint, files complete); fails when it does not finish in time. */
  readonly close: Effect.Effect<void, EmbeddedStartError>
}

const workerUrl = new URL("./pglite-worker.ts", import.meta.url)
const closeTimeoutMs = 5_000

/**
 * Starts the worker on `dataDir` (`:memory:` for a throwaway database, started from the tarball
 * `loadDataDir` when given); it stops when the scope closes.
 */
export const openBridge = (
  dataDir: string,
  options: { readonly loadDataDir?: string } = {}
): Effect.Effect<Bridge, EmbeddedStartError, Scope.Scope> =>
  Effect.gen(function*() {
    const worker = yield* Effect.acquireRelease(startWorker({ dataDir, ...options }), (w) => shutdown(w).pipe(Effect.ignore))
    const sockets = new Map<number, Duplex>()
    let nextId = 1
    worker.on("message", (msg: WorkerOutbound) => {
      if (msg.type === "data") sockets.get(msg.id)?.push(Buffer.from(msg.bytes))
      else if (msg.type === "end") {
        const socket = sockets.get(msg.id)
        sockets.delete(msg.id)
        socket?.push(null)
      } else if (msg.type === "fatal") {
        for (const socket of sockets.values()) socket.destroy(new Error(`embedded postgres: ${msg.message}`))
      }
    })
    const connect = () => {
      const id = nextId++
      const socket = new Duplex({
        read() {},
        write(chunk: Buffer, _encoding, callback) {
          worker.postMessage({ type: "data", id, bytes: chunk })
          callback()
        },
        final(callback) {
          worker.postMessage({ type: "close", id })
          callback()
        },
        destroy(error, callback) {
          if (sockets.delete(id)) worker.postMessage({ type: "close", id })
          callback(error)
        }
      })
      // sql-pg treats the stream like a net.Socket.
      Object.assign(socket, { setNoDelay: () => socket, setKeepAlive: () => socket, unref: () => socket })
      sockets.set(id, socket)
      worker.postMessage({ type: "open", id })
      queueMicrotask(() => socket.emit("connect"))
      return socket
    }
    return { connect, dump: (file: string) => dump(worker, file), close: shutdown(worker) }
  })

const startWorker = (init: { readonly dataDir: string; readonly loadDataDir?: string }) =>
  Effect.callback<Worker, EmbeddedStartError>((resume) => {
    const worker = new Worker(workerUrl, { workerData: init, execArgv: [] })
    const onMessage = (msg: WorkerOutbound) => {
      if (msg.type !== "ready") return
      cleanup()
      resume(Effect.succeed(worker))
    }
    const onError = (error: Error) => {
      cleanup()
      resume(Effect.fail(new EmbeddedStartError({ message: `PGlite failed to start in ${init.dataDir}: ${error.message}` })))
    }
    const cleanup = () => {
      worker.off("message", onMessage)
      worker.off("error", onError)
    }
    worker.on("message", onMessage)
    worker.on("error", onError)
  })

const dump = (worker: Worker, file: string) =>
  Effect.callback<void, EmbeddedStartError>((resume) => {
    const onMessage = (msg: WorkerOutbound) => {
      if (msg.type !== "dumped" && msg.type !== "fatal") return
      worker.off("message", onMessage)
      resume(msg.type === "dumped" ? Effect.void : Effect.fail(new EmbeddedStartError({ message: msg.message })))
    }
    worker.on("message", onMessage)
    worker.postMessage({ type: "dump", path: file })
  })

/** Asks the backend to close, then ends the thread; fails when the close did not finish (terminated instead). */
const shutdown = (worker: Worker) =>
  Effect.callback<void, EmbeddedStartError>((resume) => {
    if (worker.threadId < 0) return resume(Effect.void) // already ended (closed before the scope)
    const finish = (clean: boolean) => {
      clearTimeout(timer)
      worker.off("message", onMessage)
      void worker.terminate().then(() =>
        resume(clean ? Effect.void : Effect.fail(new EmbeddedStartError({ message: "PGlite did not close in time" })))
      )
    }
    const onMessage = (msg: WorkerOutbound) => {
      if (msg.type === "closed") finish(true)
    }
    const timer = setTimeout(() => finish(false), closeTimeoutMs)
    worker.on("message", onMessage)
    worker.postMessage({ type: "shutdown" })
  })
