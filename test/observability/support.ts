/**
 * Shared pieces of the observability tests: the whole service (MainLive) in-process on free ports with an
 * explicit environment, a local OTLP/HTTP receiver, and a small Prometheus text parser.
 */
import { ConfigProvider, Context, Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { MainLive } from "../../src/layers/Main.ts"
import { freePort } from "../support/ports.ts"
import { testDatabaseEnv } from "../support/TestDatabase.ts"

export interface OtlpSpan {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string | undefined
  readonly name: string
  readonly kind: number
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: Record<string, unknown> }>
  readonly links?: ReadonlyArray<{ readonly traceId: string; readonly spanId: string }>
}

export interface OtlpAttribute {
  readonly key: string
  readonly value: Record<string, unknown>
}

export interface OtlpReceiver {
  readonly url: string
  readonly spans: Array<OtlpSpan>
  /** The resource attributes of every batch received. */
  readonly resources: Array<ReadonlyArray<OtlpAttribute>>
  /** Every request body as received (for grepping). */
  readonly bodies: Array<string>
}

/** An OTLP/HTTP JSON traces endpoint (`POST /v1/traces`) that keeps every span it receives. */
export const otlpReceiver = Effect.acquireRelease(
  Effect.callback<OtlpReceiver & { readonly server: http.Server }>((resume) => {
    const spans: Array<OtlpSpan> = []
    const resources: Array<ReadonlyArray<OtlpAttribute>> = []
    const bodies: Array<string> = []
    const server = http.createServer((req, res) => {
      let body = ""
      req.on("data", (chunk: Buffer) => (body += chunk.toString()))
      req.on("end", () => {
        if (req.method !== "POST" || req.url !== "/v1/traces") return void res.writeHead(404).end()
        bodies.push(body)
        const data = JSON.parse(body) as {
          resourceSpans: Array<{ resource?: { attributes?: Array<OtlpAttribute> }; scopeSpans: Array<{ spans: Array<OtlpSpan> }> }>
        }
        for (const resource of data.resourceSpans) {
          resources.push(resource.resource?.attributes ?? [])
          for (const scope of resource.scopeSpans) spans.push(...scope.spans)
        }
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, spans, resources, bodies, server }))
    })
  }),
  (receiver) => Effect.callback<void>((resume) => void receiver.server.close(() => resume(Effect.void)))
)

export interface RunningService {
  readonly baseUrl: string
  readonly metricsUrl: string
  /** COGO_OPERATOR_TOKEN of this run (operator endpoints: /traces, /alerts, /status data, /projection). */
  readonly operatorToken: string
}

/** Headers that open the operator endpoints. */
export const operatorHeaders = (service: RunningService): Record<string, string> => ({ authorization: `Bearer ${service.operatorToken}` })

/** GET an operator endpoint as the operator. */
export const operatorGet = (service: RunningService, path: string): Promise<Response> =>
  fetch(`${service.baseUrl}${path}`, { headers: operatorHeaders(service) })

/** The whole service as `npm start` composes it, on free ports, against a fresh test database (and a fresh operator token). */
export const serviceLayer = (env: Record<string, string> = {}) =>
  Layer.unwrap(Effect.gen(function*() {
    const port = yield* Effect.promise(freePort)
    const metricsPort = yield* Effect.promise(freePort)
    const operatorToken = env["COGO_OPERATOR_TOKEN"] ?? randomBytes(24).toString("hex")
    const fullEnv = yield* testDatabaseEnv({
      HOST: "127.0.0.1",
      PORT: String(port),
      METRICS_PORT: String(metricsPort),
      LOG_LEVEL: "Warn",
      ...env,
      COGO_OPERATOR_TOKEN: operatorToken
    })
    return Layer.succeed(RunningServiceTag, { baseUrl: `http://127.0.0.1:${port}`, metricsUrl: `http://127.0.0.1:${metricsPort}`, operatorToken }).pipe(
      Layer.provideMerge(MainLive),
      Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(fullEnv)))
    )
  }))

export class RunningServiceTag extends Context.Service<RunningServiceTag, RunningService>()("test/RunningService") {}

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/**
 * Parses Prometheus text exposition (0.0.4): `# HELP`/`# TYPE` lines and samples with optional labels.
 * Throws on any line that is not valid, so "parses" is a real check.
 */
export const parsePrometheus = (text: string): { readonly types: Map<string, string>; readonly samples: Array<Sample> } => {
  const types = new Map<string, string>()
  const samples: Array<Sample> = []
  const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/
  const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(?:,\s*|$)/y
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue
    if (line.startsWith("#")) {
      const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line)
      if (type !== null) types.set(type[1]!, type[2]!)
      else if (!/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* /.test(line) && !/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]*$/.test(line)) {
        throw new Error(`bad comment line: ${line}`)
      }
      continue
    }
    const match = sampleLine.exec(line)
    if (match === null) throw new Error(`bad sample line: ${line}`)
    const labels: Record<string, string> = {}
    const rawLabels = match[2] ?? ""
    labelPair.lastIndex = 0
    while (labelPair.lastIndex < rawLabels.length) {
      const start = labelPair.lastIndex
      const pair = labelPair.exec(rawLabels)
      if (pair === null || labelPair.lastIndex === start) throw new Error(`bad labels: ${line}`)
      labels[pair[1]!] = pair[2]!.replace(/\\n/g, "\n").replace(/\\"/g, "\"").replace(/\\\\/g, "\\")
    }
    const raw = match[3]!
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : raw === "NaN" ? NaN : Number(raw)
    if (Number.isNaN(value) && raw !== "NaN") throw new Error(`bad value: ${line}`)
    samples.push({ name: match[1]!, labels, value })
  }
  return { types, samples }
}
