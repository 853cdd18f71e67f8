-- Runs and jobs. Times are Unix milliseconds. The CHECK constraints encode
-- the life cycle of SPEC section 6 so that no writer, however buggy, can
-- leave a row an operator cannot make sense of. Each constraint is named:
-- a violation reports "CHECK constraint failed: <name>".

CREATE TABLE runs (
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

  CONSTRAINT runs_id_nonempty CHECK (id <> ''),
  CONSTRAINT runs_trigger CHECK (trigger IN ('push', 'replay')),
  CONSTRAINT runs_state CHECK (
    state IN ('pending', 'active', 'complete', 'failed', 'superseded')),
  CONSTRAINT runs_failure_kind CHECK (failure_kind IS NULL OR failure_kind IN (
    'pipeline', 'workspace', 'job', 'timeout', 'canceled', 'orphaned', 'internal')),

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

CREATE INDEX runs_repo_pushed ON runs (repo, pushed_at_ms DESC);
CREATE INDEX runs_state ON runs (state);
-- Newest-first listings and the search for older runs of the same ref.
CREATE INDEX runs_queued ON runs (queued_at_ms DESC, id DESC);
CREATE INDEX runs_repo_ref ON runs (repo, ref_name, state);

CREATE TABLE jobs (
  run_id         TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  job_id         TEXT    NOT NULL,
  state          TEXT    NOT NULL,
  exit_code      INTEGER,
  started_at_ms  INTEGER,
  finished_at_ms INTEGER,
  error          TEXT,
  outputs        TEXT,
  PRIMARY KEY (run_id, job_id),

  CONSTRAINT jobs_job_id_nonempty CHECK (job_id <> ''),
  CONSTRAINT jobs_state CHECK (
    state IN ('pending', 'active', 'complete', 'failed', 'skipped', 'aborted')),
  CONSTRAINT jobs_pending_stamps CHECK (state <> 'pending' OR (
    started_at_ms IS NULL AND finished_at_ms IS NULL)),
  CONSTRAINT jobs_active_stamps CHECK (state <> 'active' OR (
    started_at_ms IS NOT NULL AND finished_at_ms IS NULL)),
  -- A job that never started is skipped or aborted, never failed.
  CONSTRAINT jobs_done_stamps CHECK (state NOT IN ('complete', 'failed') OR (
    started_at_ms IS NOT NULL AND finished_at_ms IS NOT NULL)),
  CONSTRAINT jobs_skipped_stamps CHECK (state <> 'skipped' OR (
    started_at_ms IS NULL AND finished_at_ms IS NOT NULL)),
  CONSTRAINT jobs_aborted_stamps CHECK (state <> 'aborted' OR finished_at_ms IS NOT NULL),
  CONSTRAINT jobs_finished_after_started CHECK (
    finished_at_ms IS NULL OR started_at_ms IS NULL OR finished_at_ms >= started_at_ms),
  CONSTRAINT jobs_outputs_json CHECK (outputs IS NULL OR json_valid(outputs))
) STRICT;
