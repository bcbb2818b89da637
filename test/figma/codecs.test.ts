import { describe, expect, it } from "@effect/vitest"
import { Result, Schema, type SchemaAST } from "effect"
import { CogoDocument } from "../../src/domain/figma/CogoUi.ts"
import {
  detectFigmaShape, FigmaFileResponse, type FigmaInputShape, FigmaNode, FigmaNodeEntry, FigmaNodesResponse
} from "../../src/domain/figma/FigmaInput.ts"
import { UuiDocument } from "../../src/domain/figma/Uui.ts"
import { compact } from "../../src/services/figma/convert/compact.ts"
import { compileGuard } from "../../src/services/figma/convert/fastGuard.ts"
import { type ConversionDirection, convertFigma, decodeFigma } from "../../src/services/figma/convert/index.ts"
import { generateFigmaFile, seededRandom } from "../fixtures/figma/generate.ts"
import { mutate, paths } from "./mutate.ts"
import { FIXTURES, loadFixture, toCogo, toUui } from "./support.ts"

/* Direct tests of the codecs: the UUI/COGO/Figma schemas, `compact`, and the compiled guard. */

const json = (value: unknown): unknown => JSON.parse(JSON.stringify(value))

/** The shape of each fixture and the schema that shape is decoded with. */
const FIXTURE_SHAPES: Readonly<Record<(typeof FIXTURES)[number], FigmaInputShape>> = {
  "auto-layout.json": "file",
  "components.json": "file",
  "old-era.json": "file",
  "gradients-nodes.json": "nodes",
  "images-shadows.plugin.json": "pluginExport",
  "text-mixed.json": "node",
  "vectors.json": "node"
}
const SHAPE_SCHEMAS: Readonly<Record<FigmaInputShape, SchemaAST.AST>> = {
  file: FigmaFileResponse.ast,
  nodes: FigmaNodesResponse.ast,
  pluginExport: FigmaNodeEntry.ast,
  node: FigmaNode.ast
}
const fixturesOf = (shape: FigmaInputShape) => FIXTURES.filter((name) => FIXTURE_SHAPES[name] === shape).map(loadFixture)

const failure = (input: unknown, direction: ConversionDirection) => {
  const result = convertFigma(input, direction)
  if (Result.isSuccess(result)) throw new Error(`expected a decode failure for ${direction}`)
  return result.failure
}

const uuiShape = (fill: unknown, extra: object = {}) => ({
  schemaVersion: 1,
  roots: [{
    kind: "shape", shape: "rectangle", id: "a", width: { mode: "fixed", size: 10 }, height: { mode: "hug" }, fills: [fill], ...extra
  }],
  tokens: []
})
const cogoDocument = (root: unknown) => ({ schemaVersion: 1, roots: [root], theme: { tokens: [] } })

/** `levels` nested single-child nodes built without recursion (the point is to exceed the stack). */
const nested = (levels: number, wrap: (child: unknown, level: number) => unknown, leaf: unknown): unknown => {
  let node = leaf
  for (let level = 0; level < levels; level++) node = wrap(node, level)
  return node
}

describe("UUI and COGO codecs", () => {
  it.each(FIXTURES)("%s: UUI and COGO outputs decode and encode back to the same JSON", (name) => {
    const uui = json(toUui(name).document)
    const cogo = json(toCogo(name).document)
    const decodedUui = Schema.decodeUnknownSync(UuiDocument)(uui)
    const decodedCogo = Schema.decodeUnknownSync(CogoDocument)(cogo)
    expect(Schema.encodeSync(UuiDocument)(decodedUui)).toStrictEqual(uui)
    expect(Schema.encodeSync(CogoDocument)(decodedCogo)).toStrictEqual(cogo)
  })

  it("a minimal UUI document decodes; a bad colour, a NaN or a future schema version is rejected at its path", () => {
    const ok = convertFigma(uuiShape({ type: "solid", color: "#ff0000ff" }), "uui-to-cogo")
    expect(Result.isSuccess(ok)).toBe(true)
    expect(failure(uuiShape({ type: "solid", color: "#FF0000FF" }), "uui-to-cogo").issues)
      .toStrictEqual([{ path: ["roots", 0, "fills", 0, "color"], message: "Expected a string matching the RegExp ^#[0-9a-f]{8}$" }])
    expect(failure(uuiShape({ type: "solid", color: "#ff0000ff" }, { opacity: Number.NaN }), "uui-to-cogo").issues)
      .toStrictEqual([{ path: ["roots", 0, "opacity"], message: "Expected a finite number" }])
    const future = failure({ ...uuiShape({ type: "solid", color: "#ff0000ff" }), schemaVersion: 2 }, "uui-to-cogo")
    expect(future.format).toBe("uui")
    expect(future.issues.map((issue) => issue.path)).toStrictEqual([["schemaVersion"]])
  })

  it("COGO: `infinity` is the only string extent; an unknown widget type is rejected at the widget", () => {
    const ok = convertFigma(cogoDocument({ type: "SizedBox", id: "b", width: "infinity", height: 4 }), "cogo-to-uui")
    if (Result.isFailure(ok) || ok.success.format !== "uui") throw new Error("expected UUI")
    expect(ok.success.document.roots[0]).toMatchObject({ id: "b", width: { mode: "fill" }, height: { mode: "fixed", size: 4 } })
    const inf = failure(cogoDocument({ type: "SizedBox", id: "b", width: "inf", height: 4 }), "cogo-to-uui")
    expect(inf.format).toBe("cogo")
    expect(inf.issues.map((issue) => issue.path)).toStrictEqual([["roots", 0, "width"]])
    expect(failure(cogoDocument({ type: "Marquee", id: "b" }), "cogo-to-uui").issues.map((issue) => issue.path))
      .toStrictEqual([["roots", 0]])
  })
})

describe("Figma input codec", () => {
  it("detects the four input shapes and nothing else", () => {
    expect(detectFigmaShape({ name: "f", lastModified: "x", document: {} })).toBe("file")
    expect(detectFigmaShape({ document: {} })).toBe("pluginExport")
    expect(detectFigmaShape({ nodes: {} })).toBe("nodes")
    expect(detectFigmaShape({ id: "1:1", type: "FRAME" })).toBe("node")
    expect(detectFigmaShape({ id: "1:1" })).toBeUndefined()
    expect(detectFigmaShape([{ id: "1:1", type: "FRAME" }])).toBeUndefined()
    expect(detectFigmaShape(null)).toBeUndefined()
  })

  it("every fixture decodes to a source with at least one document; a node with a numeric id names `id`", () => {
    for (const name of FIXTURES) {
      const decoded = decodeFigma(loadFixture(name))
      if (Result.isFailure(decoded)) throw new Error(`${name} did not decode`)
      expect(decoded.success.shape).toBe(FIXTURE_SHAPES[name])
      expect(decoded.success.source.documents.length).toBeGreaterThan(0)
    }
    const bad = failure({ id: 3, type: "FRAME", children: [] }, "figma-to-uui")
    expect(bad.format).toBe("figma")
    expect(bad.issues).toStrictEqual([{ path: ["id"], message: "Expected string" }])
  })
})

describe("compact", () => {
  it("drops only top-level undefined values, keeps falsy values and key order, and leaves its input alone", () => {
    const nestedValue = { inner: undefined }
    const input = { a: 1, b: undefined, c: null, d: 0, e: false, f: "", g: Number.NaN, h: nestedValue, i: undefined }
    const out = compact(input)
    expect(Object.keys(out)).toStrictEqual(["a", "c", "d", "e", "f", "g", "h"])
    expect("b" in out).toBe(false)
    expect(out.h).toBe(nestedValue)
    expect(Object.keys(input)).toHaveLength(9)
    expect(out).not.toBe(input)
  })
})

describe("compiled guard (fastGuard)", () => {
  const agreement = (ast: SchemaAST.AST, seeds: ReadonlyArray<unknown>, iterations: number) => {
    const guard = compileGuard(ast)
    const is = Schema.is(Schema.make(ast))
    const seedPaths = seeds.map(paths)
    const random = seededRandom(2024)
    let valid = 0
    for (let i = 0; i < iterations; i++) {
      const index = i % seeds.length
      const input = i < seeds.length ? seeds[index] : mutate(seeds[index], seedPaths[index] ?? [], random)
      const expected = is(input)
      if (guard(input) !== expected) throw new Error(`iteration ${i}: guard says ${!expected}, Schema.is says ${expected}`)
      if (expected) valid++
    }
    return { valid, invalid: iterations - valid }
  }

  it.each(["file", "nodes", "pluginExport", "node"] as const)("agrees with Schema.is on mutated Figma `%s` inputs", (shape) => {
    const seeds = shape === "file" ? [...fixturesOf(shape), json(generateFigmaFile(120))] : fixturesOf(shape)
    const counts = agreement(SHAPE_SCHEMAS[shape], seeds, 400)
    expect(counts.valid).toBeGreaterThan(20)
    expect(counts.invalid).toBeGreaterThan(20)
  })

  it("agrees with Schema.is on mutated UUI and COGO documents", () => {
    const uui = agreement(UuiDocument.ast, FIXTURES.map((name) => json(toUui(name).document)), 1_000)
    const cogo = agreement(CogoDocument.ast, FIXTURES.map((name) => json(toCogo(name).document)), 1_000)
    for (const counts of [uui, cogo]) {
      expect(counts.valid).toBeGreaterThan(50)
      expect(counts.invalid).toBeGreaterThan(50)
    }
  })

  it("checks finiteness, literals and required keys like the schema", () => {
    const guard = compileGuard(UuiDocument.ast)
    const valid = uuiShape({ type: "solid", color: "#ff0000ff" })
    expect(guard(valid)).toBe(true)
    expect(guard(uuiShape({ type: "solid", color: "#ff0000ff" }, { opacity: Number.POSITIVE_INFINITY }))).toBe(false)
    expect(guard(uuiShape({ type: "solid", color: "#ff0000ff" }, { opacity: Number.NaN }))).toBe(false)
    expect(guard(uuiShape({ type: "solid", color: "#ff0000" }))).toBe(false)
    expect(guard({ ...valid, schemaVersion: 2 })).toBe(false)
    const { tokens: _tokens, ...withoutTokens } = valid
    expect(guard(withoutTokens)).toBe(false)
  })

  it("depth guard: 300 levels convert; 100,000 levels are a decode error for every direction, never a throw", () => {
    const frame = (child: unknown, level: number) => ({ id: `n${level}`, type: "FRAME", children: [child] })
    const shallow = convertFigma(nested(300, frame, { id: "leaf", type: "RECTANGLE" }), "figma-to-cogo")
    expect(Result.isSuccess(shallow)).toBe(true)

    const uuiFrame = (child: unknown, level: number) => ({
      kind: "frame", id: `u${level}`, width: { mode: "hug" }, height: { mode: "hug" }, layout: { mode: "none" },
      children: child === undefined ? [] : [child]
    })
    const padding = (child: unknown) => ({ type: "Padding", padding: { top: 0, right: 0, bottom: 0, left: 0 }, child })
    const deep: ReadonlyArray<readonly [ConversionDirection, unknown]> = [
      ["figma-to-uui", nested(100_000, frame, { id: "leaf", type: "RECTANGLE" })],
      ["figma-to-cogo", { document: nested(100_000, frame, { id: "leaf", type: "RECTANGLE" }) }],
      ["uui-to-cogo", { schemaVersion: 1, roots: [nested(100_000, uuiFrame, undefined)], tokens: [] }],
      ["cogo-to-uui", cogoDocument(nested(100_000, padding, { type: "SizedBox", width: 1, height: 1 }))]
    ]
    for (const [direction, input] of deep) {
      const error = failure(input, direction)
      expect(error.message).toBe("Input nested too deeply")
      expect(error.format).toBe(direction.startsWith("figma") ? "figma" : direction.startsWith("uui") ? "uui" : "cogo")
    }
  })
})
