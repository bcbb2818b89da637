/**
 * Node HTTP servers for the effect platform layer. The platform starts listening when the server layer is
 * built and attaches the router's handler a moment later; a request arriving in between would get no
 * answer at all. This server answers such requests with a problem+json 503 (retryable) instead.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"

const startingBody = JSON.stringify({
  type: "https://cogo.dev/problems/starting",
  title: "Service Unavailable",
  status: 503,
  detail: "the service is starting; retry shortly"
})

export const createWarmServer = (): Server => {
  const server = createServer()
  server.on("request", (_request: IncomingMessage, response: ServerResponse) => {
    // Once the router's handler is attached there are two listeners and this one stays out of the way.
    if (server.listenerCount("request") > 1) return
    response.writeHead(503, { "content-type": "application/problem+json", "retry-after": "1" })
    response.end(startingBody)
  })
  return server
}
