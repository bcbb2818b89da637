/**
 * Layout fidelity: `npm run fidelity -- <figma export.json>...` converts each Figma export (file, nodes, bare
 * node or plugin export) to COGO UI JSON, renders it with the preview renderer in headless Chromium
 * (playwright-core + Debian's /usr/bin/chromium), reads every node's box, and compares it with the Figma
 * source's geometry relative to its top-level frame (rotated nodes: the bounding box of their transformed
 * rectangle). Per file: nodes compared, within 1 px, within 2 px, missing, texts overflowing their box, the
 * worst 5 nodes. Last line: `fidelity: <within 2 px>/<compared> nodes within 2 px (<pct>%)`.
 */
import { Result } from "effect"
import { readFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type Browser, chromium } from "playwright-core"
import { detectFigmaShape } from "../src/domain/figma/FigmaInput.ts"
import { convertFigma } from "../src/services/figma/convert/index.ts"
import { renderDocument } from "../src/services/preview/document.ts"

export const chromiumPath = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium"

interface Rect { readonly x: number; readonly y: number; readonly width: number; readonly height: number }
type Matrix = readonly [readonly [number, number, number], readonly [number, number, number]]

interface FigmaNodeLike {
  readonly id?: string
  readonly name?: string
  readonly type?: string
  readonly visible?: boolean
  readonly absoluteBoundingBox?: Rect | null
  readonly relativeTransform?: Matrix
  readonly size?: { readonly x: number; readonly y: number }
  readonly children?: ReadonlyArray<FigmaNodeLike>
}

interface Expected { readonly id: string; readonly name: string; readonly top: string; readonly box: Rect; readonly text: boolean }

const CONTAINERS = new Set(["DOCUMENT", "CANVAS"])

const multiply = (a: Matrix, b: Matrix): Matrix => [
  [a[0][0] * b[0][0] + a[0][1] * b[1][0], a[0][0] * b[0][1] + a[0][1] * b[1][1], a[0][0] * b[0][2] + a[0][1] * b[1][2] + a[0][2]],
  [a[1][0] * b[0][0] + a[1][1] * b[1][0], a[1][0] * b[0][1] + a[1][1] * b[1][1], a[1][0] * b[0][2] + a[1][1] * b[1][2] + a[1][2]]
]

const isRotated = (m: Matrix | undefined): boolean =>
  m !== undefined && (Math.abs(m[0][1]) > 1e-6 || Math.abs(m[1][0]) > 1e-6 || m[0][0] < 0 || m[1][1] < 0)

const transformedBox = (m: Matrix, width: number, height: number): Rect => {
  const xs = [0, width, 0, width].map((x, i) => m[0][0] * x + m[0][1] * (i < 2 ? 0 : height) + m[0][2])
  const ys = [0, width, 0, width].map((x, i) => m[1][0] * x + m[1][1] * (i < 2 ? 0 : height) + m[1][2])
  const x = Math.min(...xs), y = Math.min(...ys)
  return { x, y, width: Math.max(...xs) - x, height: Math.max(...ys) - y }
}

/** The documents of any of the four input shapes. */
const documentsOf = (input: unknown): ReadonlyArray<FigmaNodeLike> => {
  const record = input as { readonly document?: FigmaNodeLike; readonly nodes?: Record<string, { readonly document?: FigmaNodeLike } | null> }
  switch (detectFigmaShape(input)) {
    case "file":
    case "pluginExport":
      return record.document === undefined ? [] : [record.document]
    case "nodes":
      return Object.values(record.nodes ?? {}).flatMap((entry) => (entry?.document === undefined ? [] : [entry.document]))
    case "node":
      return [input as FigmaNodeLike]
    case undefined:
      return []
  }
}

/**
 * Every visible node's expected box relative to its top-level frame (the outermost node that is not a
 * document or canvas). Rotated nodes, and nodes under rotated ancestors, use the composed
 * `relativeTransform`s when every step has one; others the `absoluteBoundingBox` difference.
 */
export const expectedBoxes = (input: unknown): ReadonlyArray<Expected> => {
  const out: Array<Expected> = []
  const walk = (node: FigmaNodeLike, top: FigmaNodeLike | undefined, transform: Matrix | undefined, rotated: boolean) => {
    if (node.visible === false || node.id === undefined) return
    const isContainer = top === undefined && CONTAINERS.has(node.type ?? "")
    const frame = isContainer ? undefined : top ?? node
    const identity: Matrix = [[1, 0, 0], [0, 1, 0]]
    const ownTransform = node === frame ? identity : transform !== undefined && node.relativeTransform !== undefined
      ? multiply(transform, node.relativeTransform)
      : undefined
    const nowRotated = node !== frame && (rotated || isRotated(node.relativeTransform))
    if (frame !== undefined) {
      const abs = node.absoluteBoundingBox
      const frameAbs = frame.absoluteBoundingBox
      let box: Rect | undefined
      if (nowRotated && ownTransform !== undefined && node.size !== undefined) box = transformedBox(ownTransform, node.size.x, node.size.y)
      else if (abs != null && frameAbs != null) box = { x: abs.x - frameAbs.x, y: abs.y - frameAbs.y, width: abs.width, height: abs.height }
      if (box !== undefined) out.push({ id: node.id, name: node.name ?? "", top: frame.id ?? "", box, text: node.type === "TEXT" })
    }
    // A boolean operation's children are its operands, drawn as one path, not layers of their own.
    if (node.type === "BOOLEAN_OPERATION") return
    for (const child of node.children ?? []) walk(child, frame, frame === undefined ? undefined : ownTransform, nowRotated)
  }
  for (const document of documentsOf(input)) walk(document, undefined, undefined, false)
  return out
}

interface Measured { readonly rect: Rect; readonly overflow: boolean }

/** Renders the document in the page and reads every `data-node-id` element's box (first element per id). */
const measure = async (browser: Browser, html: string): Promise<Record<string, Measured>> => {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1200 } })
  try {
    await page.setContent(html, { waitUntil: "load" })
    return await page.evaluate(() => {
      const result: Record<string, { rect: { x: number; y: number; width: number; height: number }; overflow: boolean }> = {}
      for (const element of Array.from(document.querySelectorAll<HTMLElement>("[data-node-id]"))) {
        const id = element.dataset["nodeId"] ?? ""
        if (id in result || element.getClientRects().length === 0) continue
        const r = element.getBoundingClientRect()
        const leaf = element.querySelector(".n") === null && element.querySelector("svg") === null && (element.textContent ?? "") !== ""
        const overflow = leaf && (element.scrollWidth > element.clientWidth + 1 || element.scrollHeight > element.clientHeight + 1)
        result[id] = { rect: { x: r.x, y: r.y, width: r.width, height: r.height }, overflow }
      }
      return result
    })
  } finally {
    await page.close()
  }
}

export interface NodeDelta { readonly id: string; readonly name: string; readonly dx: number; readonly dy: number; readonly dw: number; readonly dh: number; readonly delta: number }

export interface FileReport {
  readonly file: string
  readonly compared: number
  readonly within1: number
  readonly within2: number
  readonly missing: number
  readonly textOverflow: number
  readonly worst: ReadonlyArray<NodeDelta>
}

export const measureFile = async (browser: Browser, file: string): Promise<FileReport> => {
  const input: unknown = JSON.parse(readFileSync(file, "utf8"))
  const converted = convertFigma(input, "figma-to-cogo")
  if (Result.isFailure(converted)) throw new Error(`${file}: ${converted.failure.message}`)
  if (converted.success.format !== "cogo") throw new Error(`${file}: unexpected ${converted.success.format} output`)
  const measured = await measure(browser, renderDocument(converted.success.document))
  const deltas: Array<NodeDelta> = []
  let missing = 0, textOverflow = 0
  for (const node of expectedBoxes(input)) {
    const own = measured[node.id]
    const frame = measured[node.top]
    if (own === undefined || frame === undefined) {
      missing++
      deltas.push({ id: node.id, name: node.name, dx: NaN, dy: NaN, dw: NaN, dh: NaN, delta: Infinity })
      continue
    }
    if (node.text && own.overflow) textOverflow++
    const dx = own.rect.x - frame.rect.x - node.box.x
    const dy = own.rect.y - frame.rect.y - node.box.y
    const dw = own.rect.width - node.box.width
    const dh = own.rect.height - node.box.height
    deltas.push({ id: node.id, name: node.name, dx, dy, dw, dh, delta: Math.max(Math.abs(dx), Math.abs(dy), Math.abs(dw), Math.abs(dh)) })
  }
  const worst = [...deltas].sort((a, b) => b.delta - a.delta).slice(0, 5).filter((d) => d.delta > 0.01)
  return {
    file,
    compared: deltas.length,
    within1: deltas.filter((d) => d.delta <= 1).length,
    within2: deltas.filter((d) => d.delta <= 2).length,
    missing,
    textOverflow,
    worst
  }
}

const fmt = (n: number) => (Number.isNaN(n) ? "?" : (Math.round(n * 10) / 10).toString())

export const formatReport = (reports: ReadonlyArray<FileReport>): string => {
  const lines: Array<string> = []
  for (const r of reports) {
    lines.push(`${r.file}: ${r.compared} nodes compared, ${r.within1} within 1 px, ${r.within2} within 2 px, ${r.missing} missing, ${r.textOverflow} texts overflow their box`)
    for (const w of r.worst) {
      lines.push(`  ${w.id} ${JSON.stringify(w.name)}: ${w.delta === Infinity ? "not rendered" : `dx ${fmt(w.dx)} dy ${fmt(w.dy)} dw ${fmt(w.dw)} dh ${fmt(w.dh)}`}`)
    }
  }
  const compared = reports.reduce((n, r) => n + r.compared, 0)
  const within2 = reports.reduce((n, r) => n + r.within2, 0)
  const pct = compared === 0 ? 0 : Math.floor(within2 / compared * 1000) / 10
  lines.push(`fidelity: ${within2}/${compared} nodes within 2 px (${pct}%)`)
  return lines.join("\n")
}

export const launchChromium = () =>
  chromium.launch({ executablePath: chromiumPath, headless: true, args: ["--no-sandbox", "--disable-gpu", "--font-render-hinting=none"] })

export const runFidelity = async (files: ReadonlyArray<string>): Promise<ReadonlyArray<FileReport>> => {
  const browser = await launchChromium()
  try {
    const reports: Array<FileReport> = []
    for (const file of files) reports.push(await measureFile(browser, file))
    return reports
  } finally {
    await browser.close()
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const files = process.argv.slice(2)
  if (files.length === 0) {
    console.error("usage: npm run fidelity -- <figma export.json>...")
    process.exit(2)
  }
  console.log(formatReport(await runFidelity(files)))
}
