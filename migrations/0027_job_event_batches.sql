-- Job stream speed (issue 16): the lifecycle events (enqueued, started, succeeded) of a batch of jobs are one
-- bus event row per (event, project, up to 100 jobs), not one row per job. The row lists its jobs in `job_ids`
-- (found by the GIN index below when one job's stream replays) and their events in `parts`, a JSON array of
-- `{ "j": job id, "t": traceparent, "k": job kind, "p": that job's payload }`; readers expand it into one event
-- per job (`EventBus`), so a consumer sees the same events as before, several of them sharing the row's id.
-- `parts` is `json`, not `jsonb`: it is built and stored as text, which costs the writer (every claim and
-- completion) a fraction of building jsonb; the rarer readers convert each part when they expand it.
-- A row for a single job keeps the old shape (`job_id`, object payload, `job_ids` and `parts` NULL).
ALTER TABLE cogo.bus_events ADD COLUMN IF NOT EXISTS job_ids uuid[];
ALTER TABLE cogo.bus_events ADD COLUMN IF NOT EXISTS parts json;
CREATE INDEX IF NOT EXISTS bus_events_job_ids_idx ON cogo.bus_events USING gin (job_ids) WHERE job_ids IS NOT NULL;
-- No query reads events by topic alone (readers go by id, project or job); one index entry less per event.
DROP INDEX IF EXISTS cogo.bus_events_topic_idx;
