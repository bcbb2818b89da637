-- The outbox: every change of canonical project state in cogo appends one row here in the same transaction;
-- the projection worker alone turns these rows into public.* (see src/projection/).
CREATE TABLE IF NOT EXISTS cogo.project_updates (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  aggregate_type text NOT NULL,
  aggregate_id uuid NOT NULL,
  project_id uuid NOT NULL,
  seq bigint NOT NULL,
  update_type text NOT NULL,
  schema_version integer NOT NULL DEFAULT 1,
  payload jsonb NOT NULL,
  base_version bigint,
  traceparent text,
  created_at timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'conflict', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  applied_at timestamptz,
  UNIQUE (aggregate_type, aggregate_id, seq)
);
CREATE INDEX IF NOT EXISTS project_updates_pending_idx ON cogo.project_updates (id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS project_updates_project_idx ON cogo.project_updates (project_id, id);
