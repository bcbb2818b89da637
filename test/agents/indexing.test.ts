import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Effect, Layer, Metric, Ref } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { joinOverlapping, mergeEvidence } from "../../src/domain/agents/Evidence.ts"
import { chunkText } from "../../src/domain/agents/TextFeatures.ts"
import { Embeddings } from "../../src/services/agents/Embeddings.ts"
import { IndexingAgent, vectorSearches } from "../../src/services/agents/IndexingAgent.ts"
import { ResearchAgent } from "../../src/services/agents/ResearchAgent.ts"
import { envLayer, platformLayer } from "./layers.ts"

const projectA = "00000000-0000-0000-0000-00000000000a"
const projectB = "00000000-0000-0000-0000-00000000000b"

/** `n` seeded pseudo-random unit vectors of 384 dimensions (a fixed fixture, not embeddings of any text). */
const fixtureVectors = (n: number, seed: number): ReadonlyArray<ReadonlyArray<number>> => {
  let state = seed
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648
    return state / 2_147_483_648 - 0.5
  }
  return Array.from({ length: n }, () => {
    const v = Array.from({ length: 384 }, random)
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0))
    return v.map((x) => x / norm)
  })
}

const cosine = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => {
  let dot = 0, na = 0, nb = 0
  a.forEach((x, i) => {
    dot += x * b[i]!
    na += x * x
    nb += b[i]! * b[i]!
  })
  return dot / Math.sqrt(na * nb)
}

const searchesBy = (plan: "exact" | "binary" | "hnsw") => Effect.map(Metric.value(Metric.withAttributes(vectorSearches, { plan })), (state) => state.count)

const docs = [
  { sourceType: "doc", sourceId: "auth", text: "To sign in, users authenticate with their email address and a one-time magic link sent to their inbox." },
  { sourceType: "doc", sourceId: "theme", text: "The brand theme uses a teal primary color, rounded corners and the Inter font family." },
  { sourceType: "doc", sourceId: "deploy", text: "Deployments run on every push to main; the pipeline builds the Flutter web bundle and uploads it to storage." },
  { sourceType: "doc", sourceId: "billing", text: "Invoices are generated monthly and customers can download them as PDF files from the billing page." }
]

/** How many texts the embedder was asked to embed. */
class CallsRef extends Context.Service<CallsRef, Ref.Ref<number>>()("test/EmbedCalls") {
  static readonly layer = Layer.effect(CallsRef, Ref.make(0))
}

/** The offline embedder, counting its inputs. */
const countingEmbeddings = Layer.effect(Embeddings, Effect.gen(function*() {
  const calls = yield* Effect.service(CallsRef)
  const offline = yield* Effect.service(Embeddings).pipe(Effect.provide(Embeddings.layerOffline))
  return Embeddings.of({ ...offline, embed: (texts) => Effect.andThen(Ref.update(calls, (n) => n + texts.length), offline.embed(texts)) })
}))

const agents = ResearchAgent.layer.pipe(
  Layer.provideMerge(IndexingAgent.layer),
  Layer.provideMerge(countingEmbeddings),
  Layer.provideMerge(CallsRef.layer),
  Layer.provide(envLayer({ INDEX_CHUNK_CHARS: "200", INDEX_CHUNK_OVERLAP: "60" })),
  Layer.provideMerge(platformLayer())
)

describe("evidence merging and chunking", () => {
  it("joins overlapping excerpts and keeps every source", () => {
    assert.strictEqual(joinOverlapping("alpha beta gamma delta epsilon zeta", "delta epsilon zeta eta theta"), undefined)
    assert.strictEqual(
      joinOverlapping("one two three four five six seven eight", "five six seven eight nine ten"),
      "one two three four five six seven eight nine ten"
    )
    const merged = mergeEvidence([
      { content: "The primary color is teal and buttons are rounded.", score: 0.9, sources: [{ sourceType: "doc", sourceId: "a", score: 0.9 }] },
      { content: "The primary color is teal and buttons are rounded.", score: 0.7, sources: [{ sourceType: "doc", sourceId: "b", score: 0.7 }] },
      { content: "Buttons are rounded. Cards have shadows and the grid has twelve columns.", score: 0.5, sources: [{ sourceType: "doc", sourceId: "c", score: 0.5 }] },
      { content: "Cards have shadows and the grid has twelve columns. Icons come from Material.", score: 0.4, sources: [{ sourceType: "doc", sourceId: "d", score: 0.4 }] },
      { content: "Invoices are monthly.", score: 0.3, sources: [{ sourceType: "doc", sourceId: "e", score: 0.3 }] }
    ])
    assert.strictEqual(merged.length, 3)
    assert.deepStrictEqual(merged[0]!.sources.map((s) => s.sourceId), ["a", "b"])
    assert.strictEqual(merged[1]!.content, "Buttons are rounded. Cards have shadows and the grid has twelve columns. Icons come from Material.")
    assert.deepStrictEqual(merged[1]!.sources.map((s) => s.sourceId), ["c", "d"])
    assert.strictEqual(merged[1]!.score, 0.5)
  })

  it("chunks long text with overlap and never loses words", () => {
    const text = Array.from({ length: 60 }, (_, i) => `Sentence number ${i} says something.`).join(" ")
    const chunks = chunkText(text, 200, 60)
    assert.isAbove(chunks.length, 5)
    assert.isTrue(chunks.every((c) => c.length <= 200))
    for (let i = 0; i < 60; i++) assert.isTrue(chunks.some((c) => c.includes(`Sentence number ${i} says`)), `sentence ${i}`)
    assert.isDefined(joinOverlapping(chunks[0]!.replace(/\s+/g, " "), chunks[1]!.replace(/\s+/g, " ")))
  })
})

layer(agents, { excludeTestServices: true })("indexing and research on pgvector", (it) => {
  it.effect("a known document is found for a paraphrased query, only within its project; unchanged text is not re-embedded", () =>
    Effect.gen(function*() {
      const indexing = yield* IndexingAgent
      const calls = yield* CallsRef
      const first = yield* indexing.index(projectA, docs)
      assert.deepStrictEqual(first, { documents: 4, chunks: 4, cached: 0, removed: 0 })
      yield* indexing.index(projectB, [{ sourceType: "doc", sourceId: "other-auth", text: docs[0]!.text }])
      const login = yield* indexing.search(projectA, "How do people log in with an emailed link?", 3)
      assert.strictEqual(login[0]?.sourceId, "auth")
      assert.isTrue(login.every((hit) => hit.sourceId !== "other-auth"))
      assert.isAbove(login[0]!.score, login[1]!.score)
      const styling = yield* indexing.search(projectA, "which colors and fonts does the brand styling use", 2)
      assert.strictEqual(styling[0]?.sourceId, "theme")
      const invoices = yield* indexing.search(projectA, "download a monthly invoice as pdf", 1)
      assert.strictEqual(invoices[0]?.sourceId, "billing")

      const before = yield* Ref.get(calls)
      const again = yield* indexing.index(projectA, docs)
      assert.strictEqual(again.cached, 4)
      // Only the queries above were embedded since: re-indexing unchanged text used the cache.
      assert.strictEqual((yield* Ref.get(calls)) - before, 0)
    }))

  it.effect("re-indexing a shorter document removes its stale chunks", () =>
    Effect.gen(function*() {
      const indexing = yield* IndexingAgent
      const sql = yield* SqlClient
      const long = Array.from({ length: 20 }, (_, i) => `Paragraph ${i} describes widget ${i} in detail.`).join("\n\n")
      const report = yield* indexing.index(projectA, [{ sourceType: "upload", sourceId: "manual", text: long }])
      assert.isAbove(report.chunks, 2)
      const shorter = yield* indexing.index(projectA, [{ sourceType: "upload", sourceId: "manual", text: "Just one line now." }])
      assert.strictEqual(shorter.removed, report.chunks - 1)
      const rows = yield* sql<{ n: string }>`SELECT count(*) AS n FROM cogo.vectors WHERE source_id = 'manual'`
      assert.strictEqual(Number(rows[0]!.n), 1)
      assert.strictEqual(yield* indexing.remove(projectA, "upload", "manual"), 1)
    }))

  it.effect("research merges duplicate evidence and records knowledge with provenance, idempotently", () =>
    Effect.gen(function*() {
      const indexing = yield* IndexingAgent
      const research = yield* ResearchAgent
      const sql = yield* SqlClient
      const project = "00000000-0000-0000-0000-0000000000c1"
      const fact = "Checkout buttons use the accent color and show a spinner while the payment is processing."
      yield* indexing.index(project, [
        { sourceType: "component", sourceId: "checkout-button", text: fact },
        { sourceType: "page", sourceId: "checkout", text: fact },
        { sourceType: "doc", sourceId: "unrelated", text: "The office plants are watered on Fridays by the facilities team." }
      ])
      const jobId = "00000000-0000-0000-0000-0000000000f1"
      const result = yield* research.research({ projectId: project, question: "what do checkout buttons show during payment processing", jobId })
      const top = result.evidence[0]!
      assert.strictEqual(top.content, fact)
      assert.deepStrictEqual(top.sources.map((s) => s.sourceId).sort(), ["checkout", "checkout-button"])
      assert.isFalse(result.evidence.some((e) => e.content.includes("plants")))
      assert.strictEqual(result.knowledgeIds.length, result.evidence.length)
      const knowledge = yield* sql<{ id: string; job_id: string; sources: Array<{ sourceId: string }> }>`
        SELECT id, job_id, sources FROM cogo.knowledge WHERE project_id = ${project}`
      assert.strictEqual(knowledge.length, result.evidence.length)
      const topRow = knowledge.find((k) => k.id === result.knowledgeIds[0])!
      assert.strictEqual(topRow.job_id, jobId)
      assert.deepStrictEqual(topRow.sources.map((s) => s.sourceId).sort(), ["checkout", "checkout-button"])
      const evidence = yield* sql<{ source_id: string; job_id: string }>`
        SELECT source_id, job_id FROM cogo.evidence WHERE knowledge_id = ${result.knowledgeIds[0]!} ORDER BY source_id`
      assert.deepStrictEqual(evidence.map((e) => e.source_id), ["checkout", "checkout-button"])
      assert.isTrue(evidence.every((e) => e.job_id === jobId))

      // Asking again: recorded knowledge is retrieved too, merges with the chunks, and nothing is duplicated.
      const again = yield* research.research({ projectId: project, question: "what do checkout buttons show during payment processing", jobId })
      assert.deepStrictEqual(again.knowledgeIds[0], result.knowledgeIds[0])
      const counts = yield* sql<{ k: string; e: string }>`
        SELECT (SELECT count(*) FROM cogo.knowledge WHERE project_id = ${project}) AS k,
               (SELECT count(*) FROM cogo.evidence WHERE project_id = ${project}) AS e`
      assert.strictEqual(Number(counts[0]!.k), knowledge.length)
      assert.strictEqual(Number(counts[0]!.e), 2 * 1 + (result.evidence.length - 1))
    }))

  it.effect("indexes a project's public content and forgets deleted entities", () =>
    Effect.gen(function*() {
      const indexing = yield* IndexingAgent
      const sql = yield* SqlClient
      const project = "00000000-0000-4000-8000-0000000000d1"
      const login = "00000000-0000-4000-8000-0000000000d2"
      // Seeded directly (the test connection may write public.*; agents cannot).
      yield* sql`INSERT INTO public.projects (id, name, description, owner_id) VALUES (${project}, 'Shop', 'An online shop for plants', ${project})`
      yield* sql`INSERT INTO public.components (id, project_id, name, definition) VALUES
        (${login}, ${project}, 'LoginForm', ${JSON.stringify({ children: [{ type: "TextField", label: "Email address" }, { type: "Button", text: "Send magic link" }] })}::jsonb),
        ('00000000-0000-4000-8000-0000000000d3', ${project}, 'ProductCard', ${JSON.stringify({ children: [{ type: "Image" }, { type: "Text", text: "Price in euros" }] })}::jsonb)`
      const report = yield* indexing.indexProject(project)
      assert.strictEqual(report.documents, 3)
      const hits = yield* indexing.search(project, "where does the user type the email to receive a link", 1)
      assert.strictEqual(hits[0]?.sourceId, login)
      assert.include(hits[0]!.content, "label: Email address")
      yield* sql`DELETE FROM public.components WHERE id = ${login}`
      const again = yield* indexing.indexProject(project)
      assert.strictEqual(again.removed, 1)
      assert.strictEqual(again.cached, 2)
      const after = yield* indexing.search(project, "email magic link", 5)
      assert.isTrue(after.every((hit) => hit.sourceId !== login))
    }))

  it.effect("a small scope is searched exactly (the true top-k); above VECTOR_BINARY_BELOW the HNSW index is used; one scope only", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const indexing = yield* IndexingAgent
      const embeddings = yield* Embeddings
      const project = "00000000-0000-4000-8000-0000000000e1"
      const neighbour = "00000000-0000-4000-8000-0000000000e2"
      const query = "which screen lists the orders of the last month"
      const [q] = yield* embeddings.embed([query])
      const vectors = fixtureVectors(200, 7)
      const insert = (projectId: string, rows: ReadonlyArray<readonly [string, ReadonlyArray<number>]>) =>
        sql`
          INSERT INTO cogo.vectors (project_id, source_type, source_id, chunk_index, content, content_hash, embedding, model)
          SELECT ${projectId}::uuid, 'fixture', r->>0, 0, 'fixture ' || (r->>0), md5(r->>0), (r->>1)::vector, ${embeddings.model}
          FROM jsonb_array_elements(${JSON.stringify(rows.map(([id, v]) => [id, JSON.stringify(v)]))}::jsonb) r`
      yield* insert(project, vectors.map((v, i) => [`v${i}`, v] as const))
      // The query's own vector in another project: the best match of all, and never to be returned here.
      yield* insert(neighbour, [["intruder", q!]])
      const truth = vectors
        .map((v, i) => ({ id: `v${i}`, score: cosine(v, q!) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, 10)

      const exactBefore = yield* searchesBy("exact")
      const exact = yield* indexing.search(project, query, 10)
      assert.strictEqual((yield* searchesBy("exact")) - exactBefore, 1, "200 rows < 20,000: the exact plan")
      assert.deepStrictEqual(exact.map((h) => h.sourceId), truth.map((t) => t.id))
      exact.forEach((hit, i) => assert.approximately(hit.score, truth[i]!.score, 1e-5))

      // The same scope with the threshold below its size: the HNSW plan, still only this project's rows.
      const hnswBefore = yield* searchesBy("hnsw")
      const approximate = yield* Effect.flatMap(Effect.service(IndexingAgent), (small) => small.search(project, query, 10)).pipe(
        Effect.provide(Layer.fresh(IndexingAgent.layer).pipe(Layer.provide(envLayer({ VECTOR_EXACT_BELOW: "150", VECTOR_BINARY_BELOW: "150" }))))
      )
      assert.strictEqual((yield* searchesBy("hnsw")) - hnswBefore, 1, "200 rows >= 150: the HNSW plan")
      assert.strictEqual(approximate.length, 10)
      assert.isTrue(approximate.every((h) => h.sourceType === "fixture" && h.sourceId !== "intruder"))
      assert.strictEqual((yield* indexing.search(neighbour, query, 1))[0]?.sourceId, "intruder")

      // The function's body runs as the agent role.
      const config = yield* sql<{ readonly proconfig: ReadonlyArray<string> }>`
        SELECT proconfig FROM pg_proc WHERE oid = 'cogo.search_vectors(uuid, uuid, text, vector, integer, integer, integer, integer, integer)'::regprocedure`
      assert.include(config[0]!.proconfig, "role=cogo_agent")
    }))

  it.effect("above VECTOR_RERANK rows: the rows whose sign bits best match the query's, re-ranked in full precision, give the true top-k of the scope", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const embeddings = yield* Embeddings
      const project = "00000000-0000-4000-8000-0000000000e5"
      const neighbour = "00000000-0000-4000-8000-0000000000e6"
      const query = "a settings page with a dark mode switch"
      const [q] = yield* embeddings.embed([query])
      // 12 vectors near the query (cosine ~0.96 down to ~0.7, each along its own random direction) among 300
      // random ones (cosine ~0): a scope with structure, like real embeddings.
      const directions = fixtureVectors(12, 13)
      const near = directions.map((d, j) => {
        const spread = 0.3 + 0.06 * j
        const v = q!.map((x, i) => x + spread * d[i]!)
        const norm = Math.sqrt(v.reduce((acc, x) => acc + x * x, 0))
        return v.map((x) => x / norm)
      })
      const vectors = [...fixtureVectors(300, 11), ...near]
      const rows = vectors.map((v, i) => [`w${i}`, JSON.stringify(v)])
      yield* sql`
        INSERT INTO cogo.vectors (project_id, source_type, source_id, chunk_index, content, content_hash, embedding, model)
        SELECT ${project}::uuid, 'fixture', r->>0, 0, 'fixture ' || (r->>0), md5(r->>0), (r->>1)::vector, ${embeddings.model}
        FROM jsonb_array_elements(${JSON.stringify(rows)}::jsonb) r`
      yield* sql`
        INSERT INTO cogo.vectors (project_id, source_type, source_id, chunk_index, content, content_hash, embedding, model)
        VALUES (${neighbour}, 'fixture', 'intruder', 0, 'intruder', md5('intruder'), ${JSON.stringify(q)}::vector, ${embeddings.model})`
      // The oracle: brute-force cosine over the scope's vectors.
      const truth = vectors
        .map((v, i) => ({ id: `w${i}`, score: cosine(v, q!) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, 10)

      const search = (env: Record<string, string>) =>
        Effect.flatMap(Effect.service(IndexingAgent), (agent) => agent.search(project, query, 10)).pipe(
          Effect.provide(Layer.fresh(IndexingAgent.layer).pipe(Layer.provide(envLayer(env))))
        )
      // Not exact (VECTOR_EXACT_BELOW 0), 312 rows > 40 candidates: the binary plan; the 40 best by sign bits hold the 12 near vectors (the offline
      // embedder's query is sparse: its zero components are outside the mask).
      const binaryBefore = yield* searchesBy("binary")
      const binary = yield* search({ VECTOR_EXACT_BELOW: "0", VECTOR_RERANK: "40" })
      assert.strictEqual((yield* searchesBy("binary")) - binaryBefore, 1, "312 rows > 40: the binary plan")
      assert.deepStrictEqual(binary.map((h) => h.sourceId), truth.map((t) => t.id))
      // Scores are full-precision cosine similarities, not Hamming estimates.
      binary.forEach((hit, i) => assert.approximately(hit.score, truth[i]!.score, 1e-5))

      // VECTOR_RERANK at least the scope's size: every row re-ranked, the exact plan, the same answer.
      const exactBefore = yield* searchesBy("exact")
      const exact = yield* search({ VECTOR_EXACT_BELOW: "0", VECTOR_RERANK: "312" })
      assert.strictEqual((yield* searchesBy("exact")) - exactBefore, 1, "312 rows <= 312: the exact plan")
      assert.deepStrictEqual(exact.map((h) => h.sourceId), truth.map((t) => t.id))

      // The stored sign bits are pgvector's binary_quantize of the embedding (the generated column).
      const bits = yield* sql<{ readonly bits: string }>`
        SELECT embedding_bits::text AS bits FROM cogo.vectors WHERE project_id = ${project} AND source_id = 'w0'`
      assert.strictEqual(bits[0]!.bits, vectors[0]!.map((x) => (x > 0 ? "1" : "0")).join(""))
    }))

  it.effect("cogo.vector_counts follows inserts, re-indexing, model changes and deletes per scope", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient
      const indexing = yield* IndexingAgent
      const project = "00000000-0000-4000-8000-0000000000e3"
      const owner = "00000000-0000-4000-8000-0000000000e4"
      const long = Array.from({ length: 12 }, (_, i) => `Section ${i} explains setting ${i} of the dashboard.`).join("\n\n")
      yield* indexing.index(project, [{ sourceType: "doc", sourceId: "guide", text: long }, ...docs])
      yield* indexing.index({ ownerId: owner }, docs)
      yield* indexing.index(project, [{ sourceType: "doc", sourceId: "guide", text: "Now a single line." }])
      yield* sql`UPDATE cogo.vectors SET model = 'other-model' WHERE project_id = ${project} AND source_id = 'auth'`
      yield* indexing.remove({ ownerId: owner }, "doc", "theme")
      const mismatches = yield* sql<{ readonly project_key: string }>`
        WITH actual AS (
          SELECT coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid) AS project_key,
                 coalesce(owner_id, '00000000-0000-0000-0000-000000000000'::uuid) AS owner_key, model, count(*) AS n
          FROM cogo.vectors GROUP BY 1, 2, 3)
        SELECT coalesce(a.project_key, c.project_key) AS project_key
        FROM actual a FULL JOIN (SELECT * FROM cogo.vector_counts WHERE n <> 0) c USING (project_key, owner_key, model)
        WHERE a.n IS DISTINCT FROM c.n`
      assert.deepStrictEqual(mismatches, [])
      const counts = yield* sql<{ readonly model: string; readonly n: string }>`
        SELECT model, n FROM cogo.vector_counts WHERE project_key = ${project} AND n <> 0 ORDER BY model`
      assert.deepStrictEqual(counts.map((c) => [c.model, Number(c.n)]), [["offline-hashed-ngrams-384-v1", 4], ["other-model", 1]])
      const own = yield* sql<{ readonly n: string }>`SELECT n FROM cogo.vector_counts WHERE owner_key = ${owner}`
      assert.deepStrictEqual(own.map((c) => Number(c.n)), [3])
    }))
})
