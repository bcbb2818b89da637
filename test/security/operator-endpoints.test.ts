/**
 * Operator endpoints (`/traces`, `/alerts`, `/status` data and stream, `/projection/*`) answer only the
 * operator token (COGO_OPERATOR_TOKEN) or the service role: anonymous callers, the anon key, bad tokens get
 * 401, user JWTs 403, as problem+json. The service runs in its default (embedded: dev) auth mode, whose
 * "no token = dev user" shortcut must not open these routes. The status page's HTML itself holds no data.
 */
import { assert, layer } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import { anonKey, jwtSecret, serviceRoleKey, signToken, userToken } from "../edge/server.ts"
import { RunningServiceTag, serviceLayer } from "../observability/support.ts"

const routes: ReadonlyArray<readonly [method: "GET" | "POST", path: string]> = [
  ["GET", "/traces"],
  ["GET", `/traces/${randomBytes(16).toString("hex")}`],
  ["GET", "/alerts"],
  ["GET", "/status/snapshot"],
  ["GET", "/status/stream"],
  ["GET", "/projection/lag"],
  ["GET", "/projection/dead-letters"],
  ["GET", "/projection/conflicts"],
  ["POST", "/projection/dead-letters/1/retry"]
]

/** Status and problem type; gives up on the body of a stream after its head. */
const call = (url: string, method: string, authorization: string | undefined) =>
  Effect.promise(async () => {
    const controller = new AbortController()
    const response = await fetch(url, {
      method,
      headers: authorization === undefined ? {} : { authorization },
      signal: controller.signal
    })
    const type = response.status === 401 || response.status === 403
      ? ((await response.json()) as { type?: string }).type
      : response.headers.get("content-type")
    controller.abort()
    return { status: response.status, type }
  })

layer(serviceLayer({ SUPABASE_JWT_SECRET: jwtSecret, SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey }), {
  excludeTestServices: true,
  timeout: Duration.seconds(90)
})("operator endpoints", (it) => {
  it.effect("refuse anonymous callers, the anon key and bad tokens (401) and user JWTs (403)", () =>
    Effect.gen(function*() {
      const service = yield* RunningServiceTag
      const user = yield* Effect.promise(() => userToken(randomUUID()))
      const anon = yield* Effect.promise(() => anonKey())
      const forged = yield* Effect.promise(() => signToken({ role: "service_role" }, { secret: "not-the-secret-but-long-enough-to-sign" }))
      const callers: ReadonlyArray<readonly [name: string, authorization: string | undefined, status: number]> = [
        ["anonymous", undefined, 401],
        ["anon key", `Bearer ${anon}`, 401],
        ["wrong operator token", `Bearer ${service.operatorToken}x`, 401],
        ["forged service_role JWT", `Bearer ${forged}`, 401],
        ["user JWT", `Bearer ${user}`, 403]
      ]
      for (const [method, path] of routes) {
        for (const [name, authorization, status] of callers) {
          const result = yield* call(`${service.baseUrl}${path}`, method, authorization)
          assert.strictEqual(result.status, status, `${name} -> ${method} ${path}`)
          assert.match(result.type ?? "", /^https:\/\/cogo\.dev\/problems\//, `${name} -> ${method} ${path}`)
        }
      }
    }))

  it.effect("answer the operator token and the service-role key", () =>
    Effect.gen(function*() {
      const service = yield* RunningServiceTag
      const serviceJwt = yield* Effect.promise(() => signToken({ role: "service_role" }))
      for (const credential of [service.operatorToken, serviceRoleKey, serviceJwt]) {
        for (const [method, path] of routes) {
          const result = yield* call(`${service.baseUrl}${path}`, method, `Bearer ${credential}`)
          // Unknown trace / dead letter ids are 404: past the door, which is what counts here.
          const expected = path.startsWith("/traces/") || method === "POST" ? 404 : 200
          assert.strictEqual(result.status, expected, `${method} ${path}`)
        }
      }
      // The page itself is static and holds no data: anyone may load it (it asks for the token).
      const page = yield* call(`${service.baseUrl}/status`, "GET", undefined)
      assert.strictEqual(page.status, 200)
      assert.match(page.type ?? "", /text\/html/)
    }))
})
