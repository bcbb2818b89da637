import { mkdirSync, writeFileSync } from "node:fs"
import { Schema } from "effect"
import { CogoDocument } from "../src/domain/figma/CogoUi.ts"
import { FigmaInput } from "../src/domain/figma/FigmaInput.ts"
import { UuiDocument } from "../src/domain/figma/Uui.ts"

/*
 * `npm run schema:export`: writes the JSON Schemas (draft 2020-12) of the three figma-compat formats to
 * schemas/. The Effect Schemas in src/domain/figma are the source; these files are generated, not edited.
 */

const targets = [
  { file: "figma-input.schema.json", schema: FigmaInput, title: "Figma input (files, nodes, plugin JSON_REST_V1 export, node)" },
  { file: "uui.schema.json", schema: UuiDocument, title: "UUI document v1" },
  { file: "cogo-ui.schema.json", schema: CogoDocument, title: "COGO UI JSON document v1" }
] as const

const outDir = new URL("../schemas/", import.meta.url)
mkdirSync(outDir, { recursive: true })
for (const target of targets) {
  const document = Schema.toJsonSchemaDocument(target.schema)
  const jsonSchema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: target.title,
    ...document.schema,
    $defs: document.definitions
  }
  writeFileSync(new URL(target.file, outDir), `${JSON.stringify(jsonSchema, null, 2)}\n`)
  console.log(`schemas/${target.file}: ${Object.keys(document.definitions).length} definitions`)
}
