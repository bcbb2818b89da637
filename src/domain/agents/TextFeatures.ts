/**
 * Pure text features shared by the offline embedder, the offline responder, chunking and evidence merging:
 * tokenizing with light normalization, hashed n-gram embeddings, sentence splitting, and overlap measures.
 */

const stopwords = new Set(
  ("a an and are as at be been but by can could do does did for from had has have how i if in into is it its " +
    "me my no not of on or our so than that the their them then there these they this to was we were what when " +
    "where which who why will with would you your about after before also any just more most other some such")
    .split(" ")
)

/** Light stemming: enough that "buttons"/"button", "configured"/"configure" share features. */
const stem = (word: string): string => {
  if (word.length > 5 && word.endsWith("ing")) return word.slice(0, -3)
  if (word.length > 4 && word.endsWith("ed")) return word.slice(0, -2)
  if (word.length > 4 && word.endsWith("es")) return word.slice(0, -2)
  if (word.length > 3 && word.endsWith("s") && !word.endsWith("ss")) return word.slice(0, -1)
  return word
}

/** Lowercased, stemmed content words (stopwords dropped). */
export const contentWords = (text: string): ReadonlyArray<string> =>
  (text.toLowerCase().normalize("NFKD").match(/[\p{L}\p{N}]+/gu) ?? [])
    .filter((word) => !stopwords.has(word))
    .map(stem)

/** 32-bit FNV-1a. */
export const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/**
 * A deterministic embedding: word unigrams (weight 1), word bigrams (0.5) and character trigrams of each word
 * (0.3, so related word forms overlap) hashed into `dimensions` buckets with a hashed sign, L2-normalized.
 * An empty text gives the zero vector's stand-in: a fixed unit vector, so cosine stays defined.
 */
export const hashedEmbedding = (text: string, dimensions: number): ReadonlyArray<number> => {
  const vector = new Float64Array(dimensions)
  const add = (feature: string, weight: number) => {
    const hash = fnv1a(feature)
    vector[hash % dimensions]! += (hash & 0x80000000) === 0 ? weight : -weight
  }
  const words = contentWords(text)
  words.forEach((word, i) => {
    add(`w:${word}`, 1)
    if (i > 0) add(`b:${words[i - 1]}_${word}`, 0.5)
    const padded = `^${word}$`
    for (let j = 0; j + 3 <= padded.length; j++) add(`c:${padded.slice(j, j + 3)}`, 0.3)
  })
  let norm = 0
  for (const value of vector) norm += value * value
  if (norm === 0) {
    vector[0] = 1
    norm = 1
  }
  const scale = 1 / Math.sqrt(norm)
  return Array.from(vector, (value) => value * scale)
}

export const cosine = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  let dot = 0
  let na = 0
  let nb = 0
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * (b[i] ?? 0)
    na += a[i]! * a[i]!
    nb += (b[i] ?? 0) * (b[i] ?? 0)
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb)
}

/** Sentences (or lines) of a text, trimmed, empty ones dropped. */
export const sentences = (text: string): ReadonlyArray<string> =>
  text.split(/(?<=[.!?])\s+|\n+/).map((s) => s.trim()).filter((s) => s.length > 0)

/** Share of `a`'s content words that also occur in `b` (0..1). */
export const containment = (a: string, b: string): number => {
  const wordsA = new Set(contentWords(a))
  if (wordsA.size === 0) return 0
  const wordsB = new Set(contentWords(b))
  let shared = 0
  for (const word of wordsA) if (wordsB.has(word)) shared++
  return shared / wordsA.size
}

/**
 * Splits a document into chunks of about `maxChars`, on paragraph, then sentence, then word boundaries,
 * with `overlapChars` of the previous chunk repeated so a fact split across a boundary stays findable.
 */
export const chunkText = (text: string, maxChars: number, overlapChars: number): ReadonlyArray<string> => {
  const normalized = text.replace(/\r\n/g, "\n").trim()
  if (normalized.length === 0) return []
  if (normalized.length <= maxChars) return [normalized]
  const pieces = normalized.split(/\n{2,}/).flatMap((paragraph) =>
    paragraph.length <= maxChars ? [paragraph] : sentences(paragraph).flatMap((sentence) =>
      sentence.length <= maxChars ? [sentence] : (sentence.match(new RegExp(`.{1,${maxChars}}(\\s|$)`, "g")) ?? [sentence])
    )
  )
  const chunks: Array<string> = []
  let current = ""
  for (const piece of pieces) {
    const candidate = current.length === 0 ? piece : `${current}\n${piece}`
    if (candidate.length <= maxChars || current.length === 0) {
      current = candidate
      continue
    }
    chunks.push(current.trim())
    const tail = current.slice(Math.max(0, current.length - overlapChars))
    const boundary = tail.indexOf(" ")
    const overlap = boundary < 0 ? "" : tail.slice(boundary + 1)
    current = overlap.length > 0 && overlap.length + piece.length + 1 <= maxChars ? `${overlap}\n${piece}` : piece
  }
  if (current.trim().length > 0) chunks.push(current.trim())
  return chunks
}
