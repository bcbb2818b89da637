-- Executor sagas: every step's state is persisted before and after it runs, so after a crash a saga can be
-- resumed (steps not yet run) or compensated (succeeded steps undone in reverse order), never left half-done.
CREATE TABLE IF NOT EXISTS cogo.sagas (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  project_id uuid,
  job_id uuid,
  state text NOT NULL DEFAULT 'running'
    CHECK (state IN ('running', 'compensating', 'completed', 'compensated', 'failed')),
  error jsonb,
  idempotency_key text UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sagas_unfinished_idx ON cogo.sagas (updated_at) WHERE state IN ('running', 'compensating');

CREATE TABLE IF NOT EXISTS cogo.saga_steps (
  saga_id uuid NOT NULL REFERENCES cogo.sagas (id) ON DELETE CASCADE,
  step_index integer NOT NULL,
  tool text NOT NULL,
  input jsonb NOT NULL,
  output jsonb,
  state text NOT NULL DEFAULT 'pending'
    CHECK (state IN ('pending', 'running', 'succeeded', 'failed', 'compensated', 'compensation_failed')),
  error jsonb,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (saga_id, step_index)
);
