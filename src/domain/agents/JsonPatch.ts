/**
 * JSON Patch (RFC 6902) over JSON values: the operations as a Schema (so a model's tool call is decoded
 * before anything runs) and a pure `applyPatch` that never mutates its input. Paths are JSON Pointers
 * (RFC 6901, `~0` / `~1` escapes); `-` appends to an array. A failed `test` or a missing path rejects the
 * whole patch (no partial application).
 */
import { Result, Schema } from "effect"

const Pointer = Schema.String.check(Schema.isMaxLength(2_000))

export const JsonPatchOperation = Schema.Union([
  Schema.Struct({ op: Schema.Literal("add"), path: Pointer, value: Schema.Unknown }),
  Schema.Struct({ op: Schema.Literal("remove"), path: Pointer }),
  Schema.Struct({ op: Schema.Literal("replace"), path: Pointer, value: Schema.Unknown }),
  Schema.Struct({ op: Schema.Literal("move"), from: Pointer, path: Pointer }),
  Schema.Struct({ op: Schema.Literal("copy"), from: Pointer, path: Pointer }),
  Schema.Struct({ op: Schema.Literal("test"), path: Pointer, value: Schema.Unknown })
])
export type JsonPatchOperation = typeof JsonPatchOperation.Type

export const JsonPatch = Schema.Array(JsonPatchOperation).check(Schema.isMaxLength(500))
export type JsonPatch = typeof JsonPatch.Type

const parsePointer = (pointer: string): Result.Result<ReadonlyArray<string>, string> => {
  if (pointer === "") return Result.succeed([])
  if (!pointer.startsWith("/")) return Result.fail(`"${pointer}" is not a JSON Pointer`)
  return Result.succeed(pointer.slice(1).split("/").map((token) => token.replace(/~1/g, "/").replace(/~0/g, "~")))
}

const isContainer = (value: unknown): value is Record<string, unknown> | Array<unknown> => typeof value === "object" && value !== null

const clone = (value: unknown): unknown => value === undefined ? undefined : structuredClone(value)

const arrayIndex = (array: ReadonlyArray<unknown>, token: string, forInsert: boolean): number | undefined => {
  if (forInsert && token === "-") return array.length
  if (!/^(0|[1-9]\d*)$/.test(token)) return undefined
  const index = Number(token)
  return index < array.length + (forInsert ? 1 : 0) ? index : undefined
}

const get = (document: unknown, tokens: ReadonlyArray<string>): Result.Result<unknown, string> => {
  let current = document
  for (const token of tokens) {
    if (Array.isArray(current)) {
      const index = arrayIndex(current, token, false)
      if (index === undefined) return Result.fail(`no array element ${token}`)
      current = current[index]
    } else if (isContainer(current) && Object.hasOwn(current, token)) {
      current = (current as Record<string, unknown>)[token]
    } else {
      return Result.fail(`no member "${token}"`)
    }
  }
  return Result.succeed(current)
}

/** The parent container of `tokens` in `document` (already a private copy) and the last token. */
const parentOf = (document: unknown, tokens: ReadonlyArray<string>) =>
  Result.map(get(document, tokens.slice(0, -1)), (parent) => ({ parent, last: tokens.at(-1)! }))

const add = (document: unknown, tokens: ReadonlyArray<string>, value: unknown): Result.Result<unknown, string> => {
  if (tokens.length === 0) return Result.succeed(value)
  return Result.flatMap(parentOf(document, tokens), ({ parent, last }) => {
    if (Array.isArray(parent)) {
      const index = arrayIndex(parent, last, true)
      if (index === undefined) return Result.fail(`array index ${last} out of range`)
      parent.splice(index, 0, value)
      return Result.succeed(document)
    }
    if (!isContainer(parent)) return Result.fail("the parent is not an object or array")
    ;(parent as Record<string, unknown>)[last] = value
    return Result.succeed(document)
  })
}

const remove = (document: unknown, tokens: ReadonlyArray<string>): Result.Result<unknown, string> => {
  if (tokens.length === 0) return Result.fail("cannot remove the whole document")
  return Result.flatMap(parentOf(document, tokens), ({ parent, last }) => {
    if (Array.isArray(parent)) {
      const index = arrayIndex(parent, last, false)
      if (index === undefined) return Result.fail(`no array element ${last}`)
      parent.splice(index, 1)
      return Result.succeed(document)
    }
    if (!isContainer(parent) || !Object.hasOwn(parent, last)) return Result.fail(`no member "${last}"`)
    delete (parent as Record<string, unknown>)[last]
    return Result.succeed(document)
  })
}

const applyOne = (document: unknown, operation: JsonPatchOperation): Result.Result<unknown, string> =>
  Result.flatMap(parsePointer(operation.path), (path) => {
    switch (operation.op) {
      case "add":
        return add(document, path, clone(operation.value))
      case "remove":
        return remove(document, path)
      case "replace":
        return Result.flatMap(remove(document, path), (removed) => add(removed, path, clone(operation.value)))
      case "test":
        return Result.flatMap(get(document, path), (found) =>
          JSON.stringify(found) === JSON.stringify(operation.value) ? Result.succeed(document) : Result.fail(`test failed at "${operation.path}"`))
      case "move":
      case "copy":
        return Result.flatMap(parsePointer(operation.from), (from) =>
          Result.flatMap(get(document, from), (value) => {
            if (operation.op === "copy") return add(document, path, clone(value))
            if (operation.path.startsWith(`${operation.from}/`)) return Result.fail("cannot move a value into itself")
            return Result.flatMap(remove(document, from), (removed) => add(removed, path, value))
          }))
    }
  })

/** Applies the operations in order to a copy of `document`; the first failing one rejects the patch. */
export const applyPatch = (document: unknown, patch: JsonPatch): Result.Result<unknown, string> => {
  let current: unknown = clone(document)
  for (const [index, operation] of patch.entries()) {
    const next = applyOne(current, operation)
    if (Result.isFailure(next)) return Result.fail(`operation ${index} (${operation.op}): ${next.failure}`)
    current = next.success
  }
  return Result.succeed(current)
}
