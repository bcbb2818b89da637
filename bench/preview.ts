import { Result } from "effect"
import { convertFigma } from "../src/services/figma/convert/index.ts"
import { renderDocument } from "../src/services/preview/document.ts"
import { countNodes, generateFigmaFile } from "../test/fixtures/figma/generate.ts"
import { fmt, printTable } from "./_table.ts"

/*
 * `npm run bench -- preview`: COGO UI JSON -> HTML for generated documents (the figma bench's generator,
 * converted once), median of 9 runs after a warm-up; goal: 3,000 nodes under 50 ms.
 */

const SIZES = [1_000, 3_000, 10_000] as const
const GOAL_MS = 50

export const run = async (): Promise<void> => {
  const rows: Array<ReadonlyArray<string>> = []
  for (const target of SIZES) {
    const figma = generateFigmaFile(target)
    const converted = convertFigma(JSON.parse(JSON.stringify(figma)), "figma-to-cogo")
    if (Result.isFailure(converted) || converted.success.format !== "cogo") throw new Error("generated document did not convert")
    const document = converted.success.document
    const samples: Array<number> = []
    let bytes = 0
    for (let i = 0; i < 10; i++) {
      const start = performance.now()
      const html = renderDocument(document)
      if (i > 0) samples.push(performance.now() - start)
      bytes = html.length
    }
    samples.sort((a, b) => a - b)
    const median = samples[Math.floor(samples.length / 2)] ?? Number.NaN
    rows.push([fmt(countNodes(figma), 0), fmt(median, 1), fmt(samples.at(-1) ?? Number.NaN, 1), fmt(bytes / 1024, 0),
      target === 3_000 ? (median < GOAL_MS ? "yes" : "NO") : ""])
  }
  printTable("preview: COGO UI JSON -> HTML", ["nodes", "render ms (median)", "max ms", "HTML KiB", `3,000 < ${GOAL_MS} ms`], rows)
}
