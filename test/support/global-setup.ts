/**
 * Once per test run against a real Postgres (TEST_DATABASE_URL): migrate a template database, so each test
 * file gets a fresh, migrated database in milliseconds (CREATE DATABASE ... TEMPLATE) and files never share
 * state. Without TEST_DATABASE_URL the tests use embedded PGlite databases and this does nothing.
 */
import { Effect } from "effect"
import { adminQuery, migrateTemplate, templateDatabase, testDatabaseUrl } from "./TestDatabase.ts"

export default async function setup(): Promise<() => Promise<void>> {
  const url = testDatabaseUrl()
  if (url === undefined) return async () => {}
  await Effect.runPromise(migrateTemplate(url))
  return async () => {
    await Effect.runPromise(
      adminQuery(url, `DROP DATABASE IF EXISTS ${templateDatabase} WITH (FORCE)`).pipe(Effect.ignore)
    )
  }
}
