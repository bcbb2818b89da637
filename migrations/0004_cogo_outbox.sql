-- CQRS core. Canonical project state lives in cogo (written by agents and ingress through ProjectCommands);
-- every change appends one row to the outbox in the same transaction; the projection worker alone turns
-- outbox rows into public.* (src/projection/). See docs/projection.md.

-- Canonical state: the last known state of every entity, as written by the cogo side.
CREATE TABLE IF NOT EXISTS cogo.project_entities (
  entity_type text NOT NULL,
  id uuid NOT NULL,
  project_id uuid NOT NULL,
  state jsonb,
  version bigint NOT NULL,
  deleted boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- id first: lookups are `id = ANY($ids)`.
  PRIMARY KEY (id, entity_type)
);
CREATE INDEX IF NOT EXISTS project_entities_project_idx ON cogo.project_entities (project_id, entity_type);

-- The outbox. `seq` orders the updates of one aggregate (entity); `id` orders everything and is allocated
-- while the writer holds the aggregate's lock, so within an aggregate id order = seq order = commit order.
CREATE TABLE IF NOT EXISTS cogo.project_updates (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  aggregate_type text NOT NULL,
  aggregate_id uuid NOT NULL,
  project_id uuid NOT NULL,
  seq bigint NOT NULL,
  update_type text NOT NULL,
  schema_version integer NOT NULL DEFAULT 1,
  payload jsonb NOT NULL,
  -- The public row version the writer computed this update from (NULL: not based on a user's edit).
  base_version bigint,
  traceparent text,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- pending -> applied | superseded (a later update of the aggregate was applied first) | conflict | dead
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'applied', 'superseded', 'conflict', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz,
  last_error text,
  applied_at timestamptz,
  -- aggregate_id first: sequence lookups are `aggregate_id = ANY($ids)`.
  UNIQUE (aggregate_id, aggregate_type, seq)
);
DROP INDEX IF EXISTS cogo.project_updates_pending_idx;
CREATE INDEX IF NOT EXISTS project_updates_pending_project_idx ON cogo.project_updates (project_id, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS project_updates_project_idx ON cogo.project_updates (project_id, id);
CREATE INDEX IF NOT EXISTS project_updates_dead_idx ON cogo.project_updates (id) WHERE status = 'dead';

-- What the projector last did per aggregate: the exactly-once guard (seq <= applied_seq is never applied
-- again) and the memory that lets a user's delete of a projected row be told from a row never projected.
CREATE TABLE IF NOT EXISTS cogo.projection_state (
  aggregate_type text NOT NULL,
  aggregate_id uuid NOT NULL,
  project_id uuid NOT NULL,
  applied_seq bigint NOT NULL,
  applied_update_id bigint NOT NULL,
  projected boolean NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (aggregate_id, aggregate_type)
);
CREATE INDEX IF NOT EXISTS projection_state_project_idx ON cogo.projection_state (project_id);

-- Updates not applied because a user changed the public row after the version the update was based on.
CREATE TABLE IF NOT EXISTS cogo.projection_conflicts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  update_id bigint NOT NULL REFERENCES cogo.project_updates (id) ON DELETE CASCADE,
  aggregate_type text NOT NULL,
  aggregate_id uuid NOT NULL,
  project_id uuid NOT NULL,
  kind text NOT NULL CHECK (kind IN ('edited_by_user', 'deleted_by_user')),
  public_version bigint,
  base_version bigint,
  user_id uuid,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS projection_conflicts_project_idx ON cogo.projection_conflicts (project_id, id);
