// Mutation testing (StrykerJS) on the code where a bug is a breach or data loss. Run it through
// scripts/mutation.ts, which mutates one module at a time against the test files that exercise it:
//   npm run mutation                  every module (long)
//   npm run mutation -- auth query    the named modules
//   npm run mutation:ci               three small pure modules (artifact-path, signature, redaction)
// docs/testing.md has the scores, the surviving mutants and why there is no TypeScript checker.

const report = process.env["MUTATION_REPORT"] ?? "reports/mutation/mutation"

export default {
  testRunner: "vitest",
  plugins: ["@stryker-mutator/vitest-runner"],
  vitest: { configFile: "vitest.mutation.config.ts", related: true },
  // Each mutant runs only the tests that covered it.
  coverageAnalysis: "perTest",
  // The critical modules (scripts/mutation.ts passes one at a time with --mutate).
  mutate: [
    "src/services/auth/Auth.ts",
    "src/services/auth/PluginTokens.ts",
    "src/services/auth/Idempotency.ts",
    "src/edge/figma/signature.ts",
    "src/services/observability/OperatorAccess.ts",
    "src/services/observability/Redaction.ts",
    "src/domain/observability/ArtifactPath.ts",
    "src/services/realtime/Realtime.ts",
    "src/services/realtime/Fanout.ts",
    "src/services/jobs/claimJobs.ts",
    "src/services/jobs/completeJobs.ts",
    "src/services/jobs/enqueueJobs.ts",
    "src/services/jobs/jobTransitions.ts",
    "src/services/jobs/jobEvents.ts",
    "src/projection/apply.ts",
    "src/projection/claim.ts",
    "src/projection/bookkeeping.ts",
    "src/edge/rest/query.ts"
  ],
  // Two cores shared with the tests' own databases.
  concurrency: 2,
  // A mutant that hangs (an infinite retry, a lost wake-up) counts as killed once it exceeds its normal time by this much.
  timeoutMS: 15_000,
  timeoutFactor: 2,
  tempDirName: ".stryker-tmp",
  ignorePatterns: ["test/output", "bench/output", "reports", "dist", ".cogo", ".artifacts"],
  reporters: ["clear-text", "progress-append-only", "html", "json"],
  // scripts/mutation.ts names the report per module (MUTATION_REPORT), so modules can run side by side.
  htmlReporter: { fileName: `${report}.html` },
  jsonReporter: { fileName: `${report}.json` },
  thresholds: { high: 90, low: 80, break: null },
  cleanTempDir: "always",
  // Stryker rewrites the sandbox's tsconfig with the TypeScript compiler API (absent in TypeScript 7); our
  // tsconfig has no `extends`/`references` to rewrite, so point it at a file that does not exist to skip that.
  tsconfigFile: "tsconfig.stryker-skip.json"
}
