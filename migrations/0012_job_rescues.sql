-- Attempts lost to an expired lease (crashed or stalled worker) are counted apart from failures: only
-- failures spend a job's max_attempts (`attempts - rescues`); JOBS_MAX_RESCUES caps rescues on their own.
ALTER TABLE cogo.jobs ADD COLUMN IF NOT EXISTS rescues integer NOT NULL DEFAULT 0;
