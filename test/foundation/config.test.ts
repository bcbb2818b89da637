import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, Effect, Exit, Option, Redacted } from "effect"
import { appConfig, AppConfig } from "../../src/services/platform/AppConfig.ts"
import { describeStartupFailure } from "../../src/services/platform/StartupFailure.ts"

const parse = (env: Record<string, string>) => Effect.runSyncExit(appConfig.parse(ConfigProvider.fromEnvRecord(env)))

const failureLine = (env: Record<string, string>): string => {
  const exit = parse(env)
  if (Exit.isSuccess(exit)) throw new Error("expected a configuration error")
  return describeStartupFailure(exit.cause)
}

describe("configuration", () => {
  it("defaults to the embedded backend on port 3000 and metrics on 3200", () => {
    const exit = parse({})
    assert.isTrue(Exit.isSuccess(exit))
    if (!Exit.isSuccess(exit)) return
    assert.strictEqual(exit.value.port, 3000)
    assert.strictEqual(exit.value.metricsPort, 3200)
    assert.strictEqual(exit.value.dataDir, "./.cogo")
    assert.strictEqual(AppConfig.backendOf(exit.value), "embedded")
  })

  it("selects postgres when DATABASE_URL is set and keeps it redacted", () => {
    const url = "postgres://cogo:s3cret-pw@db.example:5432/cogo"
    const exit = parse({ DATABASE_URL: url })
    assert.isTrue(Exit.isSuccess(exit))
    if (!Exit.isSuccess(exit)) return
    assert.strictEqual(AppConfig.backendOf(exit.value), "postgres")
    assert.strictEqual(Option.map(exit.value.databaseUrl, Redacted.value).pipe(Option.getOrThrow), url)
    assert.notInclude(JSON.stringify(exit.value), "s3cret-pw")
    assert.notInclude(String(exit.value.databaseUrl), "s3cret-pw")
  })

  it("names the malformed setting in one line", () => {
    const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
      [{ PORT: "abc" }, "PORT"],
      [{ METRICS_PORT: "70000" }, "METRICS_PORT"],
      [{ DATABASE_POOL_MAX: "ten" }, "DATABASE_POOL_MAX"],
      [{ LOG_FORMAT: "xml" }, "LOG_FORMAT"],
      [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" }, "OTEL_EXPORTER_OTLP_ENDPOINT"],
      [{ COGO_MIGRATE_ON_START: "perhaps" }, "COGO_MIGRATE_ON_START"]
    ]
    for (const [env, name] of cases) {
      const line = failureLine(env)
      assert.match(line, /^configuration error: /)
      assert.include(line, `"${name}"`, `${JSON.stringify(env)} -> ${line}`)
      assert.notInclude(line, "\n")
    }
  })

  it("describes non-config start-up failures with the innermost cause", () => {
    const inner = new Error("connect ECONNREFUSED 127.0.0.1:1")
    const outer = new Error("PgConnection: Failed to connect", { cause: inner })
    const line = describeStartupFailure(Cause.fail(outer))
    assert.strictEqual(line, "start-up failed: Error: PgConnection: Failed to connect: connect ECONNREFUSED 127.0.0.1:1")
  })
})
