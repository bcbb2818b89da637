import { Schema } from "effect"
import { FigmaFileResponse } from "./src/domain/figma/FigmaInput.ts"
import { CogoWidget } from "./src/domain/figma/CogoUi.ts"
import { compileGuard } from "./src/figma/fastGuard.ts"
import { generateFigmaFile } from "./test/fixtures/figma/generate.ts"
const is = compileGuard(FigmaFileResponse.ast)
for (const n of [3000, 3000, 3000, 3000, 100000]) {
  const doc = JSON.parse(JSON.stringify(generateFigmaFile(n)))
  let t = performance.now()
  const ok = is(doc)
  console.log(n, ok, (performance.now() - t).toFixed(1))
}
const doc = JSON.parse(JSON.stringify(generateFigmaFile(100)))
doc.document.children[1].children[0].children[0].cornerRadius = "x"
console.log(is(doc), Schema.is(FigmaFileResponse)(doc))
doc.document.children[1].children[0].children[0].cornerRadius = Infinity
console.log(is(doc), Schema.is(FigmaFileResponse)(doc))
const cg = compileGuard(CogoWidget.ast)
console.log(cg({type: "Text", data: "x", style: {color: "#000000ff"}}), cg({type: "Text", data: "x", style: {color: "#000000f"}}), cg({type:"Row", children:[{type:"Text", data: 1}]}))
