/**
 * Field-level three-way merge of JSON values (issue 12, "resolve a conflict by merging"): `base` is the
 * state both sides started from, `mine` the user's edit, `theirs` the agent's. Where only one side changed a
 * field, that side wins; where both changed it to the same value, fine; where both changed it differently,
 * the field is a conflict (its JSON path is reported) unless both values are objects (merged key by key) or
 * arrays of the same length on all three sides (merged index by index). Nothing is guessed.
 */

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

export type MergeResult =
  | { readonly _tag: "Merged"; readonly value: Json }
  | { readonly _tag: "Overlap"; readonly paths: ReadonlyArray<ReadonlyArray<string | number>> }

const isObject = (value: Json | undefined): value is { readonly [key: string]: Json } =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export const jsonEqual = (a: Json | undefined, b: Json | undefined): boolean => {
  if (a === b) return true
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]))
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a)
    return keys.length === Object.keys(b).length && keys.every((key) => key in b && jsonEqual(a[key], b[key]))
  }
  return false
}

/** `undefined` stands for "absent" (a removed key). */
const mergeAt = (
  base: Json | undefined,
  mine: Json | undefined,
  theirs: Json | undefined,
  path: ReadonlyArray<string | number>,
  overlaps: Array<ReadonlyArray<string | number>>
): Json | undefined => {
  if (jsonEqual(mine, theirs)) return mine
  if (jsonEqual(mine, base)) return theirs
  if (jsonEqual(theirs, base)) return mine
  if (isObject(mine) && isObject(theirs)) {
    const baseObject = isObject(base) ? base : {}
    const out: Record<string, Json> = {}
    for (const key of new Set([...Object.keys(mine), ...Object.keys(theirs)])) {
      const merged = mergeAt(baseObject[key], mine[key], theirs[key], [...path, key], overlaps)
      if (merged !== undefined) out[key] = merged
    }
    return out
  }
  if (Array.isArray(mine) && Array.isArray(theirs) && Array.isArray(base) && mine.length === theirs.length && base.length === mine.length) {
    return mine.map((item, i) => mergeAt(base[i], item, theirs[i], [...path, i], overlaps) ?? null)
  }
  overlaps.push(path)
  return mine
}

/** Merges `mine` and `theirs` against `base`. */
export const threeWayMerge = (base: Json, mine: Json, theirs: Json): MergeResult => {
  const overlaps: Array<ReadonlyArray<string | number>> = []
  const value = mergeAt(base, mine, theirs, [], overlaps)
  return overlaps.length > 0 ? { _tag: "Overlap", paths: overlaps } : { _tag: "Merged", value: value ?? null }
}
