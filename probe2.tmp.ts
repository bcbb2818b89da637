import { Schema } from "effect"
const f = Schema.Finite
console.log(JSON.stringify(f.ast.checks?.map(c => c.annotations)), f.ast._tag)
