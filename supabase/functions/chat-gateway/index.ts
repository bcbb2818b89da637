// Supabase Edge Function "chat-gateway": forwards to the cogo service (COGO_SERVICE_URL) with streaming passthrough.
import { makeProxyHandler, serviceUrlFromEnv } from "../../../src/edge/proxy/proxy.ts"

const handler = makeProxyHandler({ serviceUrl: serviceUrlFromEnv(), functionName: "chat-gateway" })

Deno.serve(handler)
