import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import { convertFigma } from "../../src/figma/index.ts"
import { countNodes, generateFigmaFile } from "../fixtures/figma/generate.ts"

describe("performance", () => {
  it("converts a 3,000-node file Figma -> COGO UI JSON in under 100 ms (median of 7)", () => {
    const file = JSON.parse(JSON.stringify(generateFigmaFile(3_000))) as unknown
    expect(countNodes(generateFigmaFile(3_000))).toBeGreaterThanOrEqual(3_000)
    const timings: Array<number> = []
    for (let run = 0; run < 7; run++) {
      const start = performance.now()
      const result = convertFigma(file)
      timings.push(performance.now() - start)
      expect(Result.isSuccess(result)).toBe(true)
    }
    timings.sort((a, b) => a - b)
    expect(timings[3]).toBeLessThan(100)
  })
})
