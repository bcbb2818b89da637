/**
 * `npm run bench -- tracing [--units 20000] [--rounds 3]`
 *
 * What tracing costs a unit of work: one root span with five nested child spans (`Effect.fn`), run
 * `--units` times sequentially, under
 * - tracing disabled (`Effect.withTracerEnabled(false)`): the floor;
 * - effect's native tracer: the baseline every Effect program pays by default;
 * - the Telemetry tracer without export: native spans plus recording every finished span in the bounded
 *   in-process store (what `GET /traces` reads);
 * - the Telemetry tracer exporting over OTLP/HTTP to a local receiver that accepts and discards the batches;
 * - the same two over the OpenTelemetry SDK (`COGO_TRACER=otel-sdk`: NodeTracerProvider, BatchSpanProcessor,
 *   OTLP/HTTP JSON exporter) instead of effect's native tracer and exporter.
 * Configurations alternate for `--rounds` rounds; each figure is the median round. The ratio is the unit
 * time against the native tracer in the same process (1.00 = no extra cost).
 */
import { ConfigProvider, Effect, Layer } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { AppConfig } from "../src/services/platform/AppConfig.ts"
import { Telemetry } from "../src/services/observability/Telemetry.ts"
import { intOption } from "./_args.ts"
import { fmt, printTable, summarize } from "./_table.ts"

const leaf = Effect.fn("Bench.leaf")(function*(n: number) {
  return n + 1
})
const middle = Effect.fn("Bench.middle")(function*(n: number) {
  const a = yield* leaf(n)
  const b = yield* leaf(a)
  return yield* leaf(b)
})
const unit = Effect.fn("Bench.unit")(function*(n: number) {
  const a = yield* middle(n)
  return yield* leaf(a)
})
const spansPerUnit = 6

/** Runs `units` units sequentially; returns per-unit microseconds. */
const measure = (units: number) =>
  Effect.gen(function*() {
    const samples: Array<number> = []
    for (let i = 0; i < units; i++) {
      const start = performance.now()
      yield* unit(i)
      samples.push((performance.now() - start) * 1000)
    }
    return samples
  })

const sink = () =>
  new Promise<{ url: string; close: () => Promise<void>; received: () => number }>((resolve) => {
    let received = 0
    const server = http.createServer((req, res) => {
      req.on("data", (chunk: Buffer) => (received += chunk.length))
      req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{}"))
    })
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: () => new Promise((r) => server.close(() => r())),
        received: () => received
      }))
  })

const telemetryLayer = (env: Record<string, string>) =>
  Telemetry.layer.pipe(
    Layer.provide(AppConfig.layer),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ TRACES_MAX: "500", ...env }))),
    Layer.orDie
  )

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const units = intOption(args, "units", 20_000)
  const rounds = intOption(args, "rounds", 3)
  const receiver = await sink()
  const configs: ReadonlyArray<{ name: string; run: Effect.Effect<Array<number>> }> = [
    { name: "tracing disabled", run: measure(units).pipe(Effect.withTracerEnabled(false)) },
    { name: "native tracer (baseline)", run: measure(units) },
    { name: "Telemetry: store", run: measure(units).pipe(Effect.provide(telemetryLayer({}))) },
    {
      name: "Telemetry: store + OTLP export",
      run: measure(units).pipe(Effect.provide(telemetryLayer({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "200" })))
    },
    { name: "Telemetry (otel-sdk): store", run: measure(units).pipe(Effect.provide(telemetryLayer({ COGO_TRACER: "otel-sdk" }))) },
    {
      name: "Telemetry (otel-sdk): store + OTLP export",
      run: measure(units).pipe(Effect.provide(telemetryLayer({
        COGO_TRACER: "otel-sdk",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_SCHEDULE_DELAY: "200"
      })))
    }
  ]
  // Warm-up: JIT every path once.
  for (const config of configs) await Effect.runPromise(config.run)
  const perConfig = new Map<string, Array<{ p50: number; p99: number; perSecond: number }>>()
  for (let round = 0; round < rounds; round++) {
    for (const config of configs) {
      const started = performance.now()
      const samples = await Effect.runPromise(config.run)
      const seconds = (performance.now() - started) / 1000
      const stats = summarize(samples)
      perConfig.set(config.name, [...(perConfig.get(config.name) ?? []), { p50: stats.p50, p99: stats.p99, perSecond: units / seconds }])
    }
  }
  await receiver.close()
  const median = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
  const figures = configs.map((config) => {
    const results = perConfig.get(config.name)!
    return {
      name: config.name,
      perSecond: median(results.map((r) => r.perSecond)),
      p50: median(results.map((r) => r.p50)),
      p99: median(results.map((r) => r.p99))
    }
  })
  const baseline = figures.find((f) => f.name.startsWith("native"))!
  printTable(
    `tracing overhead: ${units} units x ${spansPerUnit} spans, median of ${rounds} rounds (OTLP bytes received: ${receiver.received()})`,
    ["configuration", "units/s", "spans/s", "p50 µs/unit", "p99 µs/unit", "time vs native"],
    figures.map((f) => [
      f.name,
      fmt(f.perSecond, 0),
      fmt(f.perSecond * spansPerUnit, 0),
      fmt(f.p50, 1),
      fmt(f.p99, 1),
      fmt(baseline.perSecond / f.perSecond, 2)
    ])
  )
}
