/**
 * What `Auth.layer` says when the service starts (src/services/auth/Auth.ts): dev mode is announced as a
 * warning naming the dev user (an operator must see that anonymous calls are accepted), and prod mode without
 * any key is announced as refusing every user call; a correctly configured prod start is silent. Also the
 * default audience (`authenticated`, what Supabase Auth puts in user tokens). The log is
 * captured with a logger of the test's own; the settings come from an explicit configuration.
 */
import { assert, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Logger, References } from "effect"
import { Auth, devUserId } from "../../src/services/auth/Auth.ts"
import { TestDatabaseLive } from "../support/TestDatabase.ts"
import { alice, jwtSecret, mint, validClaims } from "./jwt-support.ts"

interface Line {
  readonly level: string
  readonly text: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** Builds `Auth.layer` over `env` and returns the mode it chose and every line it logged while starting. */
const startWith = (env: Record<string, string>) =>
  Effect.gen(function*() {
    const lines: Array<Line> = []
    const capture = Logger.make((options) => {
      const message = Array.isArray(options.message) ? options.message.map(String).join(" ") : String(options.message)
      lines.push({ level: options.logLevel, text: message, annotations: { ...options.fiber.getRef(References.CurrentLogAnnotations) } })
    })
    const auth = yield* Effect.service(Auth).pipe(
      Effect.provide(Auth.layer.pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env))))),
      Effect.provide(Logger.layer([capture]))
    )
    return { auth, mode: auth.mode, lines }
  })

const devWarning = (user: string) =>
  `AUTH DEV MODE: requests without a token run as the fixed dev user ${user}. Never expose this service like this; set COGO_AUTH_MODE=prod.`
const noKeyWarning = "COGO_AUTH_MODE=prod without SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL: every user call is refused"

layer(TestDatabaseLive(), { excludeTestServices: true, timeout: 120_000 })("Auth start-up warnings", (it) => {
  it.effect("dev mode warns once, naming the dev user, annotated authMode=dev", () =>
    Effect.gen(function*() {
      const started = yield* startWith({ COGO_AUTH_MODE: "dev", SUPABASE_JWT_SECRET: "x".repeat(40) })
      assert.strictEqual(started.mode, "dev")
      assert.deepStrictEqual(started.lines, [{ level: "Warn", text: devWarning(devUserId), annotations: { authMode: "dev" } }])
      const custom = "de000000-0000-4000-8000-0000000000bb"
      const other = yield* startWith({ COGO_AUTH_MODE: "dev", COGO_DEV_USER_ID: custom })
      assert.deepStrictEqual(other.lines.map((line) => line.text), [devWarning(custom)])
    }))

  it.effect("prod mode without a JWT secret or a JWKS URL warns that every user call is refused", () =>
    Effect.gen(function*() {
      const started = yield* startWith({ COGO_AUTH_MODE: "prod", SUPABASE_SERVICE_ROLE_KEY: "service-key" })
      assert.strictEqual(started.mode, "prod")
      assert.deepStrictEqual(started.lines, [{ level: "Warn", text: noKeyWarning, annotations: {} }])
    }))

  it.effect("prod mode with a JWT secret, or with a JWKS URL, starts without a warning", () =>
    Effect.gen(function*() {
      const withSecret = yield* startWith({ COGO_AUTH_MODE: "prod", SUPABASE_JWT_SECRET: "x".repeat(40) })
      assert.deepStrictEqual([withSecret.mode, withSecret.lines], ["prod", []])
      const withJwks = yield* startWith({ COGO_AUTH_MODE: "prod", SUPABASE_JWKS_URL: "https://ref.supabase.co/auth/v1/.well-known/jwks.json" })
      assert.deepStrictEqual([withJwks.mode, withJwks.lines], ["prod", []])
    }))

  it.effect("without SUPABASE_JWT_AUDIENCE the audience is `authenticated`", () =>
    Effect.gen(function*() {
      const { auth } = yield* startWith({ COGO_AUTH_MODE: "prod", SUPABASE_JWT_SECRET: jwtSecret })
      assert.strictEqual((yield* auth.verify(yield* mint(validClaims())))?.userId, alice)
      const refused = yield* Effect.flip(auth.verify(yield* mint({ ...validClaims(), aud: "other" })))
      assert.strictEqual(refused.detail, "audience must include \"authenticated\"")
    }))
})
