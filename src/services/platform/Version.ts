import { createRequire } from "node:module"

/** The service version, from package.json (one source of truth for /health and OpenAPI). */
export const serviceVersion: string = (createRequire(import.meta.url)("../../../package.json") as { version: string }).version
