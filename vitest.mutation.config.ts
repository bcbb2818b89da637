/**
 * The test run Stryker uses (stryker.config.mjs): the project's vitest config with the test files limited to
 * those named in MUTATION_TESTS (comma-separated; scripts/mutation.ts sets it per module). Stryker's own
 * `--testFiles` is not used: with it, mutants evaluated at import time are activated too late and wrongly
 * reported as survivors (stryker-js issue 6144).
 */
import { defineConfig } from "vitest/config"
import base from "./vitest.config.ts"

const tests = (process.env["MUTATION_TESTS"] ?? "").split(",").filter((file) => file !== "")
if (tests.length === 0) throw new Error("MUTATION_TESTS must name the test files to run (see scripts/mutation.ts)")

export default defineConfig({ ...base, test: { ...base.test, include: tests } })
