-- Projection speed (issue 16): the user-write triggers of the public tables fire only for user writes.
-- `cogo_guard_user_write` and `cogo_publish_user_edit` return at once when `auth.uid()` is NULL (the
-- projector, migrations, the service): a WHEN clause says the same without a PL/pgSQL call per row, and an
-- AFTER trigger whose WHEN is false queues no event at all. Behaviour is unchanged; the projector's writes
-- of a few thousand rows per batch stop paying two trigger calls per row. `cogo_touch_row` (version,
-- updated_at, updated_by) still runs for every write: the conflict policy reads what it sets.
DO $do$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['projects', 'pages', 'project_pages', 'components', 'action_flows', 'symbols', 'themes', 'assets'] LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON public.%I', t || '_guard', t);
    EXECUTE format('CREATE TRIGGER %I BEFORE INSERT OR UPDATE ON public.%I FOR EACH ROW WHEN (auth.uid() IS NOT NULL) EXECUTE FUNCTION public.cogo_guard_user_write()', t || '_guard', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['projects', 'project_members', 'pages', 'project_pages', 'components', 'action_flows', 'symbols', 'themes', 'assets'] LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON public.%I', t || '_user_edit', t);
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON public.%I FOR EACH ROW WHEN (auth.uid() IS NOT NULL) EXECUTE FUNCTION public.cogo_publish_user_edit()', t || '_user_edit', t);
  END LOOP;
END
$do$;
