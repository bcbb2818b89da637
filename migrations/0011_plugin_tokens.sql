-- Per-project tokens of the Figma plugin (src/services/auth/PluginTokens.ts). Only the SHA-256 of a token is
-- stored; the token is shown once, at creation. A token uploads into its one project until it expires or is
-- revoked. No foreign key to public.projects: the token is checked against the upload's project anyway, and
-- cogo.* never depends on rows the projection owns.
CREATE TABLE IF NOT EXISTS cogo.plugin_tokens (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id uuid NOT NULL,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
  token_hash text NOT NULL,
  created_by uuid NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  revoked_at timestamptz,
  last_used_at timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS plugin_tokens_hash_idx ON cogo.plugin_tokens (token_hash);
CREATE INDEX IF NOT EXISTS plugin_tokens_project_idx ON cogo.plugin_tokens (project_id, created_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON cogo.plugin_tokens TO cogo_agent, service_role;
