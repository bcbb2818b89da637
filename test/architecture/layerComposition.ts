/**
 * Finds layer composition (`Layer.provide`, `Layer.provideMerge`, `Layer.merge`, `Layer.mergeAll`) in a module's
 * source, by parsing it with swc: only src/layers, src/bin and src/main.ts compose layers. Dependency-cruiser
 * checks imports, not calls, so this part of the rules is checked here.
 */
import { parseSync } from "@swc/core"

const composing = new Set(["provide", "provideMerge", "merge", "mergeAll"])

export interface Composition {
  readonly file: string
  readonly call: string
  readonly line: number
}

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

const isNode = (value: Json): value is { readonly [key: string]: Json } =>
  typeof value === "object" && value !== null && !Array.isArray(value)

const walk = (value: Json, visit: (node: { readonly [key: string]: Json }) => void): void => {
  if (Array.isArray(value)) {
    for (const item of value) walk(item, visit)
  } else if (isNode(value)) {
    visit(value)
    for (const key of Object.keys(value)) walk(value[key] ?? null, visit)
  }
}

const stringField = (node: Json, key: string): string | undefined => {
  const field = isNode(node) ? node[key] : undefined
  return typeof field === "string" ? field : undefined
}

/** Local names that denote effect's Layer module: `import { Layer } from "effect"`, `import * as L from "effect/Layer"`. */
const layerNames = (program: Json): ReadonlySet<string> => {
  const names = new Set<string>()
  walk(program, (node) => {
    if (node["type"] !== "ImportDeclaration") return
    const source = stringField(node["source"] ?? null, "value")
    const specifiers = node["specifiers"]
    if (!Array.isArray(specifiers)) return
    for (const specifier of specifiers) {
      const local = stringField(isNode(specifier) ? specifier["local"] ?? null : null, "value")
      if (local === undefined || !isNode(specifier)) continue
      const imported = stringField(specifier["imported"] ?? null, "value") ?? local
      if (source === "effect" && specifier["type"] === "ImportSpecifier" && imported === "Layer") names.add(local)
      if (source === "effect/Layer" && specifier["type"] === "ImportNamespaceSpecifier") names.add(local)
    }
  })
  return names
}

const parse = (file: string, code: string): Json => {
  try {
    return parseSync(code, { syntax: "typescript", target: "es2022" }) as unknown as Json
  } catch (error) {
    throw new Error(`${file}: ${String(error)}`)
  }
}

export const layerCompositions = (file: string, code: string): ReadonlyArray<Composition> => {
  // swc spans are UTF-8 byte positions that keep counting across parses; the leading ";" anchors the
  // program's span at this file's first byte, whatever comments come first.
  const anchored = Buffer.from(`;${code}`, "utf8")
  const program = parse(file, anchored.toString("utf8"))
  const programSpan = isNode(program) ? program["span"] ?? null : null
  const base = isNode(programSpan) ? Number(programSpan["start"]) : 0
  const lineStarts: Array<number> = [0]
  anchored.forEach((byte, offset) => {
    if (byte === 10) lineStarts.push(offset + 1)
  })
  const lineOf = (position: number) => lineStarts.filter((start) => start <= position - base).length
  const names = layerNames(program)
  const found: Array<Composition> = []
  walk(program, (node) => {
    if (node["type"] !== "MemberExpression") return
    const object = stringField(node["object"] ?? null, "value")
    const property = stringField(node["property"] ?? null, "value")
    if (object === undefined || property === undefined || !names.has(object) || !composing.has(property)) return
    const span = node["span"] ?? null
    found.push({ file, call: `${object}.${property}`, line: isNode(span) ? lineOf(Number(span["start"])) : 0 })
  })
  return found
}
