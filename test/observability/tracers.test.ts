/**
 * Both exporting tracers (`COGO_TRACER=native` and `otel-sdk`) against a local OTLP/HTTP receiver: the
 * incoming traceparent is honoured, span names follow the semantic conventions (`GET /traces/:traceId`
 * with `http.route`; `SELECT <table>` with `db.operation.name`/`db.collection.name`), the resource carries
 * OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, and the in-process store (GET /traces/:id) holds the same spans.
 */
import { assert, layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import type { TraceDetail } from "../../src/domain/observability/Observability.ts"
import { Telemetry } from "../../src/services/observability/Telemetry.ts"
import { operatorGet, type OtlpReceiver, otlpReceiver, type OtlpSpan, RunningServiceTag, serviceLayer } from "./support.ts"

class Receiver extends Context.Service<Receiver, OtlpReceiver>()("test/TracersReceiver") {}

const randomHex = (bytes: number) => randomBytes(bytes).toString("hex")
const stringAttribute = (span: OtlpSpan, key: string) => span.attributes.find((a) => a.key === key)?.value["stringValue"]

for (const tracer of ["native", "otel-sdk"] as const) {
  const TestLayer = Layer.unwrap(Effect.map(otlpReceiver, (receiver) =>
    serviceLayer({
      COGO_TRACER: tracer,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_BSP_SCHEDULE_DELAY: "100",
      OTEL_SERVICE_NAME: `cogo-${tracer}`,
      OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test,team=platform"
    }).pipe(Layer.merge(Layer.succeed(Receiver, receiver)))))

  layer(TestLayer, { excludeTestServices: true, timeout: Duration.seconds(60) })(`COGO_TRACER=${tracer}`, (it) => {
    it.effect("exports semantic-convention spans under the caller's trace, and stores them", () =>
      Effect.gen(function*() {
        const service = yield* RunningServiceTag
        const receiver = yield* Receiver
        const telemetry = yield* Telemetry
        const traceId = randomHex(16)
        const callerSpanId = randomHex(8)
        // An operator route answered after database reads.
        const response = yield* Effect.promise(() =>
          fetch(`${service.baseUrl}/projection/lag`, {
            headers: { traceparent: `00-${traceId}-${callerSpanId}-01`, authorization: `Bearer ${service.operatorToken}` }
          }))
        assert.strictEqual(response.status, 200, yield* Effect.promise(() => response.text()))

        let spans: Array<OtlpSpan> = []
        for (let i = 0; i < 100 && !spans.some((s) => s.kind === 2 && /^GET /.test(s.name)); i++) {
          yield* telemetry.flush
          spans = receiver.spans.filter((s) => s.traceId === traceId)
          yield* Effect.sleep("50 millis")
        }
        const server = spans.find((s) => s.kind === 2)
        assert.isDefined(server, JSON.stringify(spans.map((s) => s.name)))
        assert.strictEqual(server!.name, "GET /projection/lag")
        assert.strictEqual(stringAttribute(server!, "http.route"), "/projection/lag")
        assert.strictEqual(server!.parentSpanId, callerSpanId)

        // The query spans of that request: waited for (up to 10 s), not assumed to be there after a fixed sleep.
        const querySpans = () => receiver.spans.filter((s) => s.traceId === traceId && stringAttribute(s, "db.query.text") !== undefined)
        const isSelect = (s: OtlpSpan) => stringAttribute(s, "db.operation.name") === "SELECT" && stringAttribute(s, "db.collection.name") !== undefined
        for (let i = 0; i < 200 && !querySpans().some(isSelect); i++) {
          yield* Effect.sleep("50 millis")
          yield* telemetry.flush
        }
        const dbSpans = querySpans()
        assert.isAbove(dbSpans.length, 0, JSON.stringify(spans.map((s) => s.name)))
        assert.isFalse(dbSpans.some((s) => s.name === "postgres"), JSON.stringify(dbSpans.map((s) => s.name)))
        const select = dbSpans.find(isSelect)
        assert.isDefined(select, JSON.stringify(dbSpans.map((s) => s.name)))
        assert.strictEqual(select!.name, `SELECT ${stringAttribute(select!, "db.collection.name")}`)

        const resource = receiver.resources.find((attributes) => attributes.some((a) => a.key === "service.name"))
        const resourceValue = (key: string) => resource?.find((a) => a.key === key)?.value["stringValue"]
        assert.strictEqual(resourceValue("service.name"), `cogo-${tracer}`)
        if (tracer === "otel-sdk") {
          // OTEL_RESOURCE_ATTRIBUTES and the process detector reach the resource only through the SDK.
          assert.strictEqual(resourceValue("deployment.environment.name"), "test")
          assert.strictEqual(resourceValue("team"), "platform")
          assert.isDefined(resource?.find((a) => a.key === "process.pid"))
        }

        const stored = yield* Effect.promise(() => operatorGet(service, `/traces/${traceId}`).then((r) => r.json() as Promise<TraceDetail>))
        const storedServer = stored.spans.find((s) => s.spanId === server!.spanId)
        assert.strictEqual(storedServer?.name, "GET /projection/lag")
        assert.strictEqual(storedServer?.parentSpanId, callerSpanId)
        assert.isTrue(stored.spans.some((s) => s.name === select!.name))
      }))
  })
}
