/**
 * Supabase Edge Function proxies: web-standard `fetch` handlers (Request -> Response, no Node-only APIs, so
 * they run on Deno/Supabase Edge, Node 18+, Bun and workers alike) that forward an edge function call to the
 * cogo service (`COGO_SERVICE_URL`).
 *
 * - Streaming passthrough both ways: the request body and the response body are piped, never buffered, so
 *   the first SSE byte reaches the client as soon as the service writes it.
 * - CORS the Supabase way (preflight answered at the edge; CORS headers on every response).
 * - `traceparent` propagated (or started here when the client sent none), so one trace spans edge and service.
 * - The service down or unreachable: 502 problem+json. A client that goes away aborts the upstream request.
 */

export const edgeFunctions = ["chat-gateway", "chat", "embed", "figma-compat", "figma-plugin"] as const
export type EdgeFunctionName = (typeof edgeFunctions)[number]

export const corsHeaders: Record<string, string> = {
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
  "access-control-allow-headers":
    "authorization, apikey, x-client-info, content-type, idempotency-key, traceparent, tracestate, last-event-id, accept, prefer, x-cogo-timestamp, x-cogo-signature",
  "access-control-expose-headers":
    "content-range, retry-after, idempotent-replayed, x-cogo-stream-id, x-cogo-chat-id, x-vercel-ai-ui-message-stream, traceparent",
  "access-control-max-age": "86400"
}

/** Request headers forwarded to the service (hop-by-hop and host headers are not). */
const forwardedRequestHeaders = [
  "authorization",
  "apikey",
  "content-type",
  "accept",
  "idempotency-key",
  "last-event-id",
  "traceparent",
  "tracestate",
  "x-client-info",
  "prefer",
  "accept-profile",
  "x-cogo-timestamp",
  "x-cogo-signature"
]
/** Response headers not copied back (the runtime sets its own framing). */
const droppedResponseHeaders = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"])

export interface ProxyOptions {
  /** Base URL of the cogo service, e.g. `https://cogo.internal:3000`. */
  readonly serviceUrl: string
  readonly functionName: EdgeFunctionName
  /** Injected for tests; the global `fetch` by default. */
  readonly fetch?: typeof fetch
}

const hex = (bytes: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("")

/** A new sampled W3C trace context, for requests that arrive without one. */
export const newTraceparent = () => `00-${hex(16)}-${hex(8)}-01`

const problem = (status: number, slug: string, title: string, detail: string) =>
  new Response(JSON.stringify({ type: `https://cogo.dev/problems/${slug}`, title, status, detail }), {
    status,
    headers: { ...corsHeaders, "content-type": "application/problem+json" }
  })

/** The service path for a request to this function: `/functions/v1/<name>` plus whatever follows the name. */
export const targetPath = (functionName: string, pathname: string): string => {
  const segments = pathname.split("/")
  const at = segments.indexOf(functionName)
  const rest = at < 0 ? "" : segments.slice(at + 1).join("/")
  return `/functions/v1/${functionName}${rest === "" ? "" : `/${rest}`}`
}

export const makeProxyHandler = (options: ProxyOptions) => {
  const doFetch = options.fetch ?? fetch
  const base = options.serviceUrl.replace(/\/+$/, "")
  return async (request: Request): Promise<Response> => {
    if (request.method === "OPTIONS") return new Response(null, { status: 204, headers: corsHeaders })
    const url = new URL(request.url)
    const target = `${base}${targetPath(options.functionName, url.pathname)}${url.search}`
    const headers = new Headers()
    for (const name of forwardedRequestHeaders) {
      const value = request.headers.get(name)
      if (value !== null) headers.set(name, value)
    }
    if (!headers.has("traceparent")) headers.set("traceparent", newTraceparent())
    const hasBody = request.method !== "GET" && request.method !== "HEAD" && request.body !== null
    let upstream: Response
    try {
      upstream = await doFetch(target, {
        method: request.method,
        headers,
        signal: request.signal,
        ...(hasBody ? { body: request.body, duplex: "half" } as RequestInit : {})
      })
    } catch (error) {
      if (request.signal.aborted) return new Response(null, { status: 499 })
      return problem(502, "service-unavailable", "Bad Gateway",
        `the cogo service did not answer (${error instanceof Error ? error.message : "network error"})`)
    }
    const responseHeaders = new Headers(corsHeaders)
    upstream.headers.forEach((value, name) => {
      if (!droppedResponseHeaders.has(name)) responseHeaders.set(name, value)
    })
    responseHeaders.set("traceparent", headers.get("traceparent")!)
    return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: responseHeaders })
  }
}

/** Reads `COGO_SERVICE_URL` from whichever runtime this is (Deno on Supabase Edge, Node, Bun). */
export const serviceUrlFromEnv = (): string => {
  const runtime = globalThis as unknown as {
    readonly Deno?: { readonly env: { get: (name: string) => string | undefined } }
    readonly process?: { readonly env: Record<string, string | undefined> }
  }
  const value = runtime.Deno?.env.get("COGO_SERVICE_URL") ?? runtime.process?.env["COGO_SERVICE_URL"]
  if (value === undefined || value === "") throw new Error("COGO_SERVICE_URL is not set")
  return value
}
