/**
 * Embedded Postgres (PGlite + pgvector) served over the Postgres wire protocol from a worker thread.
 *
 * The main thread hands `@effect/sql-pg` one in-process Duplex per pooled connection (see bridge.ts);
 * their bytes arrive here as `data` messages. PGlite is a single backend, so this worker multiplexes the
 * virtual connections onto it:
 * - startup (and SSL/cancel requests) are answered here, everything else goes to the backend unchanged;
 * - a connection's messages run only as whole batches ending in Sync or Query, never interleaved;
 * - a connection inside a transaction (ReadyForQuery status T or E) owns the backend until it is idle again,
 *   so other connections wait instead of running inside its transaction;
 * - NotificationResponse messages are copied to every connection (the client ignores channels it does not
 *   listen on), which makes LISTEN/NOTIFY work across connections as on a real server.
 *
 * Runs on Node's own type stripping (erasable TypeScript only) so it needs no loader in any host.
 */
import { PGlite } from "@electric-sql/pglite"
import { vector } from "@electric-sql/pglite-pgvector"
import * as fs from "node:fs"
import { parentPort, workerData } from "node:worker_threads"

interface WorkerInit {
  readonly dataDir: string
  /** A tarball of a data directory (the migrated template) to start an in-memory database from. */
  readonly loadDataDir?: string
}

type Inbound =
  | { readonly type: "open"; readonly id: number }
  | { readonly type: "data"; readonly id: number; readonly bytes: Uint8Array }
  | { readonly type: "close"; readonly id: number }
  | { readonly type: "shutdown" }
  | { readonly type: "dump"; readonly path: string }

interface Connection {
  readonly id: number
  buffer: Buffer
  started: boolean
  pending: Array<Buffer>
}

interface Batch {
  readonly conn: number
  readonly bytes: Uint8Array
  /** Issued by the worker itself (a rollback for a vanished client): runs even though the client is gone. */
  readonly internal?: boolean
}

const port = parentPort
if (port === null) throw new Error("pglite-worker must run in a worker thread")
const init = workerData as WorkerInit

const SSL_REQUEST = 80877103
const CANCEL_REQUEST = 80877102
const GSS_REQUEST = 80877104

const message = (type: string, body: Buffer): Buffer => {
  const head = Buffer.alloc(5)
  head.write(type, 0, "latin1")
  head.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([head, body])
}
const int32 = (n: number): Buffer => {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}
const cstr = (s: string): Buffer => Buffer.from(s + "\0", "utf8")

const startupReply = (id: number): Buffer =>
  Buffer.concat([
    message("R", int32(0)),
    ...[
      ["server_version", "17.5"],
      ["server_encoding", "UTF8"],
      ["client_encoding", "UTF8"],
      ["DateStyle", "ISO, MDY"],
      ["TimeZone", "UTC"],
      ["integer_datetimes", "on"],
      ["standard_conforming_strings", "on"],
      ["application_name", "cogo-embedded"]
    ].map(([k, v]) => message("S", Buffer.concat([cstr(k!), cstr(v!)]))),
    message("K", Buffer.concat([int32(id), int32(0)])),
    message("Z", Buffer.from("I", "latin1"))
  ])

const db = await PGlite.create(init.dataDir === ":memory:" ? "memory://" : init.dataDir, {
  extensions: { vector },
  ...(init.loadDataDir === undefined ? {} : { loadDataDir: new Blob([fs.readFileSync(init.loadDataDir)]) })
})

const connections = new Map<number, Connection>()
const queue: Array<Batch> = []
let owner: number | undefined
let running = false

const send = (id: number, bytes: Uint8Array) => {
  if (bytes.length === 0 || !connections.has(id)) return
  // Own the bytes (Buffer slices share a pool that cannot be transferred), then hand them over without a copy.
  const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !Buffer.isBuffer(bytes) ? bytes : new Uint8Array(bytes)
  port.postMessage({ type: "data", id, bytes: owned }, [owned.buffer as ArrayBuffer])
}

/** Splits a backend response into messages; returns the bytes without notifications, the notifications,
 * and the status byte of the last ReadyForQuery (undefined when the batch produced none). */
const splitResponse = (out: Uint8Array) => {
  const kept: Array<Uint8Array> = []
  const notifications: Array<Uint8Array> = []
  let status: string | undefined
  let offset = 0
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  while (offset + 5 <= out.length) {
    const type = out[offset]!
    const length = view.getInt32(offset + 1)
    const end = offset + 1 + length
    const slice = out.subarray(offset, end)
    if (type === 0x41) notifications.push(slice)
    else kept.push(slice)
    if (type === 0x5a) status = String.fromCharCode(out[offset + 5]!)
    offset = end
  }
  return { kept, notifications, status }
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const total = parts.reduce((n, p) => n + p.length, 0)
  const result = new Uint8Array(total)
  let offset = 0
  for (const p of parts) {
    result.set(p, offset)
    offset += p.length
  }
  return result
}

const nextBatch = (): Batch | undefined => {
  const index = owner === undefined ? 0 : queue.findIndex((b) => b.conn === owner)
  if (index < 0) return undefined
  return queue.splice(index, 1)[0]
}

const pump = async () => {
  if (running) return
  running = true
  try {
    for (let batch = nextBatch(); batch !== undefined; batch = nextBatch()) {
      if (!batch.internal && !connections.has(batch.conn)) continue
      const out = await db.execProtocolRaw(batch.bytes, { syncToFs: false })
      const { kept, notifications, status } = splitResponse(out)
      // No ReadyForQuery means the backend is mid extended-query for this connection: keep it owned.
      owner = status === "I" ? undefined : batch.conn
      send(batch.conn, concat(kept))
      if (notifications.length > 0) {
        for (const id of connections.keys()) send(id, concat(notifications))
      }
    }
  } catch (cause) {
    port.postMessage({ type: "fatal", message: String(cause) })
  } finally {
    running = false
  }
}

const onData = (conn: Connection, chunk: Uint8Array) => {
  conn.buffer = conn.buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([conn.buffer, chunk])
  for (;;) {
    if (!conn.started) {
      if (conn.buffer.length < 8) return
      const length = conn.buffer.readInt32BE(0)
      if (conn.buffer.length < length) return
      const code = conn.buffer.readInt32BE(4)
      conn.buffer = conn.buffer.subarray(length)
      if (code === SSL_REQUEST || code === GSS_REQUEST) {
        send(conn.id, Buffer.from("N", "latin1"))
      } else if (code === CANCEL_REQUEST) {
        // PGlite cannot interrupt a running statement; the side connection is simply closed.
        port.postMessage({ type: "end", id: conn.id })
        connections.delete(conn.id)
        return
      } else {
        conn.started = true
        send(conn.id, startupReply(conn.id))
      }
      continue
    }
    if (conn.buffer.length < 5) return
    const length = conn.buffer.readInt32BE(1)
    if (conn.buffer.length < length + 1) return
    const msg = conn.buffer.subarray(0, length + 1)
    conn.buffer = conn.buffer.subarray(length + 1)
    const type = msg[0]
    if (type === 0x58) {
      // Terminate
      closeConnection(conn.id)
      return
    }
    conn.pending.push(msg)
    if (type === 0x53 || type === 0x51) {
      // Sync or Query closes a batch
      queue.push({ conn: conn.id, bytes: concat(conn.pending) })
      conn.pending = []
      void pump()
    }
  }
}

const closeConnection = (id: number) => {
  if (!connections.delete(id)) return
  for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.conn === id) queue.splice(i, 1)
  // A client that vanished inside a transaction: roll it back first so the backend is usable again.
  if (owner === id) queue.unshift({ conn: id, bytes: message("Q", cstr("ROLLBACK")), internal: true })
  port.postMessage({ type: "end", id })
  void pump()
}

port.on("message", (msg: Inbound) => {
  switch (msg.type) {
    case "open":
      connections.set(msg.id, { id: msg.id, buffer: Buffer.alloc(0), started: false, pending: [] })
      return
    case "data": {
      const conn = connections.get(msg.id)
      if (conn !== undefined) onData(conn, msg.bytes)
      return
    }
    case "close":
      closeConnection(msg.id)
      return
    case "shutdown":
      void (async () => {
        while (running) await new Promise((r) => setTimeout(r, 5))
        await db.close()
        port.postMessage({ type: "closed" })
      })()
      return
    case "dump":
      // A consistent tarball of the data directory: everything flushed first, no batch running meanwhile.
      void (async () => {
        while (running) await new Promise((r) => setTimeout(r, 5))
        running = true
        try {
          await db.exec("CHECKPOINT")
          const tarball = await db.dumpDataDir("none")
          fs.writeFileSync(msg.path, new Uint8Array(await tarball.arrayBuffer()))
          port.postMessage({ type: "dumped" })
        } catch (cause) {
          port.postMessage({ type: "fatal", message: `dump failed: ${String(cause)}` })
        } finally {
          running = false
          void pump()
        }
      })()
      return
  }
})

port.postMessage({ type: "ready" })
