-- Job stream speed (issue 16): the lifecycle events (enqueued, started, succeeded) of a batch of jobs are one
-- bus event row per (event, project), not one row per job. The row lists its jobs in `job_ids` (found by the
-- GIN index below when one job's stream replays) and its payload is a JSON array of
-- `{ "j": job id, "t": traceparent, "p": that job's payload }`; readers expand it into one event per job
-- (`EventBus`), so a consumer sees the same events as before, several of them sharing the row's id.
-- A row for a single job keeps the old shape (`job_id`, object payload, `job_ids` NULL).
ALTER TABLE cogo.bus_events ADD COLUMN IF NOT EXISTS job_ids uuid[];
CREATE INDEX IF NOT EXISTS bus_events_job_ids_idx ON cogo.bus_events USING gin (job_ids) WHERE job_ids IS NOT NULL;
-- No query reads events by topic alone (readers go by id, project or job); one index entry less per event.
DROP INDEX IF EXISTS cogo.bus_events_topic_idx;
