-- Vector search in one statement (issue 16, goal 6). `cogo.search_vectors` runs as `cogo_agent` (the
-- function's SET clause switches the role for its body, so the agent path and its grants hold without a
-- BEGIN / set_config / COMMIT round trip each) and picks the plan itself:
-- - a scope with fewer than `p_exact_below` rows of the model (`cogo.vector_counts`, kept by statement
--   triggers, so the size check is one primary-key read) is searched exactly: the rows come from
--   `vectors_scope_exact_idx` (an index-only scan of the scope's slice: the embedding is INCLUDEd, so the
--   heap is read only for the k winners, wherever the scope's rows lie in the table), every distance is
--   computed, top-k by a sort;
-- - a larger scope uses the HNSW index with the relaxed iterative scan and `hnsw.ef_search = p_ef_search`
--   scaled by the scope's share of the table (a scope with 10% of the rows gets 10x the candidates).
-- A filtered HNSW scan of a small scope inside a large table misses true neighbours (recall ~0.6 for a scope
-- with 10% of the rows); the exact path cannot.
-- The scope is the service's: a project's rows, one owner's own rows (no project), or platform-wide rows.
-- The cost: the embeddings are stored twice (heap and this index), ~1.6 kB more per row.
CREATE INDEX IF NOT EXISTS vectors_scope_exact_idx ON cogo.vectors (project_id, model, owner_id) INCLUDE (id, embedding);

-- Rows per scope and model (NULL project/owner as the zero uuid, as in vectors_source_idx). One aggregated
-- upsert per statement and scope; a counting scan per search would cost more than the search.
CREATE TABLE IF NOT EXISTS cogo.vector_counts (
  project_key uuid NOT NULL,
  owner_key uuid NOT NULL,
  model text NOT NULL,
  n bigint NOT NULL,
  PRIMARY KEY (project_key, owner_key, model)
);

CREATE OR REPLACE FUNCTION cogo.count_vectors() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO cogo.vector_counts AS c (project_key, owner_key, model, n)
    SELECT coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid),
           coalesce(owner_id, '00000000-0000-0000-0000-000000000000'::uuid), model, -count(*)
    FROM old_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (project_key, owner_key, model) DO UPDATE SET n = c.n + excluded.n;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    INSERT INTO cogo.vector_counts AS c (project_key, owner_key, model, n)
    SELECT coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid),
           coalesce(owner_id, '00000000-0000-0000-0000-000000000000'::uuid), model, count(*)
    FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (project_key, owner_key, model) DO UPDATE SET n = c.n + excluded.n;
  END IF;
  RETURN NULL;
END
$fn$;

DROP TRIGGER IF EXISTS vectors_count_insert ON cogo.vectors;
CREATE TRIGGER vectors_count_insert AFTER INSERT ON cogo.vectors
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cogo.count_vectors();
DROP TRIGGER IF EXISTS vectors_count_update ON cogo.vectors;
CREATE TRIGGER vectors_count_update AFTER UPDATE ON cogo.vectors
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION cogo.count_vectors();
DROP TRIGGER IF EXISTS vectors_count_delete ON cogo.vectors;
CREATE TRIGGER vectors_count_delete AFTER DELETE ON cogo.vectors
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION cogo.count_vectors();

DELETE FROM cogo.vector_counts;
INSERT INTO cogo.vector_counts (project_key, owner_key, model, n)
SELECT coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid),
       coalesce(owner_id, '00000000-0000-0000-0000-000000000000'::uuid), model, count(*)
FROM cogo.vectors GROUP BY 1, 2, 3;

CREATE OR REPLACE FUNCTION cogo.search_vectors(
  p_project uuid, p_owner uuid, p_model text, p_query vector, p_k integer, p_ef_search integer, p_exact_below integer)
RETURNS TABLE (source_type text, source_id text, chunk_index integer, content text, metadata jsonb, score float8, exact boolean)
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
BEGIN
  -- A project's rows are all its rows (whatever owner_id); the other scopes are one (project, owner) key.
  SELECT coalesce(sum(c.n), 0) INTO candidates FROM cogo.vector_counts c
  WHERE c.project_key = coalesce(p_project, '00000000-0000-0000-0000-000000000000'::uuid) AND c.model = p_model
    AND (p_project IS NOT NULL OR c.owner_key = coalesce(p_owner, '00000000-0000-0000-0000-000000000000'::uuid));
  IF candidates < p_exact_below THEN
    -- `+ 0`: an ORDER BY the HNSW index cannot serve, so the plan is the btree scan and a sort.
    RETURN QUERY EXECUTE format(
      'SELECT w.source_type, w.source_id, w.chunk_index, w.content, w.metadata, 1 - t.distance, true
       FROM (SELECT v.id, (v.embedding <=> $5) + 0 AS distance FROM cogo.vectors v
             WHERE %s AND v.model = $3 ORDER BY 2 LIMIT $6) t
       JOIN cogo.vectors w ON w.id = t.id
       ORDER BY t.distance', scope)
      USING p_project, p_owner, p_model, p_exact_below, p_query, p_k;
  ELSE
    -- The HNSW scan walks the whole table's graph and keeps the scope's rows: a scope with a share s of the
    -- rows needs about ef/s candidates for ef of its own (pgvector's maximum is 1,000).
    SELECT greatest(c.reltuples::bigint, candidates) INTO total FROM pg_class c WHERE c.oid = 'cogo.vectors'::regclass;
    PERFORM set_config('hnsw.iterative_scan', 'relaxed_order', true),
            set_config('hnsw.ef_search', least(1000, greatest(p_ef_search, ceil(p_ef_search::numeric * total / greatest(candidates, 1))))::text, true);
    RETURN QUERY EXECUTE format(
      'SELECT v.source_type, v.source_id, v.chunk_index, v.content, v.metadata, 1 - (v.embedding <=> $5), false
       FROM cogo.vectors v
       WHERE %s AND v.model = $3
       ORDER BY v.embedding <=> $5 LIMIT $6', scope)
      USING p_project, p_owner, p_model, p_exact_below, p_query, p_k;
  END IF;
END
$fn$;

-- Only the service's own login (the owner) calls it; the agent role may (it is the role the body runs as).
REVOKE EXECUTE ON FUNCTION cogo.search_vectors(uuid, uuid, text, vector, integer, integer, integer) FROM PUBLIC, service_role, cogo_projector;
