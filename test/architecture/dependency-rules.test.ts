/**
 * The layout's dependency rules, checked by dependency-cruiser with the repository's .dependency-cruiser.cjs
 * (imports), plus a swc scan for layer composition outside src/layers (calls). Each check is also run on a
 * deliberately broken file tree, to show it reports what it should.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, relative } from "node:path"
import { cruise, type ICruiseOptions, type ICruiseResult } from "dependency-cruiser"
import extractDepcruiseOptions from "dependency-cruiser/config-utl/extract-depcruise-options"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { layerCompositions } from "./layerComposition.ts"

const root = join(import.meta.dirname, "..", "..")

const violationsOf = async (baseDir: string, options: ICruiseOptions) => {
  const result = await cruise(["src"], { ...options, baseDir }, {}, { tsConfig: {} })
  const output = result.output as ICruiseResult
  return output.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort()
}

const repoOptions = () => extractDepcruiseOptions(join(root, ".dependency-cruiser.cjs"))

describe("dependency rules (dependency-cruiser)", () => {
  it("src/ obeys every rule of .dependency-cruiser.cjs", async () => {
    const options = await repoOptions()
    expect(await violationsOf(root, { ...options, tsConfig: { fileName: join(root, "tsconfig.json") } })).toEqual([])
  })

  describe("a tree that breaks each rule", () => {
    let tree = ""
    const files: Record<string, string> = {
      "package.json": JSON.stringify({ name: "broken", type: "module", dependencies: {} }),
      "node_modules/unlisted-pkg/package.json": JSON.stringify({ name: "unlisted-pkg", version: "1.0.0", main: "index.js" }),
      "node_modules/unlisted-pkg/index.js": "export const x = 1\n",
      "src/domain/Id.ts": `import { readFileSync } from "node:fs"\nimport { Store } from "../services/Store.ts"\nexport const id = [readFileSync, Store]\n`,
      "src/services/Store.ts": `import { route } from "../edge/route.ts"\nimport { Cycle } from "./Cycle.ts"\nexport const Store = [route, Cycle]\n`,
      "src/services/Cycle.ts": `import { Store } from "./Store.ts"\nexport const Cycle = Store\n`,
      "src/services/Wiring.ts": `import { Main } from "../layers/Main.ts"\nexport const Wiring = Main\n`,
      "src/projection/Applier.ts": `import { helper } from "../edge/helper.ts"\nimport { Main } from "../layers/Main.ts"\nexport const Applier = [helper, Main]\n`,
      "src/projection/ProjectionAdmin.ts": "export const ProjectionAdmin = 1\n",
      "src/edge/route.ts": `import { Applier } from "../projection/Applier.ts"\nimport { ProjectionAdmin } from "../projection/ProjectionAdmin.ts"\nexport const route = [Applier, ProjectionAdmin]\n`,
      "src/edge/projection/ProjectionLive.ts": `import { ProjectionAdmin } from "../../projection/ProjectionAdmin.ts"\nexport const ProjectionLive = ProjectionAdmin\n`,
      "src/edge/helper.ts": `import { fake } from "../../test/fake.ts"\nimport { x } from "unlisted-pkg"\nimport { gone } from "./gone.ts"\nexport const helper = [fake, x, gone]\n`,
      "src/layers/Main.ts": "export const Main = 1\n",
      "test/fake.ts": "export const fake = 1\n"
    }

    beforeAll(() => {
      tree = mkdtempSync(join(tmpdir(), "cogo-depcruise-"))
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(dirname(join(tree, path)), { recursive: true })
        writeFileSync(join(tree, path), text)
      }
    })
    afterAll(() => rmSync(tree, { recursive: true, force: true }))

    it("is reported rule by rule, and the allowed edge/projection -> ProjectionAdmin import is not", async () => {
      const { tsConfig: _repoTsConfig, ...options } = await repoOptions()
      expect(await violationsOf(tree, options)).toEqual([
        "domain-imports-only-domain: src/domain/Id.ts -> src/services/Store.ts",
        "domain-no-node-io: src/domain/Id.ts -> fs",
        "edge-projection-only-from-its-group: src/edge/route.ts -> src/projection/Applier.ts",
        "edge-projection-only-from-its-group: src/edge/route.ts -> src/projection/ProjectionAdmin.ts",
        "edge-projection-only-via-its-services: src/edge/route.ts -> src/projection/Applier.ts",
        "no-circular: src/services/Cycle.ts -> src/services/Store.ts",
        "not-to-unlisted: src/edge/helper.ts -> node_modules/unlisted-pkg/index.js",
        "not-to-unresolvable: src/edge/helper.ts -> ./gone.ts",
        "only-entry-points-import-layers: src/projection/Applier.ts -> src/layers/Main.ts",
        "only-entry-points-import-layers: src/services/Wiring.ts -> src/layers/Main.ts",
        "projection-not-edge-layers: src/projection/Applier.ts -> src/edge/helper.ts",
        "projection-not-edge-layers: src/projection/Applier.ts -> src/layers/Main.ts",
        "services-not-edge-projection-layers: src/services/Store.ts -> src/edge/route.ts",
        "services-not-edge-projection-layers: src/services/Wiring.ts -> src/layers/Main.ts",
        "src-not-tests-or-benches: src/edge/helper.ts -> test/fake.ts"
      ])
    })
  })
})

/** Files outside src/layers allowed to compose layers: none (issue 10 moved the last ones into src/layers). */
const knownComposers: ReadonlyArray<string> = []

const sourcesUnder = (dir: string): ReadonlyArray<string> =>
  readdirSync(join(root, dir), { recursive: true, encoding: "utf8" })
    .filter((path) => path.endsWith(".ts"))
    .map((path) => relative(root, join(root, dir, path)))

describe("layer composition only in src/layers, src/bin and src/main.ts", () => {
  it("no file in src/services, src/edge or src/projection composes layers beyond the known list", () => {
    const composers = ["src/services", "src/edge", "src/projection"]
      .flatMap(sourcesUnder)
      .flatMap((file) => layerCompositions(file, readFileSync(join(root, file), "utf8")))
    const files = [...new Set(composers.map((c) => c.file))].sort()
    const unexpected = composers.filter((c) => !knownComposers.includes(c.file)).map((c) => `${c.file}:${c.line} ${c.call}`)
    expect(unexpected, "compose layers in src/layers instead").toEqual([])
    expect(knownComposers.filter((file) => !files.includes(file)), "stale entries: remove them from knownComposers").toEqual([])
  })

  it("finds Layer.provide/provideMerge/merge/mergeAll however Layer is imported, and nothing else", () => {
    const code = [
      `import { Layer as L, Effect } from "effect"`,
      `import * as LayerModule from "effect/Layer"`,
      `export const a = L.mergeAll(x, y).pipe(L.provide(z))`,
      `export const b = LayerModule.provideMerge(z)(x)`,
      `export const c = Layer.provide(unrelated)  // Layer is not imported here: someone else's name`,
      `export const d = L.effect(Tag, Effect.succeed(1))`
    ].join("\n")
    expect(layerCompositions("fixture.ts", code)).toEqual([
      { file: "fixture.ts", call: "L.mergeAll", line: 3 },
      { file: "fixture.ts", call: "L.provide", line: 3 },
      { file: "fixture.ts", call: "LayerModule.provideMerge", line: 4 }
    ])
  })
})
