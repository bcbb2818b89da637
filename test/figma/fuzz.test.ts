import { describe, expect, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import { CogoDocument } from "../../src/domain/figma/CogoUi.ts"
import { UuiDocument } from "../../src/domain/figma/Uui.ts"
import { type ConversionDirection, convertFigma } from "../../src/services/figma/convert/index.ts"
import { generateFigmaFile, seededRandom } from "../fixtures/figma/generate.ts"
import { FIXTURES, loadFixture, toCogo } from "./support.ts"

type Path = ReadonlyArray<string | number>


const REPLACEMENTS: ReadonlyArray<unknown> = [
  null, true, false, 0, -1, 1e308, -0.5, Number.NaN, Number.POSITIVE_INFINITY, "", "x", "SOLID", "IMAGE", "GRADIENT_DIAMOND",
  "FRAME", "TEXT", "INSTANCE", "VECTOR", "COMPONENT_SET", "CANVAS", "HORIZONTAL", "WRAP", "FILL", "HUG", "ABSOLUTE",
  "UNKNOWN_FUTURE_VALUE", [], {}, [{}], [null], { id: "z", type: "FRAME" }, { id: "y", type: "TEXT", characters: "t" },
  { type: "SOLID", color: { r: 2, g: -1, b: 0.5 } }, undefined
]

/** Every path to a value inside `root` (objects and arrays included). */
const paths = (root: unknown): Array<Path> => {
  const out: Array<Path> = []
  const stack: Array<{ value: unknown; path: Path }> = [{ value: root, path: [] }]
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (item.path.length > 0) out.push(item.path)
    const { value, path } = item
    if (Array.isArray(value)) value.forEach((v, i) => stack.push({ value: v, path: [...path, i] }))
    else if (typeof value === "object" && value !== null) {
      for (const [k, v] of Object.entries(value)) stack.push({ value: v, path: [...path, k] })
    }
  }
  return out
}

type Container = Record<string | number, unknown>

const parentOf = (root: unknown, path: Path): Container | undefined => {
  let current: unknown = root
  for (const key of path.slice(0, -1)) {
    if (typeof current !== "object" || current === null) return undefined
    current = (current as Container)[key]
  }
  return typeof current === "object" && current !== null ? (current as Container) : undefined
}

/** Applies 1-3 random mutations (delete, replace, duplicate, perturb) to a clone of `document`. */
const mutate = (document: unknown, documentPaths: ReadonlyArray<Path>, random: () => number): unknown => {
  const clone: unknown = structuredClone(document)
  const count = 1 + Math.floor(random() * 3)
  for (let i = 0; i < count; i++) {
    const path = documentPaths[Math.floor(random() * documentPaths.length)]
    const key = path?.at(-1)
    const parent = path === undefined ? undefined : parentOf(clone, path)
    if (parent === undefined || key === undefined || !(key in parent)) continue
    const op = random()
    const value = parent[key]
    if (op < 0.25) {
      if (Array.isArray(parent) && typeof key === "number") parent.splice(key, 1)
      else delete parent[key]
    } else if (op < 0.7) {
      parent[key] = REPLACEMENTS[Math.floor(random() * REPLACEMENTS.length)]
    } else if (op < 0.85 && Array.isArray(value)) {
      value.push(...structuredClone(value))
    } else if (typeof value === "number") {
      parent[key] = random() < 0.5 ? -value : value * 1e6
    } else {
      parent[key] = structuredClone(parent)
    }
  }
  return clone
}

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
