type RequiredKeys<T> = { [K in keyof T]: undefined extends T[K] ? never : K }[keyof T]
type OptionalKeys<T> = { [K in keyof T]: undefined extends T[K] ? K : never }[keyof T]

/** `T` with every key whose value may be `undefined` turned into an optional key (exactOptionalPropertyTypes). */
export type Compact<T> =
  & { readonly [K in RequiredKeys<T>]: T[K] }
  & { readonly [K in OptionalKeys<T>]?: Exclude<T[K], undefined> }

/**
 * Copies `fields` without its `undefined` values, so converters can write `{ a, b: maybeB }` and still
 * produce objects whose absent optional keys are really absent (the schemas use optional keys, and
 * deep-equality in the round-trip tests distinguishes "absent" from "undefined").
 */
export const compact = <T extends object>(fields: T): Compact<T> => {
  const source = fields as Readonly<Record<string, unknown>>
  const out: Record<string, unknown> = {}
  for (const key in source) {
    const value = source[key]
    if (value !== undefined) out[key] = value
  }
  return out as Compact<T>
}
