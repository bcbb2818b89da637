/**
 * A migrated template data directory for the embedded backend, so a fresh `COGO_DATA_DIR` is a file copy
 * (~0.2 s) instead of PGlite's initdb in WebAssembly (5-10 s) plus every migration.
 *
 * - Made once, at the first start that needs it: initdb + all migrations (the service's own migrator) in a
 *   private temporary directory, closed cleanly, then renamed into place. A half-made template is never
 *   visible under the final name; concurrent first starts each build their own and the first rename wins.
 * - Kept in `node_modules/.cache/cogo/pglite-template-<key>`; the key hashes the PGlite and pgvector versions
 *   and every migration file, so a template made for other migrations or another PGlite is never used.
 * - A fresh data directory (no PG_VERSION) gets a copy, PG_VERSION last: an interrupted copy is simply
 *   copied again at the next start. An in-memory database (`:memory:`) starts from the template's tarball.
 *   Either way the service's migrator then finds nothing to do.
 */
import { PgClient, PgMigrator } from "@effect/sql-pg"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { migrationsDir as defaultMigrationsDir, migrationsTable, sqlFileLoader } from "../Migrations.ts"
import { EmbeddedStartError, openBridge } from "./bridge.ts"

export interface TemplateOptions {
  /** Where templates are kept. */
  readonly cacheDir: string
  /** The migrations a template has applied (the service's `migrations/`). */
  readonly migrationsDir: string
}

/** Bumped when the way a template is made changes. */
const format = "2"
const prefix = "pglite-template-"
const marker = "PG_VERSION"
/** The same data as a tarball, for in-memory databases (PGlite's `loadDataDir`); not part of a data dir. */
const tarball = "cogo-template.tar"
/** Other templates and leftovers of builds that died are removed once unused this long (a build takes seconds). */
const staleMs = 10 * 60_000

const requireHere = createRequire(import.meta.url)

const packageDir = (name: string): string => {
  let dir = path.dirname(requireHere.resolve(name))
  while (!fs.existsSync(path.join(dir, "package.json"))) dir = path.dirname(dir)
  return dir
}
const packageVersion = (name: string): string =>
  (JSON.parse(fs.readFileSync(path.join(packageDir(name), "package.json"), "utf8")) as { version: string }).version

/** `node_modules/.cache/cogo` beside the installed PGlite, and the service's migrations. */
export const defaultTemplateOptions = (): TemplateOptions => {
  const pglite = packageDir("@electric-sql/pglite")
  const nodeModules = pglite.slice(0, pglite.lastIndexOf(`${path.sep}node_modules${path.sep}`) + `${path.sep}node_modules`.length)
  return { cacheDir: path.join(nodeModules, ".cache", "cogo"), migrationsDir: defaultMigrationsDir }
}

/** Hash of what decides a template's contents: the format, PGlite, pgvector and every migration file. */
const templateKey = (migrationsDir: string): string => {
  const hash = createHash("sha256")
  hash.update(`format ${format}\0pglite ${packageVersion("@electric-sql/pglite")}\0`)
  hash.update(`pgvector ${packageVersion("@electric-sql/pglite-pgvector")}\0`)
  for (const file of fs.readdirSync(migrationsDir).filter((f) => f.endsWith(".sql")).sort()) {
    hash.update(file).update("\0").update(fs.readFileSync(path.join(migrationsDir, file))).update("\0")
  }
  return hash.digest("hex").slice(0, 16)
}

export const templatePath = (options: TemplateOptions): string =>
  path.join(options.cacheDir, prefix + templateKey(options.migrationsDir))

const fail = (what: string) => (cause: unknown) =>
  new EmbeddedStartError({ message: `${what}: ${cause instanceof Error ? cause.message : String(cause)}` })

/** initdb + every migration in `dir`, through the same bridge and migrator as the service; closed cleanly. */
const migrateInto = (dir: string, migrationsDir: string) =>
  Effect.scoped(Effect.gen(function*() {
    const bridge = yield* openBridge(dir)
    yield* PgMigrator.run({ loader: sqlFileLoader(migrationsDir), table: migrationsTable }).pipe(
      Effect.provide(NodeServices.layer),
      Effect.provide(PgClient.layer({
        stream: bridge.connect,
        prepare: false,
        ssl: false,
        username: "postgres",
        database: "postgres",
        maxConnections: 1,
        applicationName: "cogo-template",
        transformJson: false
      })),
      Effect.mapError(fail("migrating the template"))
    )
    yield* bridge.dump(path.join(dir, tarball))
    yield* bridge.close
  }))

/**
 * Removes templates of other keys and leftovers of builds that died, once unused for a while: a start that
 * is copying one right now touched it first (`touch`), so it is never removed under that start.
 */
const prune = (cacheDir: string, keep: string) =>
  Effect.sync(() => {
    for (const entry of fs.readdirSync(cacheDir)) {
      const full = path.join(cacheDir, entry)
      if (entry.startsWith(prefix) && full !== keep && isStale(full)) fs.rmSync(full, { recursive: true, force: true })
    }
  })

/** Marks a template as in use; false when it does not exist. */
const touch = (dir: string): boolean => {
  try {
    const now = new Date()
    fs.utimesSync(dir, now, now)
    return fs.existsSync(path.join(dir, marker))
  } catch {
    return false
  }
}

const isStale = (file: string): boolean => {
  try {
    return Date.now() - fs.statSync(file).mtimeMs > staleMs
  } catch {
    return false
  }
}

/** The template for the current key, built first when missing; returns its directory. */
export const ensureTemplate = (options: TemplateOptions): Effect.Effect<string, EmbeddedStartError> =>
  Effect.gen(function*() {
    const final = templatePath(options)
    if (touch(final)) return final
    const tmp = yield* Effect.try({
      try: () => {
        fs.mkdirSync(options.cacheDir, { recursive: true })
        return fs.mkdtempSync(`${final}.tmp-`)
      },
      catch: fail(`creating a template under ${options.cacheDir}`)
    })
    yield* migrateInto(tmp, options.migrationsDir).pipe(
      Effect.onError(() => Effect.sync(() => fs.rmSync(tmp, { recursive: true, force: true })))
    )
    yield* Effect.try({
      try: () => {
        try {
          fs.renameSync(tmp, final)
        } catch {
          if (fs.existsSync(path.join(final, marker))) {
            // Another start finished the same template first: use theirs.
            fs.rmSync(tmp, { recursive: true, force: true })
            return
          }
          // Something without PG_VERSION under the final name was not made here: replace it.
          fs.rmSync(final, { recursive: true, force: true })
          fs.renameSync(tmp, final)
        }
      },
      catch: fail(`storing the template ${final}`)
    })
    yield* prune(options.cacheDir, final)
    return final
  }).pipe(Effect.withSpan("EmbeddedTemplate.ensure"))

/**
 * The template, or undefined when none can be made here (a read-only node_modules, a migration that fails:
 * the service's own migrator then reports it); the database is then made with initdb as before.
 */
const availableTemplate = (options: TemplateOptions): Effect.Effect<string | undefined> =>
  ensureTemplate(options).pipe(Effect.catch((error) =>
    Effect.as(Effect.logWarning(`embedded template unavailable, using initdb: ${error.message}`), undefined)
  ))

/** The template as a tarball, for an in-memory database (built first when missing). */
export const templateTarball = (options: TemplateOptions): Effect.Effect<string | undefined> =>
  Effect.map(availableTemplate(options), (dir) => dir === undefined ? undefined : path.join(dir, tarball))

/**
 * Gives a fresh data directory (no PG_VERSION) a copy of the template; an initialized one is left alone.
 * Returns whether it copied.
 */
export const seedDataDir = (dataDir: string, options: TemplateOptions): Effect.Effect<boolean, EmbeddedStartError> =>
  Effect.gen(function*() {
    if (fs.existsSync(path.join(dataDir, marker))) return false
    const template = yield* availableTemplate(options)
    if (template === undefined) return false
    // cpSync is native (~6x faster than fs.promises.cp here); nothing else runs yet at this point of start-up.
    yield* Effect.try({
      try: () => {
        for (const entry of fs.readdirSync(template)) {
          if (entry === marker || entry === tarball) continue
          fs.cpSync(path.join(template, entry), path.join(dataDir, entry), { recursive: true, force: true })
        }
        fs.copyFileSync(path.join(template, marker), path.join(dataDir, marker))
      },
      catch: fail(`copying the template ${template} into ${dataDir}`)
    })
    return true
  }).pipe(Effect.withSpan("EmbeddedTemplate.seed"))
