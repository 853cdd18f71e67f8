-- Readable summaries for operators using the sqlite3 shell. Times are UTC
-- RFC 3339 with milliseconds; durations are milliseconds and NULL while
-- the run or job has not both started and finished.

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
