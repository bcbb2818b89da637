/**
 * Mutation testing, module by module (StrykerJS, stryker.config.mjs). Each critical module is mutated alone
 * and only against the test files that exercise it, so a run stays within what two cores can do; the scores
 * are printed as one table at the end (docs/testing.md keeps the last one).
 *   npm run mutation                      every module
 *   npm run mutation -- artifact-path     only the named modules
 *   npm run mutation:ci                   three small pure modules (about 3 minutes on a busy 2-core machine)
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, readFileSync } from "node:fs"

interface Module {
  readonly name: string
  readonly file: string
  readonly tests: ReadonlyArray<string>
  /** Small pure module with fast unit tests: part of `--ci`. */
  readonly ci?: true
}

const modules: ReadonlyArray<Module> = [
  { name: "artifact-path", file: "src/domain/observability/ArtifactPath.ts", tests: ["test/unit/artifact-path.test.ts"], ci: true },
  { name: "signature", file: "src/edge/figma/signature.ts", tests: ["test/unit/figma-signature.test.ts"], ci: true },
  { name: "query", file: "src/edge/rest/query.ts", tests: ["test/unit/postgrest-query.test.ts", "test/unit/postgrest-values.test.ts"] },
  { name: "redaction", file: "src/services/observability/Redaction.ts", tests: ["test/unit/redaction-rules.test.ts"], ci: true },
  { name: "operator-access", file: "src/services/observability/OperatorAccess.ts", tests: ["test/unit/operator-access.test.ts"] },
  { name: "attempt-deadlines", file: "src/services/jobs/attemptDeadlines.ts", tests: ["test/unit/attempt-deadlines.test.ts"] },
  {
    name: "auth",
    file: "src/services/auth/Auth.ts",
    tests: [
      "test/auth/auth-requests.mutation.test.ts",
      "test/security/jwt-rules.test.ts",
      "test/security/jwt-verifier.test.ts",
      "test/security/jwt-cache.test.ts",
      "test/security/auth-middleware.test.ts",
      "test/security/auth-startup.test.ts",
      "test/edge/auth-jwks.test.ts",
      "test/unit/operator-access.test.ts"
    ]
  },
  { name: "plugin-tokens", file: "src/services/auth/PluginTokens.ts", tests: ["test/auth/plugin-tokens.mutation.test.ts"] },
  { name: "idempotency", file: "src/services/auth/Idempotency.ts", tests: ["test/auth/idempotency.mutation.test.ts", "test/auth/idempotency-rules.mutation.test.ts"] },
  {
    name: "realtime",
    file: "src/services/realtime/{Realtime,Fanout}.ts",
    tests: ["test/edge/realtime.test.ts", "test/security/realtime-bounds.test.ts", "test/edge/realtime.mutation.test.ts", "test/edge/realtime-job-batches.test.ts"]
  },
  {
    name: "job-queue",
    file: "src/services/jobs/{claimJobs,completeJobs,enqueueJobs,jobTransitions,jobEvents}.ts",
    tests: [
      "test/agents/jobs.test.ts",
      "test/agents/jobs-events.test.ts",
      "test/agents/lease.test.ts",
      "test/agents/saga.test.ts",
      "test/agents/job-queue.mutation.test.ts",
      "test/edge/realtime-job-batches.test.ts"
    ]
  },
  {
    name: "projection",
    file: "src/projection/{apply,claim,bookkeeping}.ts",
    tests: ["test/projection/projection.test.ts", "test/projection/column-contract.test.ts", "test/projection/projection.mutation.test.ts"]
  }
]

const args = process.argv.slice(2)
const ci = args.includes("--ci")
const named = args.filter((a) => !a.startsWith("--"))
const unknown = named.filter((n) => !modules.some((m) => m.name === n))
if (unknown.length > 0) {
  console.error(`unknown module(s): ${unknown.join(", ")}; known: ${modules.map((m) => m.name).join(", ")}`)
  process.exit(2)
}
const selected = modules.filter((m) => named.length > 0 ? named.includes(m.name) : !ci || m.ci === true)

interface Report {
  readonly files: Record<string, { readonly mutants: ReadonlyArray<{ readonly status: string }> }>
}

const killedStates = new Set(["Killed", "Timeout"])
const countedStates = new Set(["Killed", "Timeout", "Survived", "NoCoverage"])

/** Stryker splits `--mutate` on commas, so a module's `dir/{a,b}.ts` is passed as `dir/a.ts,dir/b.ts`. */
const mutateArgument = (file: string): string => {
  const braces = /^(.*)\{([^}]*)\}(.*)$/.exec(file)
  return braces === null ? file : braces[2]!.split(",").map((name) => `${braces[1]}${name}${braces[3]}`).join(",")
}

const rows: Array<string> = []
let failed = false
mkdirSync("reports/mutation", { recursive: true })
for (const module of selected) {
  const started = Date.now()
  console.log(`\n== mutation: ${module.name} (${module.file})`)
  // vitest.mutation.config.ts runs only these test files (not Stryker's --testFiles: see that file).
  const run = spawnSync("npx", ["stryker", "run", "--mutate", mutateArgument(module.file)], {
    stdio: "inherit",
    env: { ...process.env, MUTATION_TESTS: module.tests.join(","), MUTATION_REPORT: `reports/mutation/${module.name}` }
  })
  const seconds = Math.round((Date.now() - started) / 1000)
  if (run.status !== 0) {
    failed = true
    rows.push(`| ${module.name} | stryker failed (exit ${run.status}) | | | ${seconds} s |`)
    continue
  }
  const report = JSON.parse(readFileSync(`reports/mutation/${module.name}.json`, "utf8")) as Report
  const statuses = Object.values(report.files).flatMap((f) => f.mutants.map((m) => m.status))
  const killed = statuses.filter((s) => killedStates.has(s)).length
  const counted = statuses.filter((s) => countedStates.has(s)).length
  const survived = statuses.filter((s) => s === "Survived" || s === "NoCoverage").length
  const score = counted === 0 ? 100 : (100 * killed) / counted
  rows.push(`| ${module.name} | ${score.toFixed(1)} % | ${killed}/${counted} | ${survived} | ${seconds} s |`)
}

console.log("\n| module | score | killed/total | survived | time |\n|---|---|---|---|---|")
for (const row of rows) console.log(row)
process.exit(failed ? 1 : 0)
