-- Scale-out (issue 15): state that several replicas share through the database.

-- Per-key token buckets of the chat rate limits, shared by every replica (see src/services/chat/RateLimiter.ts).
-- Rows not touched for a while are full buckets and are pruned by retention.
CREATE TABLE IF NOT EXISTS cogo.rate_buckets (
  key text PRIMARY KEY,
  tokens double precision NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS rate_buckets_updated_idx ON cogo.rate_buckets (updated_at);

-- Takes one token from `p_key`'s bucket in one round trip: the upsert refills the bucket (capped at
-- `p_burst`) and locks its row, so concurrent takes from any replica are serialized.
CREATE OR REPLACE FUNCTION cogo.take_rate_token(p_key text, p_burst float8, p_per_second float8, OUT tokens float8, OUT allowed boolean)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
  level float8;
BEGIN
  INSERT INTO cogo.rate_buckets AS b (key, tokens, updated_at) VALUES (p_key, p_burst, clock_timestamp())
  ON CONFLICT (key) DO UPDATE SET
    tokens = least(p_burst, b.tokens + greatest(0, extract(epoch FROM clock_timestamp() - b.updated_at)) * p_per_second),
    updated_at = greatest(b.updated_at, clock_timestamp())
  RETURNING b.tokens INTO level;
  allowed := level >= 1;
  tokens := CASE WHEN allowed THEN level - 1 ELSE level END;
  IF allowed THEN
    UPDATE cogo.rate_buckets SET tokens = take_rate_token.tokens WHERE key = p_key;
  END IF;
END
$fn$;

-- What retention has removed: `bus_events` ids up to `pruned_through` may be gone, so a realtime replay
-- from an older Last-Event-ID is answered with a `reset` (reload) instead of silently skipping.
CREATE TABLE IF NOT EXISTS cogo.retention_state (
  name text PRIMARY KEY,
  pruned_through bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO cogo.retention_state (name) VALUES ('bus_events') ON CONFLICT (name) DO NOTHING;

-- Retention deletes by age in small batches: these indexes keep each batch an index range scan.
CREATE INDEX IF NOT EXISTS bus_events_created_idx ON cogo.bus_events (created_at);
CREATE INDEX IF NOT EXISTS job_events_created_idx ON cogo.job_events (created_at);
CREATE INDEX IF NOT EXISTS jobs_finished_idx ON cogo.jobs (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS project_updates_applied_idx ON cogo.project_updates (applied_at) WHERE status IN ('applied', 'superseded');
