-- A run can fail because its executor could not start: the docker
-- engine does not answer, the image is missing or its pull failed.
-- failure_kind gains 'executor' (SPEC §6).
--
-- SQLite cannot change a CHECK in place, so runs is rebuilt: a new table
-- with every column of 0001 and 0005, every row copied, the old one
-- dropped, the new one renamed. jobs references runs ON DELETE CASCADE
-- and the store keeps foreign_keys on, which cannot be switched off
-- inside the migration's transaction: dropping the old runs would
-- delete every job and sh call. So jobs and sh_events are copied aside
-- first and put back after the rename (their own definitions, which
-- name "runs", are untouched). The views and runs' indexes go with the
-- old table and are made again, unchanged.

DROP VIEW job_summary;
DROP VIEW run_summary;

CREATE TEMP TABLE jobs_keep AS SELECT * FROM jobs;
CREATE TEMP TABLE sh_events_keep AS SELECT * FROM sh_events;

CREATE TABLE runs_new (
  id             TEXT    NOT NULL PRIMARY KEY,
  repo           TEXT    NOT NULL,
  ref_name       TEXT    NOT NULL,
  sha            TEXT    NOT NULL,
  trigger        TEXT    NOT NULL,
  pushed_at_ms   INTEGER NOT NULL,
  state          TEXT    NOT NULL DEFAULT 'pending',
  failure_kind   TEXT,
  error          TEXT,
  queued_at_ms   INTEGER NOT NULL,
  started_at_ms  INTEGER,
  finished_at_ms INTEGER,
  container_id   TEXT,
  image_tag      TEXT,
  workspace_path TEXT,
  owner_pid      INTEGER,
  owner_host     TEXT,
  pusher         TEXT,
  author         TEXT,
  subject        TEXT,

  CONSTRAINT runs_id_nonempty CHECK (id <> ''),
  CONSTRAINT runs_trigger CHECK (trigger IN ('push', 'replay')),
  CONSTRAINT runs_state CHECK (
    state IN ('pending', 'active', 'complete', 'failed', 'superseded')),
  CONSTRAINT runs_failure_kind CHECK (failure_kind IS NULL OR failure_kind IN (
    'pipeline', 'workspace', 'job', 'timeout', 'canceled', 'orphaned', 'executor',
    'internal')),

  CONSTRAINT runs_pending_stamps CHECK (state <> 'pending' OR (
    started_at_ms IS NULL AND finished_at_ms IS NULL AND container_id IS NULL)),
  CONSTRAINT runs_active_stamps CHECK (state <> 'active' OR (
    started_at_ms IS NOT NULL AND finished_at_ms IS NULL)),
  CONSTRAINT runs_complete_stamps CHECK (state <> 'complete' OR (
    started_at_ms IS NOT NULL AND finished_at_ms IS NOT NULL AND container_id IS NULL)),
  CONSTRAINT runs_ended_stamps CHECK (state NOT IN ('failed', 'superseded') OR (
    finished_at_ms IS NOT NULL AND container_id IS NULL)),

  CONSTRAINT runs_started_after_queued CHECK (
    started_at_ms IS NULL OR started_at_ms >= queued_at_ms),
  CONSTRAINT runs_finished_after_queued CHECK (
    finished_at_ms IS NULL OR finished_at_ms >= queued_at_ms),
  CONSTRAINT runs_finished_after_started CHECK (
    finished_at_ms IS NULL OR started_at_ms IS NULL OR finished_at_ms >= started_at_ms)
) STRICT;

INSERT INTO runs_new (id, repo, ref_name, sha, trigger, pushed_at_ms, state, failure_kind, error,
  queued_at_ms, started_at_ms, finished_at_ms, container_id, image_tag,
  workspace_path, owner_pid, owner_host, pusher, author, subject)
SELECT id, repo, ref_name, sha, trigger, pushed_at_ms, state, failure_kind, error,
  queued_at_ms, started_at_ms, finished_at_ms, container_id, image_tag,
  workspace_path, owner_pid, owner_host, pusher, author, subject
FROM runs;

DROP TABLE runs;
ALTER TABLE runs_new RENAME TO runs;

CREATE INDEX runs_repo_pushed ON runs (repo, pushed_at_ms DESC);
CREATE INDEX runs_state ON runs (state);
-- Newest-first listings and the search for older runs of the same ref.
CREATE INDEX runs_queued ON runs (queued_at_ms DESC, id DESC);
CREATE INDEX runs_repo_ref ON runs (repo, ref_name, state);

INSERT INTO jobs SELECT * FROM temp.jobs_keep;
INSERT INTO sh_events SELECT * FROM temp.sh_events_keep;
DROP TABLE temp.jobs_keep;
DROP TABLE temp.sh_events_keep;

CREATE VIEW run_summary AS
SELECT
  r.id,
  r.repo,
  r.ref_name,
  substr(r.sha, 1, 7) AS short_sha,
  r.trigger,
  r.state,
  r.failure_kind,
  r.error,
  strftime('%Y-%m-%dT%H:%M:%fZ', r.queued_at_ms / 1000.0, 'unixepoch') AS queued_at,
  strftime('%Y-%m-%dT%H:%M:%fZ', r.started_at_ms / 1000.0, 'unixepoch') AS started_at,
  strftime('%Y-%m-%dT%H:%M:%fZ', r.finished_at_ms / 1000.0, 'unixepoch') AS finished_at,
  r.started_at_ms - r.queued_at_ms AS wait_ms,
  r.finished_at_ms - r.started_at_ms AS duration_ms,
  (SELECT count(*) FROM jobs j WHERE j.run_id = r.id) AS jobs_total,
  (SELECT count(*) FROM jobs j WHERE j.run_id = r.id AND j.state = 'complete') AS jobs_complete,
  (SELECT count(*) FROM jobs j WHERE j.run_id = r.id AND j.state = 'failed') AS jobs_failed,
  (SELECT count(*) FROM jobs j WHERE j.run_id = r.id AND j.state = 'skipped') AS jobs_skipped,
  (SELECT count(*) FROM jobs j WHERE j.run_id = r.id AND j.state = 'aborted') AS jobs_aborted,
  (SELECT count(*) FROM sh_events e WHERE e.run_id = r.id) AS sh_calls
FROM runs r;

CREATE VIEW job_summary AS
SELECT
  j.run_id,
  j.job_id,
  j.state,
  j.exit_code,
  strftime('%Y-%m-%dT%H:%M:%fZ', j.started_at_ms / 1000.0, 'unixepoch') AS started_at,
  strftime('%Y-%m-%dT%H:%M:%fZ', j.finished_at_ms / 1000.0, 'unixepoch') AS finished_at,
  j.finished_at_ms - j.started_at_ms AS duration_ms,
  count(e.seq) AS sh_calls,
  count(CASE WHEN e.exit_code <> 0 THEN 1 END) AS sh_failed,
  coalesce(sum(e.stdout_bytes), 0) AS stdout_bytes,
  coalesce(sum(e.stderr_bytes), 0) AS stderr_bytes,
  j.error
FROM jobs j
LEFT JOIN sh_events e ON e.run_id = j.run_id AND e.job_id = j.job_id
GROUP BY j.run_id, j.job_id;
