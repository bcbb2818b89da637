/**
 * Secrets never leave through telemetry. Real requests carry a real user JWT (and a plugin signature) in the
 * places clients put them: `?access_token=` on the realtime URL, `?apikey=`/`?token=`, the Authorization,
 * apikey, Cookie and X-Cogo-Signature headers. Then every exported OTLP body (local receiver), every trace in
 * the in-process store (GET /traces, GET /traces/:id) and every log line is searched for them, with both
 * exporting tracers. Positive controls: the redacted URL attributes are there (`access_token=REDACTED`), and a
 * log line that carried a token was written, redacted.
 */
import { assert, layer } from "@effect/vitest"
import { Console, Context, Duration, Effect, Layer } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import type { TraceDetail, TraceSummary } from "../../src/domain/observability/Observability.ts"
import { Telemetry } from "../../src/services/observability/Telemetry.ts"
import { jwtSecret, userToken } from "../edge/server.ts"
import { operatorGet, type OtlpReceiver, otlpReceiver, RunningServiceTag, serviceLayer } from "../observability/support.ts"

class Captured extends Context.Service<Captured, { readonly receiver: OtlpReceiver; readonly lines: Array<string> }>()("test/Captured") {}

const signature = `v1=${randomBytes(32).toString("hex")}`

const capturingConsole = (lines: Array<string>): Console.Console =>
  Object.assign(Object.create(console) as Console.Console, {
    log: (...args: ReadonlyArray<unknown>) => void lines.push(args.map(String).join(" ")),
    error: (...args: ReadonlyArray<unknown>) => void lines.push(args.map(String).join(" ")),
    warn: (...args: ReadonlyArray<unknown>) => void lines.push(args.map(String).join(" ")),
    info: (...args: ReadonlyArray<unknown>) => void lines.push(args.map(String).join(" "))
  })

/** GET that gives up after the response head (SSE streams stay open otherwise). */
const get = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const controller = new AbortController()
    const response = await fetch(url, { headers, signal: controller.signal })
    controller.abort()
    return response.status
  })

for (const tracer of ["native", "otel-sdk"] as const) {
  const TestLayer = Layer.unwrap(Effect.map(otlpReceiver, (receiver) => {
    const lines: Array<string> = []
    return serviceLayer({
      COGO_TRACER: tracer,
      COGO_AUTH_MODE: "prod",
      SUPABASE_JWT_SECRET: jwtSecret,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: "100",
      LOG_LEVEL: "Debug"
    }).pipe(
      Layer.merge(Layer.succeed(Captured, { receiver, lines })),
      Layer.provideMerge(Layer.succeed(Console.Console, capturingConsole(lines)))
    )
  }))

  layer(TestLayer, { excludeTestServices: true, timeout: Duration.seconds(90) })(`redaction (COGO_TRACER=${tracer})`, (it) => {
    it.effect("no token or signature in exported spans, stored traces or log lines", () =>
      Effect.gen(function*() {
        const service = yield* RunningServiceTag
        const { receiver, lines } = yield* Captured
        const telemetry = yield* Telemetry
        const token = yield* Effect.promise(() => userToken(randomUUID()))
        const secrets = [token, signature.slice(3)]

        yield* get(`${service.baseUrl}/functions/v1/realtime/jobs/${randomUUID()}?access_token=${token}`)
        yield* get(`${service.baseUrl}/functions/v1/realtime/projects/${randomUUID()}?apikey=${token}&token=${token}`)
        yield* get(`${service.baseUrl}/health?access_token=${token}&other=1`)
        yield* get(`${service.baseUrl}/rest/v1/projects?select=id`, {
          authorization: `Bearer ${token}`,
          apikey: token,
          cookie: `sb-access-token=${token}`
        })
        yield* Effect.promise(() =>
          fetch(`${service.baseUrl}/functions/v1/figma-plugin?token=${token}`, {
            method: "POST",
            body: "{}",
            headers: {
              "content-type": "application/json",
              authorization: `Bearer ${token}`,
              "x-cogo-timestamp": String(Math.floor(Date.now() / 1000)),
              "x-cogo-signature": signature
            }
          }).then((r) => r.text()))
        // A log line that carried a token (as a careless message would).
        yield* Effect.logWarning(`callback failed for ${service.baseUrl}/cb?access_token=${token}`).pipe(
          Effect.annotateLogs({ header: `Bearer ${token}` })
        )

        // Exported spans.
        // Waits for both requests' spans to be exported (up to 20 s), not for a fixed time.
        const exportedBoth = () => {
          const all = receiver.bodies.join("")
          return all.includes("access_token=REDACTED") && all.includes("/rest/v1/projects")
        }
        for (let i = 0; i < 200 && !exportedBoth(); i++) {
          yield* telemetry.flush
          yield* Effect.sleep("100 millis")
        }
        yield* telemetry.flush
        const exported = receiver.bodies.join("\n")
        assert.include(exported, "access_token=REDACTED", "the realtime URL was exported, redacted")
        assert.include(exported, "/rest/v1/projects")
        for (const secret of secrets) assert.notInclude(exported, secret)

        // Stored traces, as an operator reads them.
        const { traces } = yield* Effect.promise(() =>
          operatorGet(service, "/traces?limit=500&background=true").then((r) => r.json() as Promise<{ traces: Array<TraceSummary> }>))
        const details: Array<TraceDetail> = []
        for (const summary of traces) {
          details.push(yield* Effect.promise(() => operatorGet(service, `/traces/${summary.traceId}`).then((r) => r.json() as Promise<TraceDetail>)))
        }
        const stored = JSON.stringify(details)
        assert.include(stored, "access_token=REDACTED")
        for (const secret of secrets) assert.notInclude(stored, secret)

        // Log lines.
        assert.isTrue(lines.some((line) => line.includes("/cb?access_token=REDACTED")), lines.slice(-5).join("\n"))
        for (const line of lines) for (const secret of secrets) assert.notInclude(line, secret)
      }))
  })
}
