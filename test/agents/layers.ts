/**
 * Layers for the agents' tests: the real services over a fresh test database (PGlite, or a real Postgres with
 * TEST_DATABASE_URL), configured from an explicit environment record instead of the machine's.
 */
import { ConfigProvider, Context, Layer } from "effect"
import { Database } from "../../src/services/platform/Database.ts"
import { Migrations } from "../../src/services/platform/Migrations.ts"
import { EventBus } from "../../src/services/platform/EventBus.ts"
import { JobQueue } from "../../src/services/jobs/JobQueue.ts"
import { Notifications } from "../../src/services/platform/Notifications.ts"
import { Orchestrator } from "../../src/services/jobs/Orchestrator.ts"
import { configLayer, TestDatabaseLive } from "../support/TestDatabase.ts"
import { DatabaseClientLive } from "../../src/layers/DatabaseLive.ts"

/** Fast timings so retries, polls and leases take milliseconds. */
export const fastJobsEnv: Record<string, string> = {
  JOBS_POLL_INTERVAL: "200 millis",
  JOBS_LEASE: "2 seconds",
  JOBS_RETRY_BASE: "20 millis",
  JOBS_RETRY_CAP: "200 millis",
  JOBS_RESCUE_INTERVAL: "200 millis",
  BREAKER_FAILURES: "3",
  BREAKER_OPEN_DURATION: "300 millis",
  BREAKER_OPEN_MAX: "2 seconds"
}

export const envLayer = (env: Record<string, string>) => ConfigProvider.layer(ConfigProvider.fromEnvRecord(env))

/** Database, notifications and event bus. */
export const platformLayer = (env: Record<string, string> = {}) =>
  EventBus.layer.pipe(Layer.provideMerge(Notifications.layer), Layer.provideMerge(TestDatabaseLive(env)))

/** Job queue and orchestrator (with its workers) over the platform. */
export const jobsLayer = (env: Record<string, string> = {}) =>
  Orchestrator.layer.pipe(
    Layer.provideMerge(JobQueue.layer),
    Layer.provide(envLayer({ ...fastJobsEnv, ...env })),
    Layer.provideMerge(platformLayer(env))
  )

/** The environment of a test database, for tests that start other processes on the same database. */
export class DatabaseEnv extends Context.Service<DatabaseEnv, Record<string, string>>()("test/DatabaseEnv") {}

/** `jobsLayer` over the database `env` describes (from `testDatabaseEnv()`), instead of a new one. */
export const jobsLayerFromEnv = (env: Record<string, string>) =>
  Orchestrator.layer.pipe(
    Layer.provideMerge(JobQueue.layer),
    Layer.provide(envLayer({ ...fastJobsEnv, ...env })),
    Layer.provideMerge(EventBus.layer),
    Layer.provideMerge(Notifications.layer),
    Layer.provideMerge(Migrations.layer({ run: true })),
    Layer.provideMerge(Database.layer),
    Layer.provideMerge(DatabaseClientLive),
    Layer.provideMerge(configLayer(env))
  )
