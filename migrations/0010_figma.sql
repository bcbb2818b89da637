-- figma-plugin ingress: every accepted HMAC signature, kept until it can no longer pass the timestamp window,
-- so a replayed request is refused. `idempotency_key` is the request's Idempotency-Key (or the signature
-- itself) and `job_id` the import job it created or joined: a repeat with the same key answers that job.
CREATE TABLE IF NOT EXISTS cogo.figma_plugin_signatures (
  signature text PRIMARY KEY,
  idempotency_key text NOT NULL,
  job_id uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS figma_plugin_signatures_expiry_idx ON cogo.figma_plugin_signatures (expires_at);
