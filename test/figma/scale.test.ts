import { describe, expect, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { CogoDocument } from "../../src/domain/figma/CogoUi.ts"
import { convertFigma } from "../../src/services/figma/convert/index.ts"
import { countNodes, generateFigmaFile } from "../fixtures/figma/generate.ts"

// Speed is measured by `npm run bench -- figma` (goal: 3,000 nodes under 100 ms), not asserted here.
describe("large documents", () => {
  it("converts a generated 3,000-node file to a valid COGO document, deterministically", () => {
    const generated = generateFigmaFile(3_000)
    expect(countNodes(generated)).toBeGreaterThanOrEqual(3_000)
    const input = JSON.parse(JSON.stringify(generated)) as unknown
    // Both conversions must succeed: a failure throws here instead of ending the test early.
    const first = Result.getOrThrow(convertFigma(input))
    const second = Result.getOrThrow(convertFigma(input))
    expect(first.format).toBe("cogo")
    expect(Schema.is(CogoDocument)(first.document)).toBe(true)
    expect(JSON.stringify(second)).toBe(JSON.stringify(first))
  })
})
