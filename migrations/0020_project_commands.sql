-- Project commands in one round trip (issue 16). The outbox append (locks, sequence numbers, outbox rows,
-- canonical state, notification) is one function call, so a single command needs no BEGIN/COMMIT of its
-- own: its autocommit statement is the transaction. See src/services/cqrs/Outbox.ts and ProjectCommands.ts.

-- What command validation reads: the entities with these ids, and every entity of these projects (the
-- cascade of a project or page delete). `page_id` is a project_page's page.
CREATE OR REPLACE FUNCTION cogo.command_reads(p_ids uuid[], p_projects uuid[])
RETURNS TABLE (entity_type text, id uuid, project_id uuid, deleted boolean, page_id text)
LANGUAGE sql STABLE AS $fn$
  SELECT e.entity_type, e.id, e.project_id, e.deleted, e.state->>'pageId'
  FROM cogo.project_entities e
  WHERE e.id = ANY(p_ids) OR e.project_id = ANY(p_projects)
$fn$;

-- Appends outbox rows (`p_updates`, in `ord` order) and upserts canonical state (`p_canonical`, whose
-- `entry` is the `ord` whose seq becomes the row's version; NULL keeps the stored version), in the caller's
-- transaction, or as its own when called in autocommit.
-- 1. `p_agent_role`: switch to cogo_agent first (SET LOCAL), so the writes below are checked against its
--    grants; false when the caller's transaction already runs as that role.
-- 2. The aggregates' append locks (advisory, class 0x636f01 = 6516481, key hashtext('<kind>:<uuid>'),
--    taken in key order so writers cannot deadlock): within an aggregate id order = seq order = commit order.
-- 3. `p_expected` (not NULL): the caller validated against `command_reads(p_read_ids, p_read_projects)` as
--    it read it WITHOUT these locks (or remembered it), as [entity_type, id, project_id, deleted, page_id]
--    arrays ordered by id, then entity_type (bytewise); if what it reads now, under the locks, differs,
--    nothing is written and no row is returned (the caller reads and validates again).
-- 4. One statement, with a snapshot taken after the locks were granted: the next seq per aggregate, the
--    outbox rows, the canonical rows and one notification (delivered on commit).
CREATE OR REPLACE FUNCTION cogo.append_project_updates(
  p_updates jsonb,
  p_canonical jsonb,
  p_agent_role boolean,
  p_read_ids uuid[],
  p_read_projects uuid[],
  p_expected jsonb,
  p_channel text
)
RETURNS TABLE (id bigint, seq bigint, aggregate_type text, aggregate_id uuid, project_id uuid)
LANGUAGE plpgsql VOLATILE AS $fn$
#variable_conflict use_column
DECLARE
  v_ids uuid[];
  v_locked bigint;
BEGIN
  IF p_agent_role THEN
    PERFORM set_config('role', 'cogo_agent', true);
  END IF;
  -- The aggregates' ids (an array: `= ANY` stays an index lookup whatever the statistics say) and locks.
  SELECT array_agg(k.aggregate_id), count(pg_advisory_xact_lock(6516481, hashtext(k.key))) INTO v_ids, v_locked
  FROM (
    SELECT DISTINCT x.aggregate_id, x.aggregate_type || ':' || x.aggregate_id::text AS key
    FROM jsonb_to_recordset(p_updates) AS x(aggregate_type text, aggregate_id uuid)
    ORDER BY 2
  ) k;
  IF p_expected IS NOT NULL AND p_expected IS DISTINCT FROM (
    SELECT coalesce(jsonb_agg(jsonb_build_array(r.entity_type, r.id, r.project_id, r.deleted, r.page_id)
                              ORDER BY r.id, r.entity_type COLLATE "C"), '[]'::jsonb)
    FROM cogo.command_reads(p_read_ids, p_read_projects) r
  ) THEN
    RETURN;
  END IF;
  RETURN QUERY
  WITH input AS (
    SELECT * FROM jsonb_to_recordset(p_updates) AS x(
      ord integer, aggregate_type text, aggregate_id uuid, project_id uuid, update_type text,
      schema_version integer, payload jsonb, base_version bigint, traceparent text)
  ), latest AS (
    SELECT u.aggregate_type, u.aggregate_id, max(u.seq) AS seq FROM cogo.project_updates u
    WHERE u.aggregate_id = ANY(v_ids)
    GROUP BY u.aggregate_type, u.aggregate_id
  ), numbered AS MATERIALIZED (
    SELECT i.*, coalesce(l.seq, 0) + row_number() OVER (PARTITION BY i.aggregate_type, i.aggregate_id ORDER BY i.ord) AS seq
    FROM input i LEFT JOIN latest l ON l.aggregate_type = i.aggregate_type AND l.aggregate_id = i.aggregate_id
  ), inserted AS (
    INSERT INTO cogo.project_updates
      (aggregate_type, aggregate_id, project_id, seq, update_type, schema_version, payload, base_version, traceparent)
    SELECT n.aggregate_type, n.aggregate_id, n.project_id, n.seq, n.update_type, n.schema_version, n.payload, n.base_version, n.traceparent
    FROM numbered n ORDER BY n.ord
    RETURNING cogo.project_updates.id, cogo.project_updates.seq, cogo.project_updates.aggregate_type,
      cogo.project_updates.aggregate_id, cogo.project_updates.project_id
  ), canonical AS (
    INSERT INTO cogo.project_entities AS e (entity_type, id, project_id, state, version, deleted, updated_at)
    SELECT c.entity_type, c.id, c.project_id, c.state, coalesce(n.seq, 0), c.deleted, now()
    FROM jsonb_to_recordset(p_canonical)
      AS c(entity_type text, id uuid, project_id uuid, state jsonb, deleted boolean, entry integer)
    LEFT JOIN numbered n ON n.ord = c.entry
    ON CONFLICT (entity_type, id) DO UPDATE SET
      state = excluded.state,
      deleted = excluded.deleted,
      version = CASE WHEN excluded.version = 0 THEN e.version ELSE excluded.version END,
      updated_at = now()
  ), notified AS (
    SELECT pg_notify(p_channel, 'outbox:' || (SELECT count(*) FROM input)) AS sent
  )
  SELECT ins.id, ins.seq, ins.aggregate_type, ins.aggregate_id, ins.project_id FROM inserted ins, notified;
END
$fn$;
