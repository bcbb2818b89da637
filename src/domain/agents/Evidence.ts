/**
 * Merging evidence: retrieved excerpts that repeat or overlap each other become one piece of evidence that
 * keeps every source it came from (provenance) and the best score. Pure, so the rules are unit-tested.
 */
import { containment } from "./TextFeatures.ts"

export interface EvidenceSource {
  readonly sourceType: string
  readonly sourceId: string
  readonly score: number
}

export interface EvidenceItem {
  readonly content: string
  readonly score: number
  readonly sources: ReadonlyArray<EvidenceSource>
}

const minOverlapChars = 20
/** Share of content words of the smaller excerpt found in the larger one above which both say the same. */
const duplicateContainment = 0.85

const normalize = (text: string) => text.replace(/\s+/g, " ").trim()

/** `a` followed by `b` without the text they share (a suffix of `a` that is a prefix of `b`), if any. */
export const joinOverlapping = (a: string, b: string): string | undefined => {
  const max = Math.min(a.length, b.length) - 1
  for (let length = max; length >= minOverlapChars; length--) {
    if (a.endsWith(b.slice(0, length))) return a + b.slice(length)
  }
  return undefined
}

const mergeSources = (a: ReadonlyArray<EvidenceSource>, b: ReadonlyArray<EvidenceSource>): ReadonlyArray<EvidenceSource> => {
  const byKey = new Map<string, EvidenceSource>()
  for (const source of [...a, ...b]) {
    const key = `${source.sourceType}\u0000${source.sourceId}`
    const seen = byKey.get(key)
    if (seen === undefined || seen.score < source.score) byKey.set(key, source)
  }
  return Array.from(byKey.values()).sort((x, y) => y.score - x.score)
}

/** The merge of two items when they repeat or overlap each other, else undefined. */
export const mergePair = (a: EvidenceItem, b: EvidenceItem): EvidenceItem | undefined => {
  const ca = normalize(a.content)
  const cb = normalize(b.content)
  const merged = (content: string): EvidenceItem => ({
    content,
    score: Math.max(a.score, b.score),
    sources: mergeSources(a.sources, b.sources)
  })
  if (ca === cb || cb.includes(ca)) return merged(cb)
  if (ca.includes(cb)) return merged(ca)
  const joined = joinOverlapping(ca, cb) ?? joinOverlapping(cb, ca)
  if (joined !== undefined) return merged(joined)
  const [small, large] = ca.length <= cb.length ? [ca, cb] : [cb, ca]
  if (containment(small, large) >= duplicateContainment) return merged(large)
  return undefined
}

/** Merges until no two items repeat or overlap; best score first. */
export const mergeEvidence = (items: ReadonlyArray<EvidenceItem>): ReadonlyArray<EvidenceItem> => {
  const result: Array<EvidenceItem> = []
  for (const item of [...items].sort((x, y) => y.score - x.score)) {
    let current = item
    // A merge can make the item overlap others already kept: keep folding until it is stable.
    for (let i = 0; i < result.length;) {
      const merged = mergePair(result[i]!, current)
      if (merged === undefined) {
        i++
        continue
      }
      result.splice(i, 1)
      current = merged
      i = 0
    }
    result.push(current)
  }
  return result.sort((x, y) => y.score - x.score)
}
