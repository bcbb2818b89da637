-- Idempotency keys of the edge surface: every POST may carry `Idempotency-Key`. The first request with a key
-- claims the row (running), executes once, and stores its response; a retry with the same key and body gets
-- that response, a retry with another body a 422. `locked_until` lets a retry take over from a replica that
-- died mid-request. Rows expire (`expires_at`) and are swept by the service.
CREATE TABLE IF NOT EXISTS cogo.idempotency_keys (
  scope text NOT NULL,
  key text NOT NULL,
  fingerprint text NOT NULL,
  method text NOT NULL,
  path text NOT NULL,
  state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done')),
  status integer,
  content_type text,
  body text,
  stream_id text,
  locked_until timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_expiry_idx ON cogo.idempotency_keys (expires_at);
