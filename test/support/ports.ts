import * as net from "node:net"

/**
 * Ports for child processes are picked below the kernel's ephemeral range (32768-60999 on Linux by default): a
 * port from that range can be taken by any outgoing connection between this check and the child's bind (seen in
 * CI as EADDRINUSE). The test PostgreSQL clusters use 25xxx, so this range stays clear of them too.
 */
const low = 27_000
const high = 32_000
const handedOut = new Set<number>()

const bindable = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = net.createServer()
    server.once("error", () => resolve(false))
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)))
  })

/** A TCP port that was free a moment ago and not handed out before by this process (for child processes that need a fixed port). */
export const freePort = async (): Promise<number> => {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low))
    if (handedOut.has(port)) continue
    if (await bindable(port)) {
      handedOut.add(port)
      return port
    }
  }
  throw new Error(`no free port between ${low} and ${high}`)
}
