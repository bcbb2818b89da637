/**
 * The repository stands alone: every relative link in the README and docs/ points at a file inside the
 * repository (and, with `#anchor`, at a heading of that file), and nothing links outside it with `../`.
 */
import { describe, expect, it } from "@effect/vitest"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"

const root = resolve(import.meta.dirname, "../..")
const pages = ["README.md", "BENCHMARKS.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)]

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
const anchorsOf = (markdown: string): ReadonlySet<string> =>
  new Set(
    markdown.split("\n").filter((line) => /^#{1,6} /.test(line)).map((line) =>
      line.replace(/^#+ /, "").trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-")
    )
  )

/** Markdown links outside code blocks and inline code. */
const linksOf = (markdown: string): ReadonlyArray<string> => {
  const prose = markdown.replace(/```[\s\S]*?```/g, "").replace(/`[^`\n]*`/g, "")
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]!)
}

describe("documentation links", () => {
  it("README and docs link only to files and headings inside the repository", () => {
    const broken: Array<string> = []
    for (const page of pages) {
      const text = readFileSync(join(root, page), "utf8")
      for (const link of linksOf(text)) {
        if (/^[a-z]+:/i.test(link)) continue
        const [pathPart, anchor] = link.split("#") as [string, string | undefined]
        const target = pathPart === "" ? join(root, page) : resolve(dirname(join(root, page)), pathPart)
        if (relative(root, target).startsWith("..")) {
          broken.push(`${page}: ${link} leaves the repository`)
          continue
        }
        if (!existsSync(target)) {
          broken.push(`${page}: ${link} does not exist`)
          continue
        }
        if (anchor !== undefined && target.endsWith(".md") && !anchorsOf(readFileSync(target, "utf8")).has(anchor)) {
          broken.push(`${page}: ${link} names no heading`)
        }
      }
    }
    expect(broken).toEqual([])
  })

  it("the README stays a front door (under 12 KB)", () => {
    expect(readFileSync(join(root, "README.md")).byteLength).toBeLessThan(12 * 1024)
  })
})
