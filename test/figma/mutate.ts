/*
 * Seeded structural mutations of JSON documents (delete, replace with an odd value, duplicate, perturb),
 * shared by the fuzz tests and the guard/decoder agreement tests.
 */

export type Path = ReadonlyArray<string | number>

const REPLACEMENTS: ReadonlyArray<unknown> = [
  null, true, false, 0, -1, 1e308, -0.5, Number.NaN, Number.POSITIVE_INFINITY, "", "x", "SOLID", "IMAGE", "GRADIENT_DIAMOND",
  "FRAME", "TEXT", "INSTANCE", "VECTOR", "COMPONENT_SET", "CANVAS", "HORIZONTAL", "WRAP", "FILL", "HUG", "ABSOLUTE",
  "UNKNOWN_FUTURE_VALUE", [], {}, [{}], [null], { id: "z", type: "FRAME" }, { id: "y", type: "TEXT", characters: "t" },
  { type: "SOLID", color: { r: 2, g: -1, b: 0.5 } }, undefined
]

/** Every path to a value inside `root` (objects and arrays included). */
export const paths = (root: unknown): Array<Path> => {
  const out: Array<Path> = []
  const stack: Array<{ value: unknown; path: Path }> = [{ value: root, path: [] }]
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (item.path.length > 0) out.push(item.path)
    const { value, path } = item
    if (Array.isArray(value)) value.forEach((v, i) => stack.push({ value: v, path: [...path, i] }))
    else if (typeof value === "object" && value !== null) {
      for (const [k, v] of Object.entries(value)) stack.push({ value: v, path: [...path, k] })
    }
  }
  return out
}

type Container = Record<string | number, unknown>

const parentOf = (root: unknown, path: Path): Container | undefined => {
  let current: unknown = root
  for (const key of path.slice(0, -1)) {
    if (typeof current !== "object" || current === null) return undefined
    current = (current as Container)[key]
  }
  return typeof current === "object" && current !== null ? (current as Container) : undefined
}

/** Applies 1-3 random mutations (delete, replace, duplicate, perturb) to a clone of `document`. */
export const mutate = (document: unknown, documentPaths: ReadonlyArray<Path>, random: () => number): unknown => {
  const clone: unknown = structuredClone(document)
  const count = 1 + Math.floor(random() * 3)
  for (let i = 0; i < count; i++) {
    const path = documentPaths[Math.floor(random() * documentPaths.length)]
    const key = path?.at(-1)
    const parent = path === undefined ? undefined : parentOf(clone, path)
    if (parent === undefined || key === undefined || !(key in parent)) continue
    const op = random()
    const value = parent[key]
    if (op < 0.25) {
      if (Array.isArray(parent) && typeof key === "number") parent.splice(key, 1)
      else delete parent[key]
    } else if (op < 0.7) {
      parent[key] = REPLACEMENTS[Math.floor(random() * REPLACEMENTS.length)]
    } else if (op < 0.85 && Array.isArray(value)) {
      value.push(...structuredClone(value))
    } else if (typeof value === "number") {
      parent[key] = random() < 0.5 ? -value : value * 1e6
    } else {
      parent[key] = structuredClone(parent)
    }
  }
  return clone
}
