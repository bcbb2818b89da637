/**
 * The embedded backend: PGlite (+ pgvector) in a worker thread, reached by `@effect/sql-pg` through its
 * `stream` option, so every query path is the same code as against a real Postgres. Queries never block
 * this thread's event loop; they serialize in the worker (PGlite is one backend).
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
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

export class EmbeddedPostgres extends Context.Service<EmbeddedPostgres, {
  /** Where the data lives (`:memory:` for a throwaway database). */
  readonly dataDir: string
  /** Opens one virtual connection to the worker's backend. */
  readonly connect: () => Duplex
}>()("cogo/EmbeddedPostgres") {
  static readonly layer = (dataDir: string) =>
    Layer.effect(
      EmbeddedPostgres,
      Effect.gen(function*() {
        if (dataDir !== ":memory:") yield* lockDataDir(dataDir)
        const worker = yield* Effect.acquireRelease(startWorker(dataDir), stopWorker)
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
        return EmbeddedPostgres.of({ dataDir, connect })
      })
    )
}

const workerUrl = new URL("./embedded/pglite-worker.ts", import.meta.url)

const startWorker = (dataDir: string) =>
  Effect.callback<Worker, EmbeddedStartError>((resume) => {
    const worker = new Worker(workerUrl, { workerData: { dataDir }, execArgv: [] })
    const onMessage = (msg: WorkerOutbound) => {
      if (msg.type !== "ready") return
      cleanup()
      resume(Effect.succeed(worker))
    }
    const onError = (error: Error) => {
      cleanup()
      resume(Effect.fail(new EmbeddedStartError({ message: `PGlite failed to start in ${dataDir}: ${error.message}` })))
    }
    const cleanup = () => {
      worker.off("message", onMessage)
      worker.off("error", onError)
    }
    worker.on("message", onMessage)
    worker.on("error", onError)
  })

const stopWorker = (worker: Worker) =>
  Effect.callback<void>((resume) => {
    const timer = setTimeout(() => void worker.terminate().then(() => resume(Effect.void)), 5_000)
    worker.on("message", (msg: WorkerOutbound) => {
      if (msg.type !== "closed") return
      clearTimeout(timer)
      void worker.terminate().then(() => resume(Effect.void))
    })
    worker.postMessage({ type: "shutdown" })
  })

/**
 * PGlite happily opens one directory from two processes and corrupts it; a lock file with the owner's pid
 * refuses the second process (a stale lock from a dead process is taken over).
 */
const lockDataDir = (dataDir: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        fs.mkdirSync(dataDir, { recursive: true })
        const lockPath = path.join(dataDir, "cogo.lock")
        for (let attempt = 0; attempt < 2; attempt++) {
          try {
            fs.writeFileSync(lockPath, String(process.pid), { flag: "wx" })
            return lockPath
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
            const holder = Number(fs.readFileSync(lockPath, "utf8").trim())
            if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
              throw new Error(`data directory ${dataDir} is in use by process ${holder}`)
            }
            fs.rmSync(lockPath, { force: true })
          }
        }
        throw new Error(`could not lock data directory ${dataDir}`)
      },
      catch: (error) => new EmbeddedStartError({ message: (error as Error).message })
    }),
    (lockPath) => Effect.sync(() => fs.rmSync(lockPath, { force: true }))
  )

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}
