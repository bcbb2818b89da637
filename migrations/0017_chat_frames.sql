-- Chat from any replica (issue 15): the runs and SSE frames of chat replies, shared by every replica.
-- The replica that generates a run (`owner`) appends its frames in batches, one statement per tick, and
-- beats `heartbeat_at`; any replica reads the frames after a Last-Event-ID. A run whose heartbeat is stale
-- (its owner died) is finished by the first reader that notices (an `error` frame and `[DONE]`).
CREATE TABLE IF NOT EXISTS cogo.chat_runs (
  id uuid PRIMARY KEY,
  chat_id text NOT NULL,
  owner_scope text NOT NULL,
  owner text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  frame_count integer NOT NULL DEFAULT 0,
  abort_requested boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS chat_runs_chat_idx ON cogo.chat_runs (owner_scope, chat_id, created_at DESC);
CREATE INDEX IF NOT EXISTS chat_runs_created_idx ON cogo.chat_runs (created_at);

-- One row per frame: `data` is the SSE `data:` text (a UI message chunk's JSON, or `[DONE]`), `seq` its id.
CREATE TABLE IF NOT EXISTS cogo.chat_frames (
  run_id uuid NOT NULL REFERENCES cogo.chat_runs (id) ON DELETE CASCADE,
  seq integer NOT NULL,
  data text NOT NULL,
  PRIMARY KEY (run_id, seq)
);
