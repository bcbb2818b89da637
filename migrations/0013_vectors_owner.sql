-- Vectors indexed without a project belong to the user who indexed them (issue 11): two users indexing the
-- same source id no longer share (and overwrite) one set of rows. owner_id NULL with project_id NULL is
-- platform-wide knowledge (operators, jobs).
ALTER TABLE cogo.vectors ADD COLUMN IF NOT EXISTS owner_id uuid;
DROP INDEX IF EXISTS cogo.vectors_source_idx;
CREATE UNIQUE INDEX IF NOT EXISTS vectors_source_idx
  ON cogo.vectors (coalesce(project_id, '00000000-0000-0000-0000-000000000000'::uuid),
                   coalesce(owner_id, '00000000-0000-0000-0000-000000000000'::uuid), source_type, source_id, chunk_index);
CREATE INDEX IF NOT EXISTS vectors_owner_idx ON cogo.vectors (owner_id) WHERE owner_id IS NOT NULL;
