// Supabase Edge Function "figma-compat": forwards to the cogo service (COGO_SERVICE_URL) with streaming passthrough.
import { makeProxyHandler, serviceUrlFromEnv } from "../../../src/edge/proxy/proxy.ts"

const handler = makeProxyHandler({ serviceUrl: serviceUrlFromEnv(), functionName: "figma-compat" })

Deno.serve(handler)
