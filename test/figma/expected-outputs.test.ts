/**
 * An oracle for the Figma converters that is not the converter: for three representative fixtures (text
 * styles and spans, an auto-layout row with space-between, the four gradient kinds with paint opacity), the
 * expected output of each direction is checked in under test/fixtures/figma/expected/ and was reviewed by hand
 * against the input (docs/testing.md, "Figma converter oracles", says what was checked). The test only reads
 * those files; it never writes them. A change in a converter's output fails here until a person reviews the
 * new output and replaces the file.
 */
import { describe, expect, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import type { ConversionDirection } from "../../src/services/figma/convert/index.ts"
import { convertOk } from "./support.ts"

const readJson = (path: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/figma/${path}`, import.meta.url), "utf8"))

/** The converter's answer as JSON (what the HTTP endpoint sends), so prototypes and `-0` do not matter. */
const asJson = (input: unknown, direction: ConversionDirection): unknown => JSON.parse(JSON.stringify(convertOk(input, direction)))

const documentOf = (answer: unknown): unknown => (answer as { readonly document: unknown }).document

const fixtures = ["text-mixed", "defect-space-between", "gradients-nodes"] as const

describe("Figma converters against reviewed expected outputs", () => {
  for (const name of fixtures) {
    const input = readJson(`${name}.json`)
    const expectedUui = readJson(`expected/${name}.uui.json`)
    const expectedCogo = readJson(`expected/${name}.cogo.json`)
    const expectedBack = readJson(`expected/${name}.cogo-to-uui.json`)

    it(`${name}: Figma -> UUI`, () => {
      expect(asJson(input, "figma-to-uui")).toStrictEqual(expectedUui)
    })

    it(`${name}: UUI -> COGO UI JSON (and Figma -> COGO gives the same)`, () => {
      expect(asJson(documentOf(expectedUui), "uui-to-cogo")).toStrictEqual(expectedCogo)
      expect(asJson(input, "figma-to-cogo")).toStrictEqual(expectedCogo)
    })

    it(`${name}: COGO UI JSON -> UUI`, () => {
      expect(asJson(documentOf(expectedCogo), "cogo-to-uui")).toStrictEqual(expectedBack)
    })
  }
})
