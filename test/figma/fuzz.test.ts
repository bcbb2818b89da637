import { describe, expect, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { CogoDocument } from "../../src/domain/figma/CogoUi.ts"
import { UuiDocument } from "../../src/domain/figma/Uui.ts"
import { type ConversionDirection, convertFigma } from "../../src/services/figma/convert/index.ts"
import { generateFigmaFile, seededRandom } from "../fixtures/figma/generate.ts"
import { mutate, paths } from "./mutate.ts"
import { FIXTURES, loadFixture, toCogo } from "./support.ts"

const isCogo = Schema.is(CogoDocument)
const isUui = Schema.is(UuiDocument)

const fuzz = (
  seeds: ReadonlyArray<unknown>, iterations: number, direction: ConversionDirection, isValidOutput: (u: unknown) => boolean
) => {
  const seedPaths = seeds.map(paths)
  const random = seededRandom(12345)
  let converted = 0
  let rejected = 0
  for (let i = 0; i < iterations; i++) {
    const index = i % seeds.length
    const input = mutate(seeds[index], seedPaths[index] ?? [], random)
    let result: ReturnType<typeof convertFigma>
    try {
      result = convertFigma(input, direction)
    } catch (error) {
      throw new Error(`iteration ${i} threw: ${String(error)}`)
    }
    if (Result.isSuccess(result)) {
      if (!isValidOutput(result.success.document)) throw new Error(`iteration ${i}: output does not match the schema`)
      converted++
    } else {
      expect(result.failure.issues.length).toBeGreaterThan(0)
      rejected++
    }
  }
  return { converted, rejected }
}

describe("mutation fuzz", () => {
  it("10,000 mutated Figma documents: no throw, every success is valid COGO UI JSON", () => {
    const seeds = [...FIXTURES.map(loadFixture), generateFigmaFile(150)]
    const { converted, rejected } = fuzz(seeds, 10_000, "figma-to-cogo", isCogo)
    expect(converted + rejected).toBe(10_000)
    // Deletions, unknown enum values and extra nesting still convert (with warnings); a value of the wrong
    // JSON type is rejected with its path, by design. About a quarter to a third of the mutations convert.
    expect(converted).toBeGreaterThan(2_000)
  })

  it("2,000 mutated COGO documents back to UUI: no throw, every success is valid UUI", () => {
    const seeds = FIXTURES.map((name) => toCogo(name).document)
    const { converted, rejected } = fuzz(seeds, 2_000, "cogo-to-uui", isUui)
    expect(converted + rejected).toBe(2_000)
    // COGO UI JSON is our own format and decoded strictly, so most mutations are rejected with a path.
    expect(converted).toBeGreaterThan(200)
  })
})
