/**
 * Dependency rules of cogo's layout (src/domain, src/services, src/projection, src/edge, src/layers), checked by
 * test/architecture/dependency-rules.test.ts inside `npm test` and by `npm run lint:arch`.
 * TypeScript 7 (the native compiler) has no JavaScript API, so dependency-cruiser parses .ts with @swc/core
 * (`parser: "swc"`). Type-only imports obey the same rules as value imports (on purpose: a domain type that
 * names an edge type is the same coupling).
 */
const nodeIoModules = [
  "fs", "fs/promises", "net", "child_process", "http", "https", "http2", "dgram", "dns", "dns/promises", "tls",
  "os", "worker_threads", "cluster", "readline", "repl", "inspector", "v8", "vm", "process", "perf_hooks", "module"
]

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "domain-imports-only-domain",
      comment: "src/domain is pure: Schemas, branded ids, tagged errors. It imports nothing else from src.",
      severity: "error",
      from: { path: "^src/domain/" },
      to: { path: "^src/", pathNot: "^src/domain/" }
    },
    {
      name: "domain-no-node-io",
      comment: "src/domain does no I/O: no node modules for files, network, processes or threads.",
      severity: "error",
      from: { path: "^src/domain/" },
      to: { dependencyTypes: ["core"], path: `^(node:)?(${nodeIoModules.join("|")})$` }
    },
    {
      name: "services-not-edge-projection-layers",
      comment: "Services never import the HTTP edge, the projection worker or the composition root.",
      severity: "error",
      from: { path: "^src/services/" },
      to: { path: "^src/(edge|projection|layers)/" }
    },
    {
      name: "projection-not-edge-layers",
      comment: "The projection worker never imports the HTTP edge or the composition root.",
      severity: "error",
      from: { path: "^src/projection/" },
      to: { path: "^src/(edge|layers)/" }
    },
    {
      name: "edge-projection-only-via-its-services",
      comment:
        "Only the operator group src/edge/projection/ reaches into src/projection, and only through its two " +
        "services: ProjectionAdmin (dead letters, conflicts) and ProjectionWorker (lag). Applier, Projectors, " +
        "claim, retries, rows and metrics stay internal.",
      severity: "error",
      from: { path: "^src/edge/" },
      to: {
        path: "^src/projection/",
        pathNot: "^src/projection/(ProjectionAdmin|ProjectionWorker)[.]ts$"
      }
    },
    {
      name: "edge-projection-only-from-its-group",
      comment: "Edge groups other than src/edge/projection/ do not import src/projection at all.",
      severity: "error",
      from: { path: "^src/edge/", pathNot: "^src/edge/projection/" },
      to: { path: "^src/projection/" }
    },
    {
      name: "only-entry-points-import-layers",
      comment: "src/layers is the composition root: only src/bin, src/main.ts (and tests, benches) import it.",
      severity: "error",
      from: { path: "^src/", pathNot: "^src/(layers/|bin/|main[.]ts$)" },
      to: { path: "^src/layers/" }
    },
    {
      name: "src-not-tests-or-benches",
      comment: "Production code never imports test or bench code.",
      severity: "error",
      from: { path: "^src/" },
      to: { path: "^(test|bench)/" }
    },
    {
      name: "no-circular",
      comment: "No import cycles between modules.",
      severity: "error",
      from: {},
      to: { circular: true }
    },
    {
      name: "not-to-unlisted",
      comment: "Every package imported is listed in package.json.",
      severity: "error",
      from: {},
      to: { dependencyTypes: ["npm-no-pkg", "npm-unknown"] }
    },
    {
      name: "not-to-unresolvable",
      comment: "Every import resolves (a typo in a relative path, or a package missing from package.json).",
      severity: "error",
      from: {},
      to: { couldNotResolve: true }
    }
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsConfig: { fileName: "tsconfig.json" },
    parser: "swc",
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      mainFields: ["module", "main", "types", "typings"],
      extensions: [".ts", ".js", ".mjs", ".cjs", ".d.ts"]
    },
    skipAnalysisNotInRules: true
  }
}
