-- An sh call is recorded when it starts, not only when it ends, so that
-- the call running when a hook dies still has its row next to its log
-- file. finished_at_ms and exit_code become nullable:
--   both NULL         the call is running;
--   both set          it ended with that exit status;
--   finish, no exit   it was cut short: its hook died and reconcile ended
--                     the row together with the run.
-- An exit status without a finish cannot happen.
--
-- SQLite cannot change a column's constraints in place, so the table is
-- rebuilt: create the new one, copy every row, drop the old one, rename.
-- The views of 0003 read sh_events; they are dropped first (a rename
-- checks every view, and they would name a table that is gone) and made
-- again, unchanged, at the end.

DROP VIEW job_summary;
DROP VIEW run_summary;

CREATE TABLE sh_events_new (
  run_id         TEXT    NOT NULL,
  job_id         TEXT    NOT NULL,
  seq            INTEGER NOT NULL,
  started_at_ms  INTEGER NOT NULL,
  finished_at_ms INTEGER,
  exit_code      INTEGER,
  cmd            TEXT    NOT NULL,
  stdout_bytes   INTEGER NOT NULL DEFAULT 0,
  stderr_bytes   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, job_id, seq),
  FOREIGN KEY (run_id, job_id) REFERENCES jobs (run_id, job_id) ON DELETE CASCADE,

  CONSTRAINT sh_events_seq CHECK (seq >= 1),
  CONSTRAINT sh_events_finished_after_started CHECK (
    finished_at_ms IS NULL OR finished_at_ms >= started_at_ms),
  CONSTRAINT sh_events_exit_finished CHECK (
    exit_code IS NULL OR finished_at_ms IS NOT NULL),
  CONSTRAINT sh_events_bytes CHECK (stdout_bytes >= 0 AND stderr_bytes >= 0)
) STRICT;

INSERT INTO sh_events_new (run_id, job_id, seq, started_at_ms, finished_at_ms,
  exit_code, cmd, stdout_bytes, stderr_bytes)
SELECT run_id, job_id, seq, started_at_ms, finished_at_ms,
  exit_code, cmd, stdout_bytes, stderr_bytes
FROM sh_events;

DROP TABLE sh_events;
ALTER TABLE sh_events_new RENAME TO sh_events;

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
