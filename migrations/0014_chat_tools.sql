-- Chat tool steps: every tool call the assistant ran (or was denied) in a chat turn, with the user it acted
-- as, the chat run and turn, and the trace. A turn's applied write steps form one saga: when a step fails, is
-- denied or the turn is aborted, the applied steps are compensated in reverse and marked 'compensated'.
CREATE TABLE IF NOT EXISTS cogo.chat_tool_steps (
  id bigserial PRIMARY KEY,
  turn_id uuid NOT NULL,
  run_id uuid NOT NULL,
  chat_id text NOT NULL,
  user_id text NOT NULL,
  project_id uuid NOT NULL,
  step_index integer NOT NULL,
  tool text NOT NULL,
  tool_call_id text NOT NULL,
  input jsonb NOT NULL,
  output jsonb,
  state text NOT NULL
    CHECK (state IN ('read', 'applied', 'failed', 'denied', 'compensated', 'compensation_failed')),
  error text,
  traceparent text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (turn_id, step_index)
);
CREATE INDEX IF NOT EXISTS chat_tool_steps_project_idx ON cogo.chat_tool_steps (project_id, created_at);
CREATE INDEX IF NOT EXISTS chat_tool_steps_run_idx ON cogo.chat_tool_steps (run_id);
