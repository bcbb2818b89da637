-- Vector search of a mid-sized scope without reading every full-precision embedding (issue 16, goal 6).
-- Migration 0018 searched a scope of fewer than 20,000 rows exactly from `vectors_scope_exact_idx` (INCLUDEs
-- the 1.5 kB embedding): ~0.65 us a row, so a 10,000-row project took ~9 ms and an 18,000-row one ~13 ms.
-- Now three plans, still one statement:
-- - fewer than `p_exact_below` rows (the service's default 5,000): exact, as in 0018 (cheapest there);
-- - fewer than `p_binary_below` rows (default 20,000): binary preselection, then full-precision re-rank:
--   1. the `p_rerank` rows whose sign bits (`binary_quantize`, 48 bytes a row, a stored generated column
--      INCLUDEd in `vectors_scope_bits_idx`: an index-only scan of the scope's slice, ~180 pages for 10,000
--      rows, ~0.2 us a row) disagree least with the query's signs on the query's 70% largest components
--      (plain Hamming distance over all bits needed twice the candidates for the same recall, and fails for
--      a sparse query such as the offline embedder's, whose zero components carry no sign);
--   2. those rows re-ranked by the full-precision cosine distance (primary-key reads, ~5 us a row), top-k.
--   Approximate: recall@10 of the bench's 10,000-row project (clustered data whose true neighbours are
--   mostly the near-random tail, the worst case for quantization) 0.97 with 200 candidates, 0.98 with 400;
-- - more: HNSW as in 0018.
-- Adding the column rewrites the table once (and rebuilds its indexes, the HNSW graph included).
ALTER TABLE cogo.vectors ADD COLUMN IF NOT EXISTS embedding_bits bit(384)
  GENERATED ALWAYS AS (binary_quantize(embedding)::bit(384)) STORED;
CREATE INDEX IF NOT EXISTS vectors_scope_bits_idx ON cogo.vectors (project_id, model, owner_id) INCLUDE (id, embedding_bits);

DROP FUNCTION IF EXISTS cogo.search_vectors(uuid, uuid, text, vector, integer, integer, integer);
CREATE OR REPLACE FUNCTION cogo.search_vectors(
  p_project uuid, p_owner uuid, p_model text, p_query vector, p_k integer, p_ef_search integer, p_exact_below integer,
  p_binary_below integer, p_rerank integer)
RETURNS TABLE (source_type text, source_id text, chunk_index integer, content text, metadata jsonb, score float8, plan text)
LANGUAGE plpgsql
SET role = 'cogo_agent'
AS $fn$
DECLARE
  scope text := CASE
    WHEN p_project IS NOT NULL THEN 'v.project_id = $1'
    WHEN p_owner IS NOT NULL THEN 'v.project_id IS NULL AND v.owner_id = $2'
    ELSE 'v.project_id IS NULL AND v.owner_id IS NULL' END;
  candidates bigint;
  total bigint;
  rerank integer := greatest(p_rerank, p_k);
  signs bit varying;
  mask bit varying;
BEGIN
  -- A project's rows are all its rows (whatever owner_id); the other scopes are one (project, owner) key.
  SELECT coalesce(sum(c.n), 0) INTO candidates FROM cogo.vector_counts c
  WHERE c.project_key = coalesce(p_project, '00000000-0000-0000-0000-000000000000'::uuid) AND c.model = p_model
    AND (p_project IS NOT NULL OR c.owner_key = coalesce(p_owner, '00000000-0000-0000-0000-000000000000'::uuid));
  IF candidates < p_exact_below THEN
    -- Every distance, from vectors_scope_exact_idx (index-only: the embedding is INCLUDEd); `+ 0`: an ORDER BY
    -- the HNSW index cannot serve, so the plan is the btree scan and a sort.
    RETURN QUERY EXECUTE format(
      'SELECT w.source_type, w.source_id, w.chunk_index, w.content, w.metadata, 1 - t.distance, ''exact''::text
       FROM (SELECT v.id, (v.embedding <=> $5) + 0 AS distance FROM cogo.vectors v
             WHERE %s AND v.model = $3 ORDER BY 2 LIMIT $6) t
       JOIN cogo.vectors w ON w.id = t.id
       ORDER BY t.distance', scope)
      USING p_project, p_owner, p_model, p_exact_below, p_query, p_k;
  ELSIF candidates < p_binary_below THEN
    -- The query's signs, and the mask of its components above the 30th percentile of |x| (a sparse query's
    -- zeros stay out of the mask).
    SELECT string_agg(CASE WHEN abs(u.x) > t.cut THEN '1' ELSE '0' END, '' ORDER BY u.i)::bit varying INTO mask
    FROM unnest(p_query::real[]) WITH ORDINALITY u(x, i),
         (SELECT percentile_cont(0.3) WITHIN GROUP (ORDER BY abs(y)) AS cut FROM unnest(p_query::real[]) y) t;
    signs := binary_quantize(p_query) & mask;
    -- Hamming distance of the masked bits = sign disagreements on the mask (pgvector's popcount, one AND a row).
    -- `+ 0`: an ORDER BY the HNSW index cannot serve (it would return its ef_search rows, then the join drops
    -- most), so the plans are the bits index's scan with a top-N sort, then primary-key reads of the N rows.
    -- A scope of at most `p_rerank` rows is re-ranked whole: exact.
    RETURN QUERY EXECUTE format(
      'SELECT w.source_type, w.source_id, w.chunk_index, w.content, w.metadata, 1 - (w.embedding <=> $5), $7
       FROM (SELECT v.id FROM cogo.vectors v
             WHERE %s AND v.model = $3 ORDER BY (v.embedding_bits & $10) <~> $9 LIMIT $8) t
       JOIN cogo.vectors w ON w.id = t.id
       ORDER BY (w.embedding <=> $5) + 0 LIMIT $6', scope)
      USING p_project, p_owner, p_model, p_exact_below, p_query, p_k,
            CASE WHEN candidates <= rerank THEN 'exact' ELSE 'binary' END, rerank, signs, mask;
  ELSE
    -- The HNSW scan walks the whole table's graph and keeps the scope's rows: a scope with a share s of the
    -- rows needs about ef/s candidates for ef of its own (pgvector's maximum is 1,000).
    SELECT greatest(c.reltuples::bigint, candidates) INTO total FROM pg_class c WHERE c.oid = 'cogo.vectors'::regclass;
    PERFORM set_config('hnsw.iterative_scan', 'relaxed_order', true),
            set_config('hnsw.ef_search', least(1000, greatest(p_ef_search, ceil(p_ef_search::numeric * total / greatest(candidates, 1))))::text, true);
    RETURN QUERY EXECUTE format(
      'SELECT v.source_type, v.source_id, v.chunk_index, v.content, v.metadata, 1 - (v.embedding <=> $5), ''hnsw''::text
       FROM cogo.vectors v
       WHERE %s AND v.model = $3
       ORDER BY v.embedding <=> $5 LIMIT $6', scope)
      USING p_project, p_owner, p_model, p_exact_below, p_query, p_k;
  END IF;
END
$fn$;

-- Only the service's own login (the owner) calls it; the agent role may (it is the role the body runs as).
REVOKE EXECUTE ON FUNCTION cogo.search_vectors(uuid, uuid, text, vector, integer, integer, integer, integer, integer) FROM PUBLIC, service_role, cogo_projector;
