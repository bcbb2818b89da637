-- IDE reads (`GET /rest/v1/<table>`) in one statement (issue 16, goal 7). PostgREST sends BEGIN, the role
-- and claims settings, the query and COMMIT pipelined; the service's driver has no pipelining, so those were 4
-- round trips per read. `cogo.rest_read` switches to `p_role` with `p_claims` and only then runs the read as
-- dynamic SQL: planned after the switch, so row-level security and the grants apply exactly as in the
-- 4-statement transaction (a role switch inside the same SELECT would be planned before it takes effect).
-- `p_sql` is built by the service from catalogue identifiers only; every request value arrives in
-- `p_params` (a JSON array) and is referenced as `($1->>n)::<column type>`, never spliced into the text.
-- The settings are put back before returning, so a caller inside a longer transaction keeps its own role.
CREATE OR REPLACE FUNCTION cogo.rest_read(p_role text, p_claims text, p_sql text, p_params jsonb)
RETURNS TABLE (count int, body text)
LANGUAGE plpgsql AS $fn$
DECLARE
  prior_role text := current_setting('role');
  prior_claims text := current_setting('request.jwt.claims', true);
BEGIN
  PERFORM set_config('role', p_role, true), set_config('request.jwt.claims', coalesce(p_claims, ''), true);
  RETURN QUERY EXECUTE p_sql USING p_params;
  PERFORM set_config('role', prior_role, true), set_config('request.jwt.claims', coalesce(prior_claims, ''), true);
END
$fn$;

-- Only the service's own login (the owner) may run it: it executes the SQL it is given (the schema's default
-- privileges, migration 0003, would let the service roles call it).
REVOKE EXECUTE ON FUNCTION cogo.rest_read(text, text, text, jsonb) FROM PUBLIC, cogo_agent, cogo_projector, service_role;
