-- The web UI (SPEC §14).
--
-- pipeline_jobs: the jobs a run's pipeline declared, with their inputs, written once when
-- ci.lua has loaded and validated, before any job starts. The jobs table
-- only gets a row when a job starts (or is skipped), so this is what says
-- which jobs are still to come and how they depend on each other: the web
-- UI (SPEC §14) lays the run's job graph out by dependency level from it.
--
-- position: the job's place in declaration order, from 0.
-- inputs: a JSON array of the job's inputs as ci.lua gave them, without
-- repeats: job ids and sources such as "quire/push".
--
-- Runs recorded before this migration, and runs whose pipeline did not
-- load, have no rows here.

CREATE TABLE pipeline_jobs (
  run_id   TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  job_id   TEXT NOT NULL,
  position INTEGER NOT NULL CHECK (position >= 0),
  inputs   TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(inputs)),
  PRIMARY KEY (run_id, job_id)
);

-- The web UI's runs page lists a repo's (and a ref's) runs newest first,
-- a page at a time from a cursor (queued_at_ms, id), and its repositories
-- page reads each ref's latest run: without these, each of those sorts
-- every run of the repo.
CREATE INDEX runs_repo_queued ON runs (repo, queued_at_ms DESC, id DESC);
CREATE INDEX runs_repo_ref_queued ON runs (repo, ref_name, queued_at_ms DESC, id DESC);
