/**
 * Run by `npm install` (postinstall): builds the bundle and the embedded backend's migrated template ahead of
 * the first `npm start`, so even the first start on a fresh data directory is a file copy, not PGlite's initdb.
 * Never fails the install: whatever goes wrong here, the first start does it again (and reports it).
 * Runs on Node's own type stripping, like scripts/start.ts.
 */
import { Effect } from "effect"
import { ensureBuilt } from "./build.ts"
import { defaultTemplateOptions, ensureTemplate } from "../src/services/platform/embedded/template.ts"

try {
  const started = Date.now()
  await ensureBuilt()
  const template = await Effect.runPromise(ensureTemplate(defaultTemplateOptions()))
  console.log(`cogo: bundle and embedded template ready in ${Date.now() - started} ms (${template})`)
} catch (error) {
  console.warn(`cogo: prepare skipped, the first start will do it: ${error instanceof Error ? error.message : String(error)}`)
}
