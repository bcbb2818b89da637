/**
 * Helpers for the figma service tests: the service stack on a port, a figma-compat-only server (no database),
 * signed plugin requests, fixtures.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { ConfigProvider, Layer } from "effect"
import { HttpRouter } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiMiddleware } from "effect/http-api"
import { createServer } from "node:http"
import { readFileSync } from "node:fs"
import { FigmaCompatApi } from "../../src/edge/figma/FigmaCompatApi.ts"
import { FigmaCompatLive } from "../../src/edge/figma/FigmaCompatLive.ts"
import { ProblemJsonMiddleware } from "../../src/edge/http/ProblemJson.ts"
import { EdgeServerLive } from "../edge/server.ts"
import { figmaPluginSignature } from "../../src/edge/figma/signature.ts"

export const pluginSecret = "test-only-figma-plugin-secret"

/** The whole service (MainLive: orchestrator with the `figma.import` kind, projection worker) on a port. */
export const FigmaServerLive = (env: Record<string, string> = {}) =>
  EdgeServerLive({ FIGMA_PLUGIN_SECRET: pluginSecret, JOBS_POLL_INTERVAL: "200 millis", PROJECTION_POLL_MS: "200", ...env })

/** The service's API id with only the figma-compat group, so its handlers (bound to `Api`) serve it. */
class FigmaCompatOnlyApi extends HttpApi.make("cogo").add(FigmaCompatApi).middleware(HttpApiMiddleware.ProblemDetails) {}

/**
 * Only figma-compat (pure conversion: no database, auth or jobs), served over real HTTP on an ephemeral port
 * with the service's problem+json middleware; `env` configures it (never the machine's environment).
 */
export const FigmaCompatServerLive = (env: Record<string, string> = {}) =>
  HttpRouter.serve(
    Layer.mergeAll(
      HttpApiBuilder.layer(FigmaCompatOnlyApi, { openapiPath: "/openapi.json" }).pipe(
        Layer.provide(FigmaCompatLive),
        Layer.provide(HttpApiMiddleware.layerProblemDetails({ includeDetails: true }))
      ),
      ProblemJsonMiddleware
    ),
    { disableLogger: true }
  ).pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
    Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env)))
  )

export const fixtureText = (name: string): string =>
  readFileSync(new URL(`../fixtures/figma/${name}`, import.meta.url), "utf8")

export const fixture = (name: string): unknown => JSON.parse(fixtureText(name))

export interface SignOptions {
  readonly secret?: string
  readonly timestamp?: number
  readonly idempotencyKey?: string
  /** `Authorization: Bearer <credential>` (a user JWT or a plugin token); none when absent. */
  readonly credential?: string
}

/** Headers of a plugin request signed like the plugin does (`v1=` HMAC over "<timestamp>.<body>"), with its credential. */
export const signedHeaders = (body: string, options: SignOptions = {}): Record<string, string> => {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000))
  return {
    "content-type": "application/json",
    "x-cogo-timestamp": timestamp,
    "x-cogo-signature": `v1=${figmaPluginSignature(options.secret ?? pluginSecret, timestamp, body)}`,
    ...(options.idempotencyKey === undefined ? {} : { "idempotency-key": options.idempotencyKey }),
    ...(options.credential === undefined ? {} : { authorization: `Bearer ${options.credential}` })
  }
}

/** The fields tests read from answers (problem+json, conversions, accepted imports). */
export interface AnswerBody {
  readonly type?: string
  readonly status?: number
  readonly detail?: string
  readonly errors?: ReadonlyArray<{ readonly path: ReadonlyArray<string | number>; readonly message: string }>
  readonly direction?: string
  readonly format?: "cogo" | "uui"
  readonly document?: unknown
  readonly warnings?: ReadonlyArray<{ readonly nodeId: string; readonly feature: string; readonly action: string }>
  readonly jobId?: string
  readonly created?: boolean
  readonly state?: string
  readonly streamUrl?: string
}

export interface JsonResponse {
  readonly status: number
  readonly contentType: string | null
  readonly body: AnswerBody
}

export const postJson = async (url: string, body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}): Promise<JsonResponse> => {
  const response = await fetch(url, { method: "POST", body, headers: { "content-type": "application/json", ...headers } })
  const text = await response.text()
  let parsed: AnswerBody = { detail: text }
  try {
    parsed = JSON.parse(text) as AnswerBody
  } catch {
    // not JSON: the text is kept as `detail`
  }
  return { status: response.status, contentType: response.headers.get("content-type"), body: parsed }
}
