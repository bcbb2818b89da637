/** Command-line options of bench scripts. */

/** `--<name> N`: a positive integer, or `fallback` when absent; anything else is an error, not a silent default. */
export const intOption = (args: ReadonlyArray<string>, name: string, fallback: number): number => {
  const index = args.indexOf(`--${name}`)
  const value = index < 0 ? fallback : Number(args[index + 1])
  if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a positive integer`)
  return value
}
