/**
 * Live fan-out of the realtime hub: frames written straight to each connection's socket.
 *
 * A live event is framed once per process (`frameOf`: JSON once, SSE bytes once) and the same bytes are
 * written to every subscriber of its project/job, one write per subscriber per hub pass (a pass's events for
 * one key are concatenated first). No per-connection queue, fiber or stream step is involved: with N
 * subscribers an event costs N `write` calls and nothing else.
 *
 * A connection starts in replay mode (`pending` is an array): its request fiber writes the database replay,
 * and live frames that arrive meanwhile are held in `pending` (bounded by `COGO_REALTIME_BUFFER` events and
 * `COGO_REALTIME_BUFFER_BYTES`). At the hand-over (`goLive`, run by the request fiber right after it wrote the
 * last replay frame, synchronously) `pending` is written and the hub writes directly from then on: no gap, no
 * duplicate, strict id order.
 *
 * The per-connection bound while live is the bytes waiting in Node's buffer (`writableLength`): a write that
 * would take it over `COGO_REALTIME_BUFFER_BYTES` ends the connection with `overflow` instead.
 */
import type { BusEvent } from "../../domain/platform/BusEvent.ts"

/** The raw connection (Node's `ServerResponse` fits), written by the hub once the connection is live. */
export interface LiveSink {
  write(chunk: Uint8Array): boolean
  readonly writableLength: number
  readonly writableEnded: boolean
  readonly destroyed: boolean
}

/** An event with its JSON text (`data`, encoded once per event, not per subscriber) and its size in bytes. */
export interface EventItem {
  readonly event: BusEvent
  readonly data: string
  readonly bytes: number
  /**
   * Whether the frame carries the event's id (a resume point). False for all but the last event of a batch row
   * on one stream (they share the row's id, see `EventBus`): a client cut off inside the row resumes before it
   * and gets the whole row again, rather than losing its rest.
   */
  readonly resume: boolean
}

/** The wire format, chosen by the edge (SSE). `event` is called once per event and framing, not per subscriber. */
export interface Framing {
  readonly event: (item: EventItem) => Uint8Array
  readonly heartbeat: Uint8Array
  readonly overflow: Uint8Array
  readonly reset: Uint8Array
}

export interface Bounds {
  /** Events held while a connection replays. */
  readonly events: number
  /** Bytes held while a connection replays, and bytes waiting in Node's buffer while it is live. */
  readonly bytes: number
}

export interface Subscriber {
  readonly owner: string
  /** Live events up to this id come from the replay (a live tail: they were committed before it connected). */
  readonly after: number
  /** Ids at or below `after` still to deliver: the gaps open when a live tail connected (their transactions may commit). */
  readonly also: ReadonlySet<number> | undefined
  readonly sink: LiveSink
  readonly framing: Framing
  /** Frames held during the replay; `null` once live (the hub then writes to `sink`). */
  pending: Array<Uint8Array> | null
  pendingEvents: number
  pendingBytes: number
  /** No more writes from the hub (overflow, drain or disconnect). */
  closed: boolean
  overflowed: boolean
  /** Tells the connection's request fiber that the hub ended it (overflow while live). */
  readonly ended: () => void
}

export const itemOf = (event: BusEvent, resume = true): EventItem => {
  const data = JSON.stringify(event)
  return { event, data, bytes: Buffer.byteLength(data), resume }
}

/** One framed copy per event and framing (a single slot: every connection of a process uses the same framing). */
const framed = new WeakMap<EventItem, { readonly framing: Framing; readonly bytes: Uint8Array }>()
const frameOf = (item: EventItem, framing: Framing): Uint8Array => {
  const cached = framed.get(item)
  if (cached?.framing === framing) return cached.bytes
  const bytes = framing.event(item)
  framed.set(item, { framing, bytes })
  return bytes
}

const frameAll = (items: ReadonlyArray<EventItem>, framing: Framing): Uint8Array =>
  items.length === 1 ? frameOf(items[0]!, framing) : Buffer.concat(items.map((item) => frameOf(item, framing)))

const writable = (sink: LiveSink) => !sink.destroyed && !sink.writableEnded

/** Ends a connection with `overflow`: at once when live; at the hand-over when still replaying. */
const overflow = (subscriber: Subscriber) => {
  subscriber.closed = true
  subscriber.overflowed = true
  if (subscriber.pending !== null) {
    subscriber.pending = []
    subscriber.pendingBytes = 0
    return
  }
  if (writable(subscriber.sink)) subscriber.sink.write(subscriber.framing.overflow)
  subscriber.ended()
}

/** Writes (live) or holds (replaying) one chunk of `events` events; over the bound the connection overflows. */
export const send = (subscriber: Subscriber, chunk: Uint8Array, events: number, bounds: Bounds): void => {
  if (subscriber.closed) return
  const pending = subscriber.pending
  if (pending !== null) {
    if (subscriber.pendingEvents + events > bounds.events || subscriber.pendingBytes + chunk.length > bounds.bytes) return overflow(subscriber)
    pending.push(chunk)
    subscriber.pendingEvents += events
    subscriber.pendingBytes += chunk.length
    return
  }
  const sink = subscriber.sink
  if (!writable(sink)) return
  if (sink.writableLength + chunk.length + subscriber.framing.overflow.length > bounds.bytes) return overflow(subscriber)
  sink.write(chunk)
}

/**
 * Delivers one hub pass's events of one key (in id order) to its subscribers: framed and concatenated once
 * for every subscriber that is behind all of them (all but those whose replay already covered some).
 * Returns how many events were handed out.
 */
export const fanOut = (items: ReadonlyArray<EventItem>, subscribers: Iterable<Subscriber>, bounds: Bounds): number => {
  const first = items[0]
  if (first === undefined) return 0
  let shared: { readonly framing: Framing; readonly chunk: Uint8Array } | undefined
  let handedOut = 0
  for (const subscriber of subscribers) {
    if (subscriber.closed) continue
    if (subscriber.after < first.event.id) {
      if (shared?.framing !== subscriber.framing) shared = { framing: subscriber.framing, chunk: frameAll(items, subscriber.framing) }
      send(subscriber, shared.chunk, items.length, bounds)
      handedOut += items.length
      continue
    }
    const newer = items.filter((item) => item.event.id > subscriber.after || subscriber.also?.has(item.event.id) === true)
    if (newer.length === 0) continue
    send(subscriber, frameAll(newer, subscriber.framing), newer.length, bounds)
    handedOut += newer.length
  }
  return handedOut
}

/**
 * The hand-over from replay to live, run by the connection's request fiber after it wrote the last replay
 * frame: writes what the hub held meanwhile, then the hub writes directly. True when the connection is still
 * open (false: it overflowed during the replay; the `overflow` frame is written here).
 */
export const goLive = (subscriber: Subscriber): boolean => {
  const pending = subscriber.pending ?? []
  subscriber.pending = null
  subscriber.pendingEvents = 0
  subscriber.pendingBytes = 0
  const sink = subscriber.sink
  if (!writable(sink)) return !subscriber.closed
  if (pending.length > 0) sink.write(pending.length === 1 ? pending[0]! : Buffer.concat(pending))
  if (subscriber.overflowed) {
    sink.write(subscriber.framing.overflow)
    return false
  }
  return !subscriber.closed
}

/** Bytes held for or waiting on a connection. */
export const bufferedBytes = (subscriber: Subscriber): number =>
  subscriber.pending === null ? subscriber.sink.writableLength : subscriber.pendingBytes
