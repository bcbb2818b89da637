/**
 * The embedded backend: PGlite (+ pgvector) in a worker thread, reached by `@effect/sql-pg` through its
 * `stream` option, so every query path is the same code as against a real Postgres. Queries never block
 * this thread's event loop; they serialize in the worker (PGlite is one backend).
 */
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Duplex } from "node:stream"
import { EmbeddedStartError, openBridge } from "./embedded/bridge.ts"
import { defaultTemplateOptions, seedDataDir, templateTarball, type TemplateOptions } from "./embedded/template.ts"

export class EmbeddedPostgres extends Context.Service<EmbeddedPostgres, {
  /** Where the data lives (`:memory:` for a throwaway database). */
  readonly dataDir: string
  /** Opens one virtual connection to the worker's backend. */
  readonly connect: () => Duplex
}>()("cogo/EmbeddedPostgres") {
  /**
   * A fresh data directory starts as a copy of the migrated template (embedded/template.ts) and `:memory:`
   * from its tarball, instead of PGlite's initdb; `templates: false` skips that (initdb, then migrations).
   */
  static readonly layer = (dataDir: string, options: { readonly templates?: TemplateOptions | false } = {}) =>
    Layer.effect(
      EmbeddedPostgres,
      Effect.gen(function*() {
        const templates = options.templates ?? defaultTemplateOptions()
        const inMemory = dataDir === ":memory:"
        if (!inMemory) yield* lockDataDir(dataDir)
        if (!inMemory && templates !== false) yield* seedDataDir(dataDir, templates)
        const loadDataDir = inMemory && templates !== false ? yield* templateTarball(templates) : undefined
        const bridge = yield* openBridge(dataDir, loadDataDir === undefined ? {} : { loadDataDir })
        return EmbeddedPostgres.of({ dataDir, connect: bridge.connect })
      })
    )
}

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
