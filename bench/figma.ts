import { Result } from "effect"
import { cogoToUui, decodeFigma, figmaToUui, uuiToCogo } from "../src/services/figma/convert/index.ts"
import { countNodes, generateFigmaFile } from "../test/fixtures/figma/generate.ts"

/*
 * `npm run bench -- figma`: generated documents (auto layout, mixed-style text, instances, vectors, images,
 * absolute children) through each stage. Each size is warmed up, then the median of several runs is reported.
 */

const SIZES = [1_000, 3_000, 10_000, 100_000] as const
const GOAL_MS = 100

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

const time = <A>(f: () => A): { readonly ms: number; readonly value: A } => {
  const start = performance.now()
  const value = f()
  return { ms: performance.now() - start, value }
}

interface Row {
  readonly nodes: number
  readonly decode: number
  readonly toUui: number
  readonly toCogo: number
  readonly endToEnd: number
  readonly backToUui: number
  readonly heapMb: number
}

const measure = (target: number): Row => {
  const input: unknown = JSON.parse(JSON.stringify(generateFigmaFile(target)))
  const nodes = countNodes(generateFigmaFile(target))
  const runs = target >= 100_000 ? 3 : 9
  const samples: Array<Omit<Row, "nodes" | "heapMb">> = []
  let heapMb = 0
  for (let run = 0; run < runs + 1; run++) {
    const heapBefore = process.memoryUsage().heapUsed
    const decoded = time(() => decodeFigma(input))
    if (Result.isFailure(decoded.value)) throw new Error("generated document did not decode")
    const source = decoded.value.success.source
    const uui = time(() => figmaToUui(source))
    const cogo = time(() => uuiToCogo(uui.value.value))
    heapMb = Math.max(heapMb, (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20)
    const back = time(() => cogoToUui(cogo.value.value))
    if (run === 0) continue // warm-up
    samples.push({
      decode: decoded.ms,
      toUui: uui.ms,
      toCogo: cogo.ms,
      endToEnd: decoded.ms + uui.ms + cogo.ms,
      backToUui: back.ms
    })
  }
  return {
    nodes,
    decode: median(samples.map((s) => s.decode)),
    toUui: median(samples.map((s) => s.toUui)),
    toCogo: median(samples.map((s) => s.toCogo)),
    endToEnd: median(samples.map((s) => s.endToEnd)),
    backToUui: median(samples.map((s) => s.backToUui)),
    heapMb
  }
}

const perSecond = (nodes: number, ms: number): string => `${Math.round(nodes / (ms / 1000)).toLocaleString("en-US")}`

export const run = async (): Promise<void> => {
  const rows = SIZES.map(measure)
  console.table(rows.map((row) => ({
    nodes: row.nodes,
    "decode ms": row.decode.toFixed(1),
    "figma->uui ms": row.toUui.toFixed(1),
    "uui->cogo ms": row.toCogo.toFixed(1),
    "end-to-end ms": row.endToEnd.toFixed(1),
    "end-to-end nodes/s": perSecond(row.nodes, row.endToEnd),
    "cogo->uui ms": row.backToUui.toFixed(1),
    "heap growth MB": row.heapMb.toFixed(1)
  })))
  const goal = rows.find((row) => row.nodes >= 3_000 && row.nodes < 10_000)
  if (goal !== undefined) {
    const verdict = goal.endToEnd < GOAL_MS ? "meets" : "MISSES"
    console.log(`3,000-node file: ${goal.endToEnd.toFixed(1)} ms end to end (decode + Figma->UUI->COGO), ${verdict} the < ${GOAL_MS} ms goal`)
  }
  console.log(`heap used after run: ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MB (node ${process.version})`)
}
