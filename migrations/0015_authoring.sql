-- IDE authoring (issue 12): users write public.* as themselves under RLS (the service's /rest/v1, or a
-- Supabase PostgREST in front of the same database). What must hold whichever of the two writes lives here,
-- in the database: server-owned columns, a last owner per project, the cheap shape of JSON content, one
-- project event per user write, and the conflicts of a project visible to its members.
-- A "user write" is one with a JWT subject (`auth.uid()` not null); the projector runs without claims.

-- A project created by a user belongs to that user (RLS already refuses any other owner_id).
ALTER TABLE public.projects ALTER COLUMN owner_id SET DEFAULT auth.uid();

-- Server-owned columns on user writes: a new row starts at version 1 (UPDATEs are bumped by cogo_touch_row,
-- which also stamps updated_at/updated_by), and a project's owner_id never changes by a user's UPDATE
-- (ownership is membership: owners add owners through project_members).
CREATE OR REPLACE FUNCTION public.cogo_guard_user_write() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF auth.uid() IS NULL THEN
    RETURN NEW;
  END IF;
  IF TG_OP = 'INSERT' THEN
    NEW.version := 1;
    NEW.created_at := now();
  ELSIF TG_TABLE_NAME = 'projects' THEN
    -- (nested: PL/pgSQL would look up owner_id on every table in one condition)
    IF NEW.owner_id IS DISTINCT FROM OLD.owner_id THEN
      RAISE EXCEPTION 'owner_id of a project cannot be changed'
        USING ERRCODE = '42501', HINT = 'add another owner through project_members instead';
    END IF;
  END IF;
  RETURN NEW;
END
$f$;

-- The cheap, database-level shape of authored JSON (the full COGO UI JSON Schema is checked by the write
-- path, src/edge/rest/writes.ts): definitions and token sets are objects; a `tree` is a widget object with a
-- string `type`; `tokens` of a theme is an array.
CREATE OR REPLACE FUNCTION public.cogo_definition_ok(d jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $f$
  SELECT jsonb_typeof(d) = 'object'
    AND (NOT (d ? 'tree') OR (jsonb_typeof(d -> 'tree') = 'object' AND jsonb_typeof(d -> 'tree' -> 'type') = 'string'))
$f$;
CREATE OR REPLACE FUNCTION public.cogo_tokens_ok(t jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS $f$
  SELECT jsonb_typeof(t) = 'object' AND (NOT (t ? 'tokens') OR jsonb_typeof(t -> 'tokens') = 'array')
$f$;

-- One project event per user write, in the writer's transaction (the projector publishes its own).
CREATE OR REPLACE FUNCTION public.cogo_publish_user_edit() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $f$
DECLARE
  editor uuid := auth.uid();
  row_json jsonb;
  event_id bigint;
BEGIN
  IF editor IS NULL THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' THEN
    row_json := to_jsonb(OLD);
  ELSE
    row_json := to_jsonb(NEW);
  END IF;
  INSERT INTO cogo.bus_events (topic, kind, project_id, payload, traceparent)
  VALUES (
    'project',
    'edit.' || lower(TG_OP),
    (CASE WHEN TG_TABLE_NAME = 'projects' THEN row_json ->> 'id' ELSE row_json ->> 'project_id' END)::uuid,
    jsonb_strip_nulls(jsonb_build_object(
      'table', TG_TABLE_NAME,
      'id', coalesce(row_json ->> 'id', row_json ->> 'user_id'),
      'version', row_json -> 'version',
      'userId', editor,
      'operation', lower(TG_OP),
      'memberRole', row_json -> 'role'
    )),
    nullif(current_setting('cogo.traceparent', true), '')
  )
  RETURNING id INTO event_id;
  PERFORM pg_notify('cogo', 'bus:' || event_id);
  RETURN NULL;
END
$f$;
REVOKE ALL ON FUNCTION public.cogo_publish_user_edit() FROM PUBLIC;

DO $do$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['projects', 'pages', 'project_pages', 'components', 'action_flows', 'symbols', 'themes', 'assets'] LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON public.%I', t || '_guard', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON public.%I FOR EACH ROW EXECUTE FUNCTION public.cogo_guard_user_write()', t || '_guard', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['projects', 'project_members', 'pages', 'project_pages', 'components', 'action_flows', 'symbols', 'themes', 'assets'] LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON public.%I', t || '_user_edit', t);
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON public.%I FOR EACH ROW EXECUTE FUNCTION public.cogo_publish_user_edit()', t || '_user_edit', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['pages', 'components', 'symbols', 'action_flows'] LOOP
    EXECUTE format('ALTER TABLE public.%I DROP CONSTRAINT IF EXISTS %I', t, t || '_definition_shape');
    EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I CHECK (public.cogo_definition_ok(definition)) NOT VALID', t, t || '_definition_shape');
  END LOOP;
END
$do$;
ALTER TABLE public.themes DROP CONSTRAINT IF EXISTS themes_tokens_shape;
ALTER TABLE public.themes ADD CONSTRAINT themes_tokens_shape CHECK (public.cogo_tokens_ok(tokens)) NOT VALID;

-- Every project keeps an owner: removing or demoting the last one fails with SQLSTATE PT409 (PostgREST
-- answers PTxyz as HTTP xyz). The project row is locked first, so two owners demoting each other at once
-- cannot both succeed. Deleting the project itself (its memberships cascade) is not refused.
CREATE OR REPLACE FUNCTION public.cogo_keep_an_owner() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $f$
BEGIN
  IF OLD.role = 'owner' AND (TG_OP = 'DELETE' OR NEW.role <> 'owner' OR NEW.project_id <> OLD.project_id OR NEW.user_id <> OLD.user_id) THEN
    PERFORM 1 FROM public.projects WHERE id = OLD.project_id FOR UPDATE;
    IF FOUND AND NOT EXISTS (
      SELECT 1 FROM public.project_members
      WHERE project_id = OLD.project_id AND role = 'owner' AND user_id <> OLD.user_id
    ) THEN
      RAISE EXCEPTION 'a project must keep at least one owner'
        USING ERRCODE = 'PT409', HINT = 'make another member an owner first';
    END IF;
  END IF;
  IF TG_OP = 'DELETE' THEN
    RETURN OLD;
  END IF;
  RETURN NEW;
END
$f$;
DROP TRIGGER IF EXISTS project_members_keep_owner ON public.project_members;
CREATE TRIGGER project_members_keep_owner BEFORE UPDATE OR DELETE ON public.project_members
  FOR EACH ROW EXECUTE FUNCTION public.cogo_keep_an_owner();

-- How members resolved conflicts (src/services/authoring/Conflicts.ts): one row per conflict.
CREATE TABLE IF NOT EXISTS cogo.conflict_resolutions (
  conflict_id bigint PRIMARY KEY REFERENCES cogo.projection_conflicts (id) ON DELETE CASCADE,
  choice text NOT NULL CHECK (choice IN ('mine', 'theirs', 'merge')),
  resolved_by uuid NOT NULL,
  resolved_at timestamptz NOT NULL DEFAULT now(),
  -- merge: the public version the merged row got; theirs: the outbox update that carries the agent's state.
  result_version bigint,
  update_id bigint
);

-- The conflicts of the projects the caller is a member of (the view runs with its owner's rights over
-- cogo.*, and shows only rows whose project the caller, auth.uid(), is a member of), readable through
-- /rest/v1/project_conflicts and through a Supabase PostgREST alike.
CREATE OR REPLACE VIEW public.project_conflicts WITH (security_barrier = true) AS
  SELECT c.id, c.project_id, c.aggregate_type, c.aggregate_id, c.kind, c.public_version, c.base_version,
    c.user_id, c.created_at, c.update_id,
    CASE WHEN u.update_type NOT LIKE '%.upserted' THEN NULL WHEN u.schema_version = 1 THEN u.payload ELSE u.payload -> 'state' END AS agent_state,
    CASE WHEN r.conflict_id IS NULL THEN 'open' ELSE 'resolved' END AS status,
    r.choice AS resolution, r.resolved_by, r.resolved_at
  FROM cogo.projection_conflicts c
  JOIN cogo.project_updates u ON u.id = c.update_id
  LEFT JOIN cogo.conflict_resolutions r ON r.conflict_id = c.id
  WHERE public.is_project_member(c.project_id);
REVOKE ALL ON public.project_conflicts FROM PUBLIC, anon, cogo_agent;
GRANT SELECT ON public.project_conflicts TO authenticated, service_role;
