import { describe, expect, it } from "vitest"
import { AttemptDeadlines } from "../../src/services/jobs/attemptDeadlines.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe("one timer for a kind's attempt timeouts", () => {
  it("times out only the attempts still running at their deadline, each about its timeout after its own start", async () => {
    const timedOut: Array<{ readonly name: string; readonly after: number }> = []
    const started = new Map<string, number>()
    const deadlines = new AttemptDeadlines<string, string>(120, (name) => {
      timedOut.push({ name, after: performance.now() - started.get(name)! })
    })
    const start = (name: string) => {
      started.set(name, performance.now())
      deadlines.start(name, name)
    }
    start("ends-early")
    start("overruns-1")
    await sleep(60)
    start("overruns-2") // its deadline is 60 ms after the first two's
    start("ends-later")
    await sleep(20)
    deadlines.end("ends-early") // the timer waits for the oldest: it fires for an attempt that already ended
    await sleep(80)
    expect(timedOut.map((t) => t.name)).toEqual(["overruns-1"])
    deadlines.end("ends-later")
    await sleep(100)
    expect(timedOut.map((t) => t.name)).toEqual(["overruns-1", "overruns-2"])
    for (const { after } of timedOut) {
      expect(after).toBeGreaterThanOrEqual(119)
      expect(after).toBeLessThan(400)
    }
    deadlines.end("overruns-1") // its fiber's exit, after the timeout: already gone
    deadlines.end("never-started")
  })

  it("never keeps the process alive; after going idle it still times out the next attempt", async () => {
    const timedOut: Array<string> = []
    const deadlines = new AttemptDeadlines<string, string>(50, (name) => timedOut.push(name))
    const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === "Timeout").length
    const before = timers()
    deadlines.start("a", "a")
    expect(timers()).toBe(before)
    deadlines.end("a")
    await sleep(80) // the timer fired with nothing due
    expect(timedOut).toEqual([])
    deadlines.start("b", "b")
    deadlines.end("b")
    await sleep(20)
    deadlines.start("c", "c") // the timer, armed for "b"'s deadline, finds "c" not due yet and waits on for it
    await sleep(40)
    expect(timedOut).toEqual([])
    await sleep(60)
    expect(timedOut).toEqual(["c"])
  })
})
