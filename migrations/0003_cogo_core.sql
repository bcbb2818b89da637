-- cogo: agent/platform internals. Service roles only: no grant, and so no RLS exposure, to anon/authenticated.
CREATE EXTENSION IF NOT EXISTS vector;
CREATE SCHEMA IF NOT EXISTS cogo;
REVOKE ALL ON SCHEMA cogo FROM PUBLIC;
REVOKE ALL ON SCHEMA cogo FROM anon, authenticated;
GRANT USAGE ON SCHEMA cogo TO cogo_agent, cogo_projector, service_role;
-- Every cogo table and sequence, including those of later migrations, belongs to the service roles only.
ALTER DEFAULT PRIVILEGES IN SCHEMA cogo GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO cogo_agent, cogo_projector, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA cogo GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO cogo_agent, cogo_projector, service_role;
ALTER DEFAULT PRIVILEGES IN SCHEMA cogo GRANT EXECUTE ON FUNCTIONS TO cogo_agent, cogo_projector, service_role;

-- Every state change worth watching; realtime SSE streams are views over this table, replayable by id.
CREATE TABLE IF NOT EXISTS cogo.bus_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  topic text NOT NULL,
  kind text NOT NULL,
  project_id uuid,
  job_id uuid,
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  traceparent text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS bus_events_project_idx ON cogo.bus_events (project_id, id) WHERE project_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS bus_events_job_idx ON cogo.bus_events (job_id, id) WHERE job_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS bus_events_topic_idx ON cogo.bus_events (topic, id);

-- Content-addressed caches (embeddings by content hash and model, conversion results, ...).
CREATE TABLE IF NOT EXISTS cogo.caches (
  namespace text NOT NULL,
  key text NOT NULL,
  value jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz,
  PRIMARY KEY (namespace, key)
);
CREATE INDEX IF NOT EXISTS caches_expiry_idx ON cogo.caches (expires_at) WHERE expires_at IS NOT NULL;

-- Chunks of project content with their embeddings (384 dimensions: the offline embedder's size, and what
-- OpenAI's text-embedding-3-* models return when asked for `dimensions: 384`).
CREATE TABLE IF NOT EXISTS cogo.vectors (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid,
  source_type text NOT NULL,
  source_id text NOT NULL,
  chunk_index integer NOT NULL DEFAULT 0,
  content text NOT NULL,
  content_hash text NOT NULL,
  embedding vector(384) NOT NULL,
  model text NOT NULL,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS vectors_source_idx
  ON cogo.vectors (coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid), source_type, source_id, chunk_index);
CREATE INDEX IF NOT EXISTS vectors_project_idx ON cogo.vectors (project_id);
CREATE INDEX IF NOT EXISTS vectors_embedding_hnsw ON cogo.vectors USING hnsw (embedding vector_cosine_ops);

-- Merged knowledge with provenance, and the evidence it was merged from.
CREATE TABLE IF NOT EXISTS cogo.knowledge (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid,
  topic text NOT NULL,
  content text NOT NULL,
  content_hash text NOT NULL,
  sources jsonb NOT NULL DEFAULT '[]'::jsonb,
  job_id uuid,
  confidence real NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS knowledge_hash_idx
  ON cogo.knowledge (coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid), content_hash);

CREATE TABLE IF NOT EXISTS cogo.evidence (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  knowledge_id uuid REFERENCES cogo.knowledge (id) ON DELETE CASCADE,
  project_id uuid,
  source_type text NOT NULL,
  source_id text NOT NULL,
  excerpt text NOT NULL,
  score real NOT NULL DEFAULT 0,
  job_id uuid,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS evidence_knowledge_idx ON cogo.evidence (knowledge_id);
CREATE INDEX IF NOT EXISTS evidence_project_idx ON cogo.evidence (project_id, created_at);
