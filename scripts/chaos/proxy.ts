/**
 * A small round-robin TCP proxy in front of the replicas, behaving like a load balancer with health checks:
 * it polls each backend's `/health` every `checkMs` and sends new connections only to those answering 200
 * (all of them when none does, e.g. while Postgres is away, so clients see the service's own 503). A refused
 * connection (a replica just killed) is retried on the next backend before the client notices.
 */
import * as net from "node:net"

export interface Backend {
  readonly name: string
  readonly port: number
}

export interface Proxy {
  readonly port: number
  readonly setBackends: (backends: ReadonlyArray<Backend>) => void
  readonly close: () => Promise<void>
}

const healthy = async (backend: Backend): Promise<boolean> =>
  fetch(`http://127.0.0.1:${backend.port}/health`, { signal: AbortSignal.timeout(1_000) }).then(
    async (response) => {
      await response.body?.cancel()
      return response.status === 200
    },
    () => false
  )

export const startProxy = async (checkMs = 250): Promise<Proxy> => {
  let backends: ReadonlyArray<Backend> = []
  let up = new Set<string>()
  let next = 0
  const sockets = new Set<net.Socket>()

  const candidates = (): ReadonlyArray<Backend> => {
    const live = backends.filter((b) => up.has(b.name))
    return live.length > 0 ? live : backends
  }

  const connect = (client: net.Socket, attempt: number) => {
    const list = candidates()
    const backend = list[next++ % Math.max(list.length, 1)]
    if (backend === undefined || attempt >= 6) {
      client.destroy()
      return
    }
    const upstream = net.connect(backend.port, "127.0.0.1")
    sockets.add(upstream)
    let connected = false
    upstream.once("connect", () => {
      connected = true
      client.pipe(upstream)
      upstream.pipe(client)
      client.resume()
    })
    upstream.on("error", () => {
      if (!connected) {
        up.delete(backend.name)
        connect(client, attempt + 1)
      } else client.destroy()
    })
    upstream.on("close", () => {
      sockets.delete(upstream)
      if (connected) client.destroy()
    })
    client.on("close", () => upstream.destroy())
  }

  const server = net.createServer({ pauseOnConnect: true }, (client) => {
    sockets.add(client)
    client.on("error", () => client.destroy())
    client.on("close", () => sockets.delete(client))
    connect(client, 0)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0

  let checking = true
  const check = async () => {
    while (checking) {
      const results = await Promise.all(backends.map(async (b) => [b.name, await healthy(b)] as const))
      up = new Set(results.filter(([, ok]) => ok).map(([name]) => name))
      await new Promise((resolve) => setTimeout(resolve, checkMs))
    }
  }
  const checker = check()

  return {
    port,
    setBackends: (list) => {
      backends = list
      up = new Set([...up].filter((name) => list.some((b) => b.name === name)))
    },
    close: async () => {
      checking = false
      await checker
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
