import { Schema, SchemaAST } from "effect"

/*
 * Schema.is / Schema.decodeUnknownResult on a 3,000-node Figma file take 45-80 ms (about 15-25 µs per node,
 * measured with effect 4.1.0 on the bench machine), most of the 100 ms budget. This compiles the same
 * Schema AST into a plain predicate (about 1 µs per node). The Schema stays the single source of truth: the
 * guard only answers "valid or not"; on "not" the caller runs the real decoder to get the issue path.
 *
 * Supported: structs, records, arrays/tuples, unions, literals, string/number/boolean/null/unknown,
 * suspended (recursive) schemas and filter checks. Anything else falls back to Schema.is for that subtree.
 */

type Guard = (input: unknown) => boolean

const FINITE_REPRESENTATION = JSON.stringify({ id: "effect/schema/isFinite", payload: null })

const runsChecks = (ast: SchemaAST.AST, checks: SchemaAST.Checks | undefined): Guard | undefined => {
  if (checks === undefined) return undefined
  const flat: Array<SchemaAST.Filter<unknown>> = []
  const collect = (check: SchemaAST.Check<unknown>) => {
    if (check._tag === "Filter") flat.push(check)
    else for (const inner of check.checks) collect(inner)
  }
  for (const check of checks) collect(check)
  // The finiteness check runs on every number of a Figma file; a direct call avoids building issues.
  if (flat.length === 1 && flat[0]?.annotations?.["representation"] !== undefined &&
    JSON.stringify(flat[0].annotations["representation"]) === FINITE_REPRESENTATION) {
    return (input) => Number.isFinite(input)
  }
  return (input) => {
    for (const filter of flat) {
      if (filter.run(input, ast, {}) !== undefined) return false
    }
    return true
  }
}

const isObject = (u: unknown): u is Readonly<Record<PropertyKey, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

export const compileGuard = (root: SchemaAST.AST): Guard => {
  const compiled = new Map<SchemaAST.AST, Guard>()

  const compile = (ast: SchemaAST.AST): Guard => {
    const cached = compiled.get(ast)
    if (cached !== undefined) return cached
    // Placeholder for recursion: replaced below, and suspended schemas call through `compiled` lazily.
    let resolved: Guard | undefined
    const lazy: Guard = (input) => (resolved ?? compile(ast))(input)
    compiled.set(ast, lazy)
    const base = compileBase(ast)
    const checks = runsChecks(ast, ast.checks)
    resolved = checks === undefined ? base : (input) => base(input) && checks(input)
    compiled.set(ast, resolved)
    return resolved
  }

  const compileBase = (ast: SchemaAST.AST): Guard => {
    if (ast.encoding !== undefined) return Schema.is(Schema.make(ast))
    switch (ast._tag) {
      case "String":
        return (u) => typeof u === "string"
      case "Number":
        return (u) => typeof u === "number"
      case "Boolean":
        return (u) => typeof u === "boolean"
      case "Null":
        return (u) => u === null
      case "Unknown":
      case "Any":
        return () => true
      case "Literal": {
        const literal = ast.literal
        return (u) => u === literal
      }
      case "Suspend": {
        let inner: Guard | undefined
        return (u) => (inner ??= compile(ast.thunk()))(u)
      }
      case "Union": {
        const members = ast.types.map(compile)
        return (u) => members.some((member) => member(u))
      }
      case "Arrays": {
        const elements = ast.elements.map(compile)
        const optional = ast.elements.map(SchemaAST.isOptional)
        const [rest, ...tail] = ast.rest.map(compile)
        if (tail.length > 0) return Schema.is(Schema.make(ast))
        return (u) => {
          if (!Array.isArray(u)) return false
          for (let i = 0; i < elements.length; i++) {
            if (i >= u.length) {
              if (optional[i] !== true) return false
            } else if (elements[i]?.(u[i]) !== true) return false
          }
          if (rest === undefined) return u.length <= elements.length
          for (let i = elements.length; i < u.length; i++) if (!rest(u[i])) return false
          return true
        }
      }
      case "Objects": {
        // Iterate the input's keys (a Figma node has ~15) rather than the schema's (~80 optional ones).
        const properties = new Map(ast.propertySignatures.map((p) => [p.name, compile(p.type)]))
        const required = ast.propertySignatures.filter((p) => !SchemaAST.isOptional(p.type)).map((p) => p.name)
        const indexes = ast.indexSignatures.map((s) => ({ key: compile(s.parameter), value: compile(s.type) }))
        return (u) => {
          if (!isObject(u)) return false
          for (const name of required) if (!Object.hasOwn(u, name)) return false
          for (const key in u) {
            const property = properties.get(key)
            if (property !== undefined) {
              if (!property(u[key])) return false
              continue
            }
            for (const index of indexes) {
              if (index.key(key) && !index.value(u[key])) return false
            }
          }
          return true
        }
      }
      default:
        return Schema.is(Schema.make(ast))
    }
  }

  return compile(root)
}
