-- The job queue: claimed with FOR UPDATE SKIP LOCKED under a lease; every state change is a job_event.
-- A retry puts the job back to 'queued' with a later run_at; 'dead' keeps the job and its errors.
CREATE TABLE IF NOT EXISTS cogo.jobs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind text NOT NULL,
  project_id uuid,
  state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'succeeded', 'dead', 'cancelled')),
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  result jsonb,
  last_error jsonb,
  priority integer NOT NULL DEFAULT 0,
  attempts integer NOT NULL DEFAULT 0,
  max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts >= 1),
  run_at timestamptz NOT NULL DEFAULT now(),
  locked_by text,
  lease_expires_at timestamptz,
  started_at timestamptz,
  idempotency_key text,
  traceparent text,
  created_by uuid,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
ALTER TABLE cogo.jobs ADD COLUMN IF NOT EXISTS started_at timestamptz;
-- Claims are per kind (each kind has its own concurrency): kind first, then the claim order.
CREATE INDEX IF NOT EXISTS jobs_claim_idx ON cogo.jobs (kind, priority DESC, run_at, id) WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS jobs_lease_idx ON cogo.jobs (lease_expires_at) WHERE state = 'running';
-- Same key, same job. Partial: most jobs have no key, and every index entry is paid on each state change.
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency_key_idx ON cogo.jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_project_idx ON cogo.jobs (project_id, created_at) WHERE project_id IS NOT NULL;

-- Append-only log of every job's state changes. No foreign key: a per-row FK check costs about a fifth of a
-- claim, and nothing deletes jobs except retention, which deletes their events with them.
CREATE TABLE IF NOT EXISTS cogo.job_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id uuid NOT NULL,
  kind text NOT NULL,
  data jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS job_events_job_idx ON cogo.job_events (job_id, id);
