/**
 * Child process of `bench/sse.ts`: opens N SSE connections to one project stream (in its own process, so the
 * server's memory is measured without the clients), records each event's delivery latency from the `sentAt`
 * the publisher put in its payload (epoch ms; same machine clock), and reports them over IPC.
 * Arguments: url, connections, expected events per connection, and optionally the local address to connect
 * from (several clients on 127.0.0.x each get their own ephemeral port range: 50k sockets need more than one).
 */
import * as net from "node:net"
import { createSseParser } from "../test/support/sseClient.ts"

const [url = "", countText = "0", expectedText = "0", localAddress] = process.argv.slice(2)
const count = Number(countText)
const expected = Number(expectedText)
const target = new URL(url)
const latencies: Array<number> = []
let connected = 0
let received = 0
let reported = false
const now = () => performance.timeOrigin + performance.now()

/** A raw HTTP/1.1 GET over a socket: the lightest client, so 10k of them fit in one process. */
const open = () =>
  new Promise<void>((resolve, reject) => {
    const socket = net.connect({ port: Number(target.port), host: target.hostname, ...(localAddress === undefined ? {} : { localAddress }) }, () => {
      socket.setNoDelay(true)
      socket.write(`GET ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nAccept: text/event-stream\r\n\r\n`)
    })
    socket.setEncoding("utf8")
    let first = true
    const feed = createSseParser((frame) => {
      const match = /"sentAt":([\d.]+)/.exec(frame.data)
      if (match === null) return
      latencies.push(now() - Number(match[1]))
      received++
      if (received === count * expected) report()
    })
    socket.on("data", (chunk: string) => {
      if (first) {
        first = false
        if (!chunk.startsWith("HTTP/1.1 200")) return reject(new Error(chunk.slice(0, 100)))
        connected++
        resolve()
        // The status line and headers end at the first blank line; frames follow.
        const body = chunk.indexOf("\r\n\r\n")
        if (body >= 0) feed(chunk.slice(body + 4))
        return
      }
      feed(chunk)
    })
    socket.on("error", reject)
  })

const report = () => {
  if (reported) return
  reported = true
  process.send?.({ type: "done", latencies })
}

process.on("message", (message: { type: string }) => {
  if (message.type === "report") report()
})

for (let i = 0; i < count; i += 250) {
  await Promise.all(Array.from({ length: Math.min(250, count - i) }, open))
}
process.send?.({ type: "ready", connected })
