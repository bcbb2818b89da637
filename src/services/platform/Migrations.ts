/**
 * Schema migrations: numbered SQL files in `migrations/` (`NNNN_name.sql`), applied in order by PgMigrator
 * at start-up and by `npm run db:migrate`. Plain SQL so the same files run on PGlite, PostgreSQL 15 and
 * Supabase (and can be pasted into Supabase's SQL editor).
 */
import { PgMigrator } from "@effect/sql-pg"
import { NodeServices } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
import * as Migrator from "effect/sql/Migrator"
import { SqlClient } from "effect/sql/SqlClient"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { splitSqlStatements } from "../../domain/platform/SqlScript.ts"

export const migrationsDir = fileURLToPath(new URL("../../../migrations/", import.meta.url))
export const migrationsTable = "cogo_migrations"

const fileName = /^(\d+)_([\w-]+)\.sql$/

/** Loads `migrations/*.sql` as migrations whose statements run one by one. */
export const sqlFileLoader = (dir: string = migrationsDir): Migrator.Loader =>
  Effect.try({
    try: () =>
      fs.readdirSync(dir)
        .flatMap((file) => {
          const match = fileName.exec(file)
          if (match === null) return []
          const statements = splitSqlStatements(fs.readFileSync(path.join(dir, file), "utf8"))
          const run = Effect.gen(function*() {
            const sql = yield* SqlClient
            for (const statement of statements) yield* sql.unsafe(statement)
          })
          return [[Number(match[1]), match[2]!, Effect.succeed(run)] as const]
        })
        .sort((a, b) => a[0] - b[0]),
    catch: (cause) => new Migrator.MigrationError({ kind: "ImportError", message: `cannot read ${dir}`, cause })
  })

export interface MigrationState {
  /** Migrations this start applied. */
  readonly applied: ReadonlyArray<readonly [id: number, name: string]>
  /** The newest migration id present in the database. */
  readonly latest: number
  /** How many migrations the database has. */
  readonly count: number
}

export class Migrations extends Context.Service<Migrations, MigrationState>()("cogo/Migrations") {
  /** Runs pending migrations (when `run` is true), then reports the database's state. */
  static readonly layer = (options: { readonly run: boolean }) =>
    Layer.effect(
      Migrations,
      Effect.gen(function*() {
        const applied = options.run
          ? yield* PgMigrator.run({ loader: sqlFileLoader(), table: migrationsTable }).pipe(
            Effect.provide(NodeServices.layer)
          )
          : []
        const sql = yield* SqlClient
        const rows = yield* sql<{ latest: number | null; count: number }>`
          SELECT max(migration_id)::int AS latest, count(*)::int AS count FROM ${sql(migrationsTable)}
        `.pipe(Effect.catchTag("SqlError", () => Effect.succeed([{ latest: 0, count: 0 }])))
        const row = rows[0]
        return Migrations.of({ applied, latest: row?.latest ?? 0, count: row?.count ?? 0 })
      }).pipe(Effect.withSpan("Migrations.run"))
    )
}
