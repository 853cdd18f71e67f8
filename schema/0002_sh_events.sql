-- One row per sh call, written when the call ends. seq is the n of
-- jobs/<job-id>/sh-<n>.log; keying on it (not on the start millisecond)
-- lets two calls start in the same millisecond.

CREATE TABLE sh_events (
  run_id         TEXT    NOT NULL,
  job_id         TEXT    NOT NULL,
  seq            INTEGER NOT NULL,
  started_at_ms  INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL,
  exit_code      INTEGER NOT NULL,
  cmd            TEXT    NOT NULL,
  stdout_bytes   INTEGER NOT NULL DEFAULT 0,
  stderr_bytes   INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_id, job_id, seq),
  FOREIGN KEY (run_id, job_id) REFERENCES jobs (run_id, job_id) ON DELETE CASCADE,

  CONSTRAINT sh_events_seq CHECK (seq >= 1),
  CONSTRAINT sh_events_finished_after_started CHECK (finished_at_ms >= started_at_ms),
  CONSTRAINT sh_events_bytes CHECK (stdout_bytes >= 0 AND stderr_bytes >= 0)
) STRICT;
