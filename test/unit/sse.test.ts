/** SSE framing (src/edge/http/sse.ts), directly: frames as the EventSource spec parses them. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TestClock } from "effect/testing"
import { lastEventIdOf, sseComment, sseFrame, withHeartbeat } from "../../src/edge/http/sse.ts"

describe("sseFrame", () => {
  it("writes id, event and data lines and ends with a blank line", () => {
    assert.strictEqual(sseFrame({ id: 7, event: "progress", data: "{\"a\":1}" }), "id: 7\nevent: progress\ndata: {\"a\":1}\n\n")
    assert.strictEqual(sseFrame({ id: "01J", data: "x" }), "id: 01J\ndata: x\n\n")
  })

  it("omits id and event when absent", () => {
    assert.strictEqual(sseFrame({ data: "hello" }), "data: hello\n\n")
    assert.strictEqual(sseFrame({ event: "done", data: "" }), "event: done\ndata: \n\n")
  })

  it("splits multi-line data into one data line per line (nothing can end the frame early)", () => {
    assert.strictEqual(sseFrame({ data: "a\nb\n\nc" }), "data: a\ndata: b\ndata: \ndata: c\n\n")
    // Exactly one blank line, at the end: the frame is one event however its data looks.
    const frame = sseFrame({ id: 1, data: "x\n\ny\n" })
    assert.strictEqual(frame.indexOf("\n\n"), frame.length - 2)
  })
})

describe("sseComment", () => {
  it("is a colon line that clients ignore", () => {
    assert.strictEqual(sseComment("heartbeat"), ": heartbeat\n\n")
  })
})

describe("lastEventIdOf", () => {
  it("prefers the Last-Event-ID header, falls back to the lastEventId query, ignores empty values", () => {
    assert.strictEqual(lastEventIdOf({ "last-event-id": "42" }, "/stream?lastEventId=7"), "42")
    assert.strictEqual(lastEventIdOf({}, "/stream?lastEventId=7"), "7")
    assert.strictEqual(lastEventIdOf({ "last-event-id": "" }, "/stream?lastEventId=7"), "7")
    assert.strictEqual(lastEventIdOf({}, "/stream?lastEventId="), undefined)
    assert.strictEqual(lastEventIdOf({}, "http://host/stream"), undefined)
  })
})

describe("withHeartbeat", () => {
  it.effect("interleaves a heartbeat every interval after the first and ends when the frames end", () =>
    Effect.gen(function*() {
      const frames = Stream.make("a").pipe(Stream.concat(Stream.fromEffect(Effect.as(Effect.sleep("3500 millis"), "b"))))
      const fiber = yield* Stream.runCollect(withHeartbeat(frames, "1 second", "hb")).pipe(Effect.forkChild)
      for (let i = 0; i < 8; i++) {
        yield* Effect.yieldNow
        yield* TestClock.adjust("500 millis")
      }
      assert.deepStrictEqual(yield* Fiber.join(fiber), ["a", "hb", "hb", "hb", "b"])
    }))
})
