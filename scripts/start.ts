/**
 * `npm start`: builds `dist/main.js` when the sources changed (scripts/build.ts), then runs it in this same
 * process with Node's compile cache, so a warm restart neither transpiles nor recompiles the code.
 * Runs on Node's own type stripping (erasable TypeScript only).
 */
import * as module from "node:module"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { bundlePath, ensureBuilt } from "./build.ts"

await ensureBuilt()
module.enableCompileCache(path.join(path.dirname(bundlePath), ".compile-cache"))
await import(pathToFileURL(bundlePath).href)
