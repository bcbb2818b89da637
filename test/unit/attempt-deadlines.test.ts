import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { AttemptDeadlines } from "../../src/services/jobs/attemptDeadlines.ts"

// Fake timers and a fake `performance.now`: every deadline lands on an exact millisecond.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] })
})
afterEach(() => {
  vi.useRealTimers()
})

const track = (timeoutMs: number) => {
  const timedOut: Array<{ readonly name: string; readonly at: number }> = []
  const deadlines = new AttemptDeadlines<string, string>(timeoutMs, (name) => timedOut.push({ name, at: performance.now() }))
  return { deadlines, timedOut, names: () => timedOut.map((t) => t.name) }
}

describe("one timer for a kind's attempt timeouts", () => {
  it("times out only the attempts still running at their deadline, each exactly its timeout after its own start", () => {
    const { deadlines, names, timedOut } = track(120)
    const arms = vi.spyOn(globalThis, "setTimeout")
    const t0 = performance.now()
    deadlines.start("ends-early", "ends-early")
    deadlines.start("overruns-1", "overruns-1")
    vi.advanceTimersByTime(60)
    deadlines.start("overruns-2", "overruns-2") // its deadline is 60 ms after the first two's
    deadlines.start("ends-later", "ends-later")
    vi.advanceTimersByTime(20)
    deadlines.end("ends-early") // the timer waits for the oldest: it fires for an attempt that already ended
    vi.advanceTimersByTime(39)
    expect(names()).toEqual([])
    vi.advanceTimersByTime(1) // t0 + 120: the first deadline, to the millisecond
    expect(names()).toEqual(["overruns-1"])
    deadlines.end("ends-later")
    vi.advanceTimersByTime(59)
    expect(names()).toEqual(["overruns-1"])
    vi.advanceTimersByTime(1)
    expect(names()).toEqual(["overruns-1", "overruns-2"])
    expect(timedOut.map((t) => t.at - t0)).toEqual([120, 180])
    expect(arms).toHaveBeenCalledTimes(2) // armed for the first deadline, then once more for the next one due
    deadlines.end("overruns-1") // its fiber's exit, after the timeout: already gone
    deadlines.end("never-started")
    vi.advanceTimersByTime(1_000)
    expect(names()).toEqual(["overruns-1", "overruns-2"])
  })

  it("keeps one timer however many attempts run, never keeping the process alive", () => {
    const { deadlines } = track(50)
    const ref = () => process.getActiveResourcesInfo().filter((resource) => resource === "Timeout").length
    const before = { timers: vi.getTimerCount(), ref: ref() }
    for (let i = 0; i < 10; i++) deadlines.start(`a${i}`, `a${i}`)
    expect(vi.getTimerCount()).toBe(before.timers + 1)
    vi.useRealTimers()
    const real = new AttemptDeadlines<string, string>(60_000, () => {})
    real.start("b", "b")
    expect(ref()).toBe(before.ref)
    real.end("b")
  })

  it("after going idle it still times out the next attempt, re-armed for its own deadline", () => {
    const { deadlines, names, timedOut } = track(50)
    deadlines.start("a", "a")
    deadlines.end("a")
    vi.advanceTimersByTime(80) // the timer fired with nothing due
    expect(names()).toEqual([])
    const t0 = performance.now()
    deadlines.start("b", "b")
    deadlines.end("b")
    vi.advanceTimersByTime(20)
    deadlines.start("c", "c") // the timer, armed for "b"'s deadline, finds "c" not due yet and waits on for it
    vi.advanceTimersByTime(49)
    expect(names()).toEqual([])
    vi.advanceTimersByTime(1)
    expect(names()).toEqual(["c"])
    expect(timedOut[0]!.at - t0).toBe(70)
  })
})
