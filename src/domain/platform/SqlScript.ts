/**
 * Splits a SQL script into statements. The Postgres extended protocol (which the driver always uses) takes
 * one statement at a time, so migration files are split here: on `;` outside quotes, identifiers, comments
 * and dollar-quoted bodies.
 */
export const splitSqlStatements = (script: string): ReadonlyArray<string> => {
  const statements: Array<string> = []
  let start = 0
  let i = 0
  const n = script.length
  const push = (end: number) => {
    const text = script.slice(start, end).trim()
    if (text.length > 0 && !isOnlyComments(text)) statements.push(text)
  }
  while (i < n) {
    const c = script[i]!
    const next = script[i + 1]
    if (c === "-" && next === "-") {
      const eol = script.indexOf("\n", i)
      i = eol < 0 ? n : eol + 1
    } else if (c === "/" && next === "*") {
      const end = script.indexOf("*/", i + 2)
      i = end < 0 ? n : end + 2
    } else if (c === "'" || c === "\"") {
      i = skipQuoted(script, i, c)
    } else if (c === "$") {
      const tag = /^\$[A-Za-z_]*\$/.exec(script.slice(i, i + 64))?.[0]
      if (tag === undefined) {
        i++
      } else {
        const end = script.indexOf(tag, i + tag.length)
        i = end < 0 ? n : end + tag.length
      }
    } else if (c === ";") {
      push(i)
      start = i + 1
      i++
    } else {
      i++
    }
  }
  push(n)
  return statements
}

const skipQuoted = (script: string, from: number, quote: string): number => {
  let i = from + 1
  while (i < script.length) {
    if (script[i] === quote) {
      if (script[i + 1] === quote) i += 2
      else return i + 1
    } else {
      i++
    }
  }
  return i
}

const isOnlyComments = (text: string): boolean =>
  text.split("\n").every((line) => line.trim() === "" || line.trim().startsWith("--"))
