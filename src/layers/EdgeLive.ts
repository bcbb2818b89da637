/**
 * The edge surface's pieces for `src/layers/Main.ts`: its services (auth, idempotency, rate limits, realtime,
 * chat sessions; they need the agents' services, `AgentsLive`), the HttpApi group handlers, and the raw
 * routes (SSE, PostgREST subset) with the global middleware (CORS, body caps, idempotency).
 */
import { Layer } from "effect"
import { Conflicts } from "../services/authoring/Conflicts.ts"
import { AuthenticationLive } from "../services/auth/Auth.ts"
import { ChatFrames } from "../services/chat/ChatFrames.ts"
import { ChatSessions } from "../services/chat/ChatSessions.ts"
import { ChatTurn } from "../services/chat/ChatTurn.ts"
import { ToolApproval } from "../services/chat/ToolApproval.ts"
import { Idempotency } from "../services/auth/Idempotency.ts"
import { RateLimiter } from "../services/chat/RateLimiter.ts"
import { Realtime } from "../services/realtime/Realtime.ts"
import { ChatLive } from "../edge/chat/ChatLive.ts"
import { EdgeMiddleware } from "../edge/http/EdgeMiddleware.ts"
import { EmbedLive } from "../edge/embed/EmbedLive.ts"
import { PostgrestLive } from "../edge/rest/Postgrest.ts"
import { RealtimeRoutesLive } from "../edge/realtime/RealtimeRoutes.ts"

/** Chat and the gateway claim idempotency keys themselves (a replay resumes the stream). */
// figma-plugin derives its idempotency from the verified signature and must check the signature first.
// Plugin-token creation answers a secret that must never be stored (the idempotency store keeps bodies).
export const selfManagedIdempotencyPaths = [
  "/functions/v1/chat", "/functions/v1/chat-gateway", "/functions/v1/figma-plugin", /^\/functions\/v1\/projects\/[^/]+\/plugin-tokens$/
]


export const EdgeServicesLive = Layer.mergeAll(
  Idempotency.layer({ selfManagedPaths: selfManagedIdempotencyPaths }),
  Realtime.layer,
  RateLimiter.layer,
  Conflicts.layer,
  ChatSessions.layer.pipe(Layer.provide(ChatTurn.layer), Layer.provide(ToolApproval.layer), Layer.provide(ChatFrames.layer))
).pipe(Layer.provideMerge(AuthenticationLive))

/** Handlers of the edge HttpApi groups (provided to `HttpApiBuilder.layer(Api)`). */
export const EdgeHandlersLive = Layer.mergeAll(ChatLive, EmbedLive)

/** Raw routes and the global middleware (merged into `ApiRoutes`). */
export const EdgeRoutesLive = Layer.mergeAll(EdgeMiddleware, PostgrestLive, RealtimeRoutesLive)
