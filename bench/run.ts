/**
 * `npm run bench -- <name> [args]` runs `bench/<name>.ts`, whose `run(args)` prints a table.
 * Benchmarks are scripts, not timed tests: figures go to BENCHMARKS.md.
 *
 * The benches that weigh the service's own CPU per job (`bundled` below) run its code as `npm start` does: one
 * esbuild bundle (scripts/build.ts) in a plain `node` child. Under tsx every closure the code makes gets its name
 * set with a `defineProperty` (~1-2 µs per no-op job), and the effect runtime loaded as separate modules
 * sometimes runs a whole process ~1.5x slower (BENCHMARKS.md, "orchestrator"); neither is what the service
 * runs. Their baselines (graphile-worker) stay as installed.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { bundle } from "../scripts/build.ts"

const available = fs.readdirSync(new URL(".", import.meta.url))
  .filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.startsWith("_"))
  .map((f) => f.slice(0, -3))
const bundled = new Set(["jobs", "orchestrator"])

const [name, ...args] = process.argv.slice(2)
if (name === undefined || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${available.join("|")}> [args]\n`)
  process.exit(name === undefined ? 0 : 2)
}
if (bundled.has(name)) {
  const outfile = fileURLToPath(new URL(`../dist/bench/${name}.js`, import.meta.url))
  await bundle({ contents: `import { run } from "./bench/${name}.ts"\nawait run(process.argv.slice(2))\n` }, outfile, ["graphile-worker"])
  process.exitCode = spawnSync(process.execPath, [outfile, ...args], { stdio: "inherit" }).status ?? 1
} else {
  const bench = (await import(`./${name}.ts`)) as { run: (args: ReadonlyArray<string>) => Promise<void> }
  await bench.run(args)
}
