-- public: user-owned app data, read by the IDE and Starter under row-level security.
-- Every row carries a version that every UPDATE bumps (trigger), which is how the projection worker tells a
-- newer user edit from the state it last projected, and `updated_by` (the JWT subject; NULL = projection).

CREATE TABLE IF NOT EXISTS public.projects (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  description text,
  owner_id uuid NOT NULL,
  settings jsonb NOT NULL DEFAULT '{}'::jsonb,
  version bigint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by uuid
);
CREATE INDEX IF NOT EXISTS projects_owner_idx ON public.projects (owner_id);

CREATE TABLE IF NOT EXISTS public.project_members (
  project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
  user_id uuid NOT NULL,
  role text NOT NULL DEFAULT 'editor' CHECK (role IN ('owner', 'editor', 'viewer')),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, user_id)
);
CREATE INDEX IF NOT EXISTS project_members_user_idx ON public.project_members (user_id, project_id);

CREATE TABLE IF NOT EXISTS public.pages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
  name text NOT NULL,
  route text,
  definition jsonb NOT NULL DEFAULT '{}'::jsonb,
  version bigint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by uuid
);
CREATE INDEX IF NOT EXISTS pages_project_idx ON public.pages (project_id, name);

CREATE TABLE IF NOT EXISTS public.project_pages (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
  page_id uuid NOT NULL REFERENCES public.pages (id) ON DELETE CASCADE,
  position integer NOT NULL DEFAULT 0,
  is_home boolean NOT NULL DEFAULT false,
  version bigint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by uuid,
  UNIQUE (project_id, page_id)
);
CREATE INDEX IF NOT EXISTS project_pages_order_idx ON public.project_pages (project_id, position);

CREATE TABLE IF NOT EXISTS public.components (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
  name text NOT NULL,
  kind text NOT NULL DEFAULT 'component' CHECK (kind IN ('component', 'component_set')),
  definition jsonb NOT NULL DEFAULT '{}'::jsonb,
  properties jsonb NOT NULL DEFAULT '{}'::jsonb,
  version bigint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by uuid
);
CREATE INDEX IF NOT EXISTS components_project_idx ON public.components (project_id, name);

CREATE TABLE IF NOT EXISTS public.action_flows (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
  name text NOT NULL,
  trigger jsonb NOT NULL DEFAULT '{}'::jsonb,
  definition jsonb NOT NULL DEFAULT '{}'::jsonb,
  version bigint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by uuid
);
CREATE INDEX IF NOT EXISTS action_flows_project_idx ON public.action_flows (project_id, name);

CREATE TABLE IF NOT EXISTS public.symbols (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
  name text NOT NULL,
  component_id uuid REFERENCES public.components (id) ON DELETE SET NULL,
  definition jsonb NOT NULL DEFAULT '{}'::jsonb,
  version bigint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by uuid
);
CREATE INDEX IF NOT EXISTS symbols_project_idx ON public.symbols (project_id, name);

CREATE TABLE IF NOT EXISTS public.themes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
  name text NOT NULL,
  tokens jsonb NOT NULL DEFAULT '{}'::jsonb,
  is_default boolean NOT NULL DEFAULT false,
  version bigint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by uuid
);
CREATE INDEX IF NOT EXISTS themes_project_idx ON public.themes (project_id, name);

CREATE TABLE IF NOT EXISTS public.assets (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
  name text NOT NULL,
  kind text NOT NULL DEFAULT 'image',
  mime_type text,
  url text,
  size_bytes bigint,
  content_hash text,
  metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
  version bigint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  updated_by uuid
);
CREATE INDEX IF NOT EXISTS assets_project_idx ON public.assets (project_id, name);

-- Version, timestamps and author on every write.
CREATE OR REPLACE FUNCTION public.cogo_touch_row() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF TG_OP = 'UPDATE' THEN
    NEW.version := OLD.version + 1;
    NEW.created_at := OLD.created_at;
  END IF;
  NEW.updated_at := now();
  NEW.updated_by := auth.uid();
  RETURN NEW;
END
$f$;

-- Membership test used by every policy. SECURITY DEFINER so policies on project_members do not recurse.
CREATE OR REPLACE FUNCTION public.is_project_member(p_project uuid, p_min_role text DEFAULT 'viewer')
RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $f$
  SELECT EXISTS (
    SELECT 1 FROM public.project_members m
    WHERE m.project_id = p_project
      AND m.user_id = auth.uid()
      AND CASE p_min_role
        WHEN 'owner' THEN m.role = 'owner'
        WHEN 'editor' THEN m.role IN ('owner', 'editor')
        ELSE true
      END
  )
$f$;

-- A project's owner is always a member (also when the projector creates the project).
CREATE OR REPLACE FUNCTION public.cogo_add_owner_membership() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $f$
BEGIN
  INSERT INTO public.project_members (project_id, user_id, role)
  VALUES (NEW.id, NEW.owner_id, 'owner')
  ON CONFLICT (project_id, user_id) DO UPDATE SET role = 'owner';
  RETURN NEW;
END
$f$;
DROP TRIGGER IF EXISTS projects_owner_membership ON public.projects;
CREATE TRIGGER projects_owner_membership AFTER INSERT ON public.projects
  FOR EACH ROW EXECUTE FUNCTION public.cogo_add_owner_membership();

-- Triggers, RLS, policies and grants for the project-scoped tables, one shape for all.
DO $do$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['projects', 'pages', 'project_pages', 'components', 'action_flows', 'symbols', 'themes', 'assets'] LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON public.%I', t || '_touch', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON public.%I FOR EACH ROW EXECUTE FUNCTION public.cogo_touch_row()', t || '_touch', t);
  END LOOP;

  FOREACH t IN ARRAY ARRAY['projects', 'project_members', 'pages', 'project_pages', 'components', 'action_flows', 'symbols', 'themes', 'assets'] LOOP
    EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
    -- CQRS in grants: users (under RLS) and the projector write; agents and the service key only read.
    EXECUTE format('REVOKE ALL ON public.%I FROM PUBLIC, anon, cogo_agent, service_role', t);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON public.%I TO authenticated, cogo_projector', t);
    EXECUTE format('GRANT SELECT ON public.%I TO cogo_agent, service_role', t);
    EXECUTE format('DROP POLICY IF EXISTS %I ON public.%I', t || '_projector_all', t);
    EXECUTE format('CREATE POLICY %I ON public.%I FOR ALL TO cogo_projector USING (true) WITH CHECK (true)', t || '_projector_all', t);
    EXECUTE format('DROP POLICY IF EXISTS %I ON public.%I', t || '_service_read', t);
    EXECUTE format('CREATE POLICY %I ON public.%I FOR SELECT TO cogo_agent, service_role USING (true)', t || '_service_read', t);
  END LOOP;

  FOREACH t IN ARRAY ARRAY['pages', 'project_pages', 'components', 'action_flows', 'symbols', 'themes', 'assets'] LOOP
    EXECUTE format('DROP POLICY IF EXISTS %I ON public.%I', t || '_member_read', t);
    EXECUTE format('CREATE POLICY %I ON public.%I FOR SELECT TO authenticated USING (public.is_project_member(project_id))', t || '_member_read', t);
    EXECUTE format('DROP POLICY IF EXISTS %I ON public.%I', t || '_editor_insert', t);
    EXECUTE format('CREATE POLICY %I ON public.%I FOR INSERT TO authenticated WITH CHECK (public.is_project_member(project_id, ''editor''))', t || '_editor_insert', t);
    EXECUTE format('DROP POLICY IF EXISTS %I ON public.%I', t || '_editor_update', t);
    EXECUTE format('CREATE POLICY %I ON public.%I FOR UPDATE TO authenticated USING (public.is_project_member(project_id, ''editor'')) WITH CHECK (public.is_project_member(project_id, ''editor''))', t || '_editor_update', t);
    EXECUTE format('DROP POLICY IF EXISTS %I ON public.%I', t || '_editor_delete', t);
    EXECUTE format('CREATE POLICY %I ON public.%I FOR DELETE TO authenticated USING (public.is_project_member(project_id, ''editor''))', t || '_editor_delete', t);
  END LOOP;
END
$do$;

DROP POLICY IF EXISTS projects_member_read ON public.projects;
CREATE POLICY projects_member_read ON public.projects FOR SELECT TO authenticated
  USING (owner_id = auth.uid() OR public.is_project_member(id));
DROP POLICY IF EXISTS projects_owner_insert ON public.projects;
CREATE POLICY projects_owner_insert ON public.projects FOR INSERT TO authenticated
  WITH CHECK (owner_id = auth.uid());
DROP POLICY IF EXISTS projects_editor_update ON public.projects;
CREATE POLICY projects_editor_update ON public.projects FOR UPDATE TO authenticated
  USING (public.is_project_member(id, 'editor')) WITH CHECK (public.is_project_member(id, 'editor'));
DROP POLICY IF EXISTS projects_owner_delete ON public.projects;
CREATE POLICY projects_owner_delete ON public.projects FOR DELETE TO authenticated
  USING (public.is_project_member(id, 'owner'));

DROP POLICY IF EXISTS project_members_member_read ON public.project_members;
CREATE POLICY project_members_member_read ON public.project_members FOR SELECT TO authenticated
  USING (user_id = auth.uid() OR public.is_project_member(project_id));
DROP POLICY IF EXISTS project_members_owner_write ON public.project_members;
CREATE POLICY project_members_owner_write ON public.project_members FOR ALL TO authenticated
  USING (public.is_project_member(project_id, 'owner')) WITH CHECK (public.is_project_member(project_id, 'owner'));

GRANT USAGE ON SCHEMA public TO anon, authenticated, service_role, cogo_agent, cogo_projector;
GRANT EXECUTE ON FUNCTION public.is_project_member(uuid, text) TO authenticated, cogo_agent, cogo_projector, service_role;

-- The migrator's bookkeeping table lives in public (it exists before any other schema); keep it off the API.
ALTER TABLE public.cogo_migrations ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.cogo_migrations FROM PUBLIC, anon, authenticated;
