/**
 * Vector search through the service's search (`IndexingAgent.search`, as ResearchAgent calls it): N x 384-d
 * vectors in `cogo.vectors` (90% in project A, 10% in project B), top-10 by project; recall@10 against exact
 * search (brute force here, in Float64) and latency, overall and per project, for a small grid of HNSW
 * parameters and exact-search thresholds.
 *
 * Each row is one search path: "before" (the pre-issue-16 path, a transaction with the role and settings and
 * an HNSW SELECT: 5 round trips), then `cogo.search_vectors` (one statement) with HNSW only (exact below 0) and
 * with migration 0018's plan (exact below 20,000 rows), and with 0026's: exact below `exactBelow` rows, then
 * below 20,000 rows the `rerank` best rows by sign bits re-ranked in full precision.
 *
 * `npm run bench -- vectors [n] [m:efc,...] [efSearch,...] [exactBelow,...] [rerank,...]`, e.g.
 * `vectors 100000 16:64 100 5000 200,400`.
 * PostgreSQL with DATABASE_URL (a scratch database: the bench drops and rebuilds the HNSW index and leaves the
 * migration's index definition back in place), else embedded PGlite in memory.
 * The data are clustered (1,000 centres plus noise), like real embeddings; uniform random vectors would be the
 * worst case for any graph index.
 */
import { ConfigProvider, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql/SqlClient"
import { DatabaseLive } from "../src/layers/DatabaseLive.ts"
import { Embeddings } from "../src/services/agents/Embeddings.ts"
import { IndexingAgent } from "../src/services/agents/IndexingAgent.ts"
import { AppConfig } from "../src/services/platform/AppConfig.ts"
import { fmt, printTable, summarize } from "./_table.ts"

const dims = 384
const k = 10
const queries = 300
const model = "bench-vectors-v1"
const projectA = "00000000-0000-4000-8000-00000000a001"
const projectB = "00000000-0000-4000-8000-00000000b001"

/** mulberry32: the same data in every run. */
const prng = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const unit = (v: Float64Array): Float64Array => {
  let norm = 0
  for (const x of v) norm += x * x
  norm = Math.sqrt(norm)
  return v.map((x) => x / norm)
}

const dataset = (n: number) => {
  const random = prng(16)
  const gauss = () => Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random())
  const centres = Array.from({ length: 1_000 }, () => unit(Float64Array.from({ length: dims }, gauss)))
  const near = (noise: number) => {
    const centre = centres[Math.floor(random() * centres.length)]!
    return unit(centre.map((x) => x + gauss() * noise))
  }
  const vectors = Array.from({ length: n }, () => near(0.08))
  const projectOf = (i: number) => (i % 10 === 9 ? projectB : projectA)
  return { vectors, projectOf, query: () => near(0.08) }
}

const dot = (a: Float64Array, b: Float64Array) => {
  let s = 0
  for (let i = 0; i < dims; i++) s += a[i]! * b[i]!
  return s
}

/** Exact top-k ids (source_id) of one project by cosine similarity. */
const exactTopK = (data: ReturnType<typeof dataset>, project: string, q: Float64Array): ReadonlyArray<string> => {
  const best: Array<{ id: number; score: number }> = []
  data.vectors.forEach((v, id) => {
    if (data.projectOf(id) !== project) return
    const score = dot(v, q)
    if (best.length < k || score > best[best.length - 1]!.score) {
      best.push({ id, score })
      best.sort((x, y) => y.score - x.score)
      if (best.length > k) best.pop()
    }
  })
  return best.map((b) => String(b.id))
}

const literal = (v: Float64Array) => `[${Array.from(v, (x) => x.toFixed(6)).join(",")}]`

/** Query texts are `q:<i>`; the bench's embedder returns query i's vector, so search runs unchanged. */
const benchEmbeddings = (queryVectors: ReadonlyArray<Float64Array>) =>
  Layer.succeed(Embeddings, Embeddings.of({
    mode: "offline",
    model,
    embed: (texts) => Effect.succeed(texts.map((t) => Array.from(queryVectors[Number(t.slice(2))]!)))
  }))

const load = (data: ReturnType<typeof dataset>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`DELETE FROM cogo.vectors WHERE model = ${model}`
    yield* sql`DROP INDEX IF EXISTS cogo.vectors_embedding_hnsw`
    const batch = 500
    for (let start = 0; start < data.vectors.length; start += batch) {
      const rows = data.vectors.slice(start, start + batch).map((v, j) => [data.projectOf(start + j), String(start + j), literal(v)])
      yield* sql`
        INSERT INTO cogo.vectors (project_id, source_type, source_id, chunk_index, content, content_hash, embedding, model)
        SELECT (r->>0)::uuid, 'bench', r->>1, 0, 'bench vector ' || (r->>1), md5(r->>1), (r->>2)::vector, ${model}
        FROM jsonb_array_elements(${JSON.stringify(rows)}::jsonb) r`
    }
    // Index-only scans (the exact path) need the visibility map that autovacuum keeps in a live database; the
    // scope index is rebuilt like the HNSW index below, so an earlier run's deleted rows do not bloat it.
    yield* sql`VACUUM ANALYZE cogo.vectors`
    yield* sql`REINDEX INDEX cogo.vectors_scope_exact_idx`
    yield* sql`REINDEX INDEX cogo.vectors_scope_bits_idx`
  })

const buildIndex = (m: number, efc: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    yield* sql`DROP INDEX IF EXISTS cogo.vectors_embedding_hnsw`
    yield* sql.unsafe(`SET maintenance_work_mem = '1GB'`)
    const started = performance.now()
    yield* sql.unsafe(`CREATE INDEX vectors_embedding_hnsw ON cogo.vectors USING hnsw (embedding vector_cosine_ops) WITH (m = ${m}, ef_construction = ${efc})`)
    return performance.now() - started
  })

/** The search path before issue 16's fix, as the baseline of the same run: BEGIN, role, settings, HNSW SELECT, COMMIT. */
const transactionalHnsw = (project: string, q: Float64Array, ef: number) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient
    return yield* sql.withTransaction(Effect.gen(function*() {
      yield* sql`SELECT set_config('role', 'cogo_agent', true)`
      yield* sql`SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', ${String(ef)}, true)`
      const rows = yield* sql<{ readonly source_id: string }>`
        SELECT source_id FROM cogo.vectors WHERE project_id = ${project} AND model = ${model}
        ORDER BY embedding <=> ${literal(q)}::vector LIMIT ${k}`
      return rows.map((r) => ({ sourceId: r.source_id }))
    }))
  })

type Search = (i: number) => Effect.Effect<ReadonlyArray<{ readonly sourceId: string }>, unknown, SqlClient>

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const n = Number(args[0] ?? 100_000)
  const grid = (args[1] ?? "16:64").split(",").map((p) => p.split(":").map(Number) as [number, number])
  const efSearches = (args[2] ?? "100").split(",").map(Number)
  // Exact below this many rows, then preselection by sign bits + full-precision re-rank of `rerank` rows below
  // 20,000 rows (the service's defaults: 5,000 and 400). Compared in the same run with HNSW only and with
  // migration 0018's plan (exact below 20,000).
  const exactBelows = (args[3] ?? "5000").split(",").map(Number)
  const reranks = (args[4] ?? "400").split(",").map(Number)
  const binaryBelow = 20_000
  const variants = [
    { plan: "search_vectors, HNSW only", exactBelow: 0, binaryBelow: 0, rerank: 0 },
    { plan: "search_vectors, exact below (0018)", exactBelow: binaryBelow, binaryBelow, rerank: 0 },
    ...exactBelows.flatMap((exactBelow) =>
      reranks.map((rerank) => ({ plan: "search_vectors, exact + bits/rerank below", exactBelow, binaryBelow, rerank }))
    )
  ]
  const postgres = process.env["DATABASE_URL"] !== undefined
  const env: Record<string, string> = postgres
    ? { DATABASE_URL: process.env["DATABASE_URL"]!, LOG_LEVEL: "Warn" }
    : { COGO_DATA_DIR: ":memory:", LOG_LEVEL: "Warn" }

  const data = dataset(n)
  const queryVectors = Array.from({ length: queries }, data.query)
  const targets = queryVectors.map((_, i) => (i % 5 === 4 ? projectB : projectA))
  const truth = queryVectors.map((q, i) => exactTopK(data, targets[i]!, q))

  /** Recall@k and latency of `search` over the queries, overall and per project. */
  const measure = (search: Search) =>
    Effect.gen(function*() {
      for (let i = 0; i < 20; i++) yield* search(i) // warm-up
      const byProject = { [projectA]: { hits: 0, asked: 0, samples: [] as Array<number> }, [projectB]: { hits: 0, asked: 0, samples: [] as Array<number> } }
      for (let i = 0; i < queries; i++) {
        const started = performance.now()
        const found = yield* search(i)
        const slot = byProject[targets[i]!]!
        slot.samples.push(performance.now() - started)
        const expected = new Set(truth[i])
        slot.hits += found.filter((h) => expected.has(h.sourceId)).length
        slot.asked += k
      }
      const a = byProject[projectA]!
      const b = byProject[projectB]!
      const cells = (hits: number, asked: number, samples: ReadonlyArray<number>) => {
        const { p50, p99 } = summarize(samples)
        return [fmt(hits / asked, 3), fmt(p50), fmt(p99)]
      }
      return [
        ...cells(a.hits + b.hits, a.asked + b.asked, [...a.samples, ...b.samples]),
        ...cells(a.hits, a.asked, a.samples),
        ...cells(b.hits, b.asked, b.samples)
      ]
    })

  const rows: Array<Array<string>> = []
  const database = DatabaseLive.pipe(Layer.provideMerge(AppConfig.layer), Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord(env))))
  await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const loadStarted = performance.now()
    yield* load(data)
    console.log(`loaded ${n} vectors in ${fmt((performance.now() - loadStarted) / 1000, 1)} s`)
    for (const [m, efc] of grid) {
      const buildMs = yield* buildIndex(m, efc)
      const report = (plan: string, ef: number, exactBelow: string, binaryBelow: string, rerank: string, measured: ReadonlyArray<string>) => {
        rows.push([plan, `${m}`, `${efc}`, fmt(buildMs / 1000, 1), `${ef}`, exactBelow, binaryBelow, rerank, ...measured])
        console.log(rows.at(-1)!.join("  "))
      }
      for (const ef of efSearches) {
        report("before: BEGIN+set_config+SELECT+COMMIT", ef, "-", "-", "-", yield* measure((i) => transactionalHnsw(targets[i]!, queryVectors[i]!, ef)))
        for (const variant of variants) {
          const agent = Layer.fresh(IndexingAgent.layer).pipe(
            Layer.provide(benchEmbeddings(queryVectors)),
            Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({
              ...env,
              VECTOR_EF_SEARCH: String(ef),
              VECTOR_EXACT_BELOW: String(variant.exactBelow),
              VECTOR_BINARY_BELOW: String(variant.binaryBelow),
              VECTOR_RERANK: String(variant.rerank)
            })))
          )
          const measured = yield* Effect.flatMap(Effect.service(IndexingAgent), (indexing) => measure((i) => indexing.search(targets[i]!, `q:${i}`, k))).pipe(
            Effect.provide(agent)
          )
          const binary = variant.binaryBelow > variant.exactBelow
          report(variant.plan, ef, fmt(variant.exactBelow, 0), binary ? fmt(variant.binaryBelow, 0) : "-", binary ? fmt(variant.rerank, 0) : "-", measured)
        }
      }
    }
    // Leave the migration's index definition in place.
    if (grid.at(-1)?.join(":") !== "16:64") yield* buildIndex(16, 64)
  }).pipe(Effect.provide(database))))

  printTable(
    `Vector search, ${fmt(n, 0)} x ${dims}-d (90% project A, 10% project B), top-${k}, ${queries} queries (80% A, 20% B), ` +
      `recall@${k} vs exact (${postgres ? "PostgreSQL" : "embedded PGlite"})`,
    ["plan", "m", "ef_constr", "build s", "ef_search", "exact below", "bits below", "rerank", "recall", "p50 ms", "p99 ms", "A recall", "A p50", "A p99", "B recall", "B p50", "B p99"],
    rows
  )
}
