/**
 * Builds the service into one ESM file (`dist/main.js`) so `npm start` does not transpile the sources at every
 * start (`npm run build` forces a build; `scripts/start.ts` builds only when the sources changed).
 *
 * Files that locate siblings by `import.meta.url` (status.html, the PGlite worker, migrations/, package.json)
 * keep their source location: each such module's `import.meta.url` is rewritten to its own source file's URL,
 * expressed relative to the bundle, so the tree can still be moved as a whole.
 * Runs on Node's own type stripping (erasable TypeScript only), like the PGlite worker.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { build, type Plugin } from "esbuild"

const root = fileURLToPath(new URL("..", import.meta.url))
const outDir = path.join(root, "dist")
export const bundlePath = path.join(outDir, "main.js")
const stampPath = path.join(outDir, "main.stamp")

/** Every input of the bundle: the sources, the build script itself and the installed dependency versions. */
const inputs = (): ReadonlyArray<string> => [
  ...fs.readdirSync(path.join(root, "src"), { recursive: true, encoding: "utf8" }).map((f) => path.join("src", f)).sort(),
  "package.json",
  "package-lock.json",
  "scripts/build.ts"
]

/** A content hash of every input (sha256 over names and bytes); ~20 ms for the whole tree. */
export const sourceStamp = (): string => {
  const hash = createHash("sha256")
  for (const file of inputs()) {
    const full = path.join(root, file)
    if (!fs.statSync(full).isFile()) continue
    hash.update(file).update("\0").update(fs.readFileSync(full)).update("\0")
  }
  return hash.digest("hex")
}

/** Gives each module that reads `import.meta.url` its source file's URL instead of the bundle's (in `bundleDir`). */
const sourceMetaUrl = (bundleDir: string): Plugin => ({
  name: "source-import-meta-url",
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, (args) => {
      const contents = fs.readFileSync(args.path, "utf8")
      if (!contents.includes("import.meta.url")) return undefined
      const fromBundle = path.relative(bundleDir, args.path).split(path.sep).join("/")
      return { contents: contents.replaceAll("import.meta.url", `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`), loader: "ts" }
    })
  }
})

/**
 * Bundles a module the way the service is built: `entry` is a source file, or module text resolved from the
 * repository's root; `external` packages stay as installed.
 */
export const bundle = async (entry: { readonly file: string } | { readonly contents: string }, outfile: string, external: ReadonlyArray<string> = []) => {
  await build({
    ...("file" in entry ? { entryPoints: [entry.file] } : { stdin: { contents: entry.contents, resolveDir: root, loader: "ts" as const } }),
    outfile,
    external: [...external],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node22",
    // Dependencies are bundled too: resolving and loading ~1,500 ESM files cost ~1 s of every start.
    // CommonJS dependencies in an ESM bundle need a `require`.
    banner: { js: `import { createRequire as __cogoCreateRequire } from "node:module"; const require = __cogoCreateRequire(import.meta.url);` },
    // Whitespace and syntax only: identifiers (and so class and function names) stay as written.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: "linked",
    logLevel: "warning",
    plugins: [sourceMetaUrl(path.dirname(outfile))]
  })
}

export const buildService = async (): Promise<void> => {
  const stamp = sourceStamp()
  await bundle({ file: path.join(root, "src/main.ts") }, bundlePath)
  fs.writeFileSync(stampPath, stamp)
}

/** Builds only when an input changed since the last build; returns whether it built. */
export const ensureBuilt = async (): Promise<boolean> => {
  const current = fs.existsSync(stampPath) && fs.existsSync(bundlePath) ? fs.readFileSync(stampPath, "utf8") : ""
  if (current === sourceStamp()) return false
  await buildService()
  return true
}

if (import.meta.main) await buildService()
