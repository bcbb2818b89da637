/**
 * `npm run bench -- <name> [args]` runs `bench/<name>.ts`, whose `run(args)` prints a table.
 * Benchmarks are scripts, not timed tests: figures go to BENCHMARKS.md.
 */
import * as fs from "node:fs"

const available = fs.readdirSync(new URL(".", import.meta.url))
  .filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.startsWith("_"))
  .map((f) => f.slice(0, -3))

const [name, ...args] = process.argv.slice(2)
if (name === undefined || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${available.join("|")}> [args]\n`)
  process.exit(name === undefined ? 0 : 2)
}
const bench = (await import(`./${name}.ts`)) as { run: (args: ReadonlyArray<string>) => Promise<void> }
await bench.run(args)
