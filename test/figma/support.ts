import { readFileSync } from "node:fs"
import { Result } from "effect"
import type { CogoWidget } from "../../src/domain/figma/CogoUi.ts"
import type { UuiDocument, UuiNode, UuiRoot } from "../../src/domain/figma/Uui.ts"
import { type ConversionDirection, type ConversionOutput, convertFigma } from "../../src/services/figma/convert/index.ts"

export const FIXTURES = [
  "auto-layout.json", "text-mixed.json", "gradients-nodes.json", "images-shadows.plugin.json", "vectors.json",
  "components.json", "old-era.json"
] as const

export const loadFixture = (name: (typeof FIXTURES)[number]): unknown =>
  JSON.parse(readFileSync(new URL(`../fixtures/figma/${name}`, import.meta.url), "utf8"))

export const convertOk = (input: unknown, direction: ConversionDirection): ConversionOutput => {
  const result = convertFigma(input, direction)
  if (Result.isFailure(result)) throw new Error(`conversion failed: ${JSON.stringify(result.failure.issues)}`)
  return result.success
}

export const toUui = (name: (typeof FIXTURES)[number]) => {
  const output = convertOk(loadFixture(name), "figma-to-uui")
  if (output.format !== "uui") throw new Error("expected UUI")
  return output
}

export const toCogo = (name: (typeof FIXTURES)[number]) => {
  const output = convertOk(loadFixture(name), "figma-to-cogo")
  if (output.format !== "cogo") throw new Error("expected COGO")
  return output
}

const uuiChildren = (node: UuiRoot): ReadonlyArray<UuiNode> =>
  "children" in node ? node.children : []

/** Finds a UUI node by id anywhere in the document. */
export const uuiNode = (document: UuiDocument, id: string): UuiRoot => {
  const stack: Array<UuiRoot> = [...document.roots]
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (node.id === id) return node
    stack.push(...uuiChildren(node))
  }
  throw new Error(`no UUI node ${id}`)
}

const widgetChildren = (widget: CogoWidget): ReadonlyArray<CogoWidget> =>
  "children" in widget ? widget.children : "child" in widget && widget.child !== undefined ? [widget.child] : []

/** Finds the outermost widget carrying `id`. */
export const widgetById = (roots: ReadonlyArray<CogoWidget>, id: string): CogoWidget => {
  const stack: Array<CogoWidget> = [...roots]
  for (let widget = stack.shift(); widget !== undefined; widget = stack.shift()) {
    if (widget.id === id) return widget
    stack.push(...widgetChildren(widget))
  }
  throw new Error(`no widget ${id}`)
}

/** The chain of widget types from `widget` down through single children, e.g. `Positioned>Container>Column`. */
export const chain = (widget: CogoWidget): string => {
  const types: Array<string> = []
  for (let current: CogoWidget | undefined = widget; current !== undefined;) {
    types.push(current.type)
    current = "child" in current ? current.child : undefined
  }
  return types.join(">")
}
