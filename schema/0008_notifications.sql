-- Notifications (SPEC §13): every delivery of a run's result to a
-- notify target of config.lua is one row, delivered or failed, with how
-- many attempts it took and the error of the last one.
--
-- A later migration that rebuilds runs (as 0007 did) must copy this
-- table aside too: it references runs ON DELETE CASCADE.

CREATE TABLE notifications (
  id             INTEGER NOT NULL PRIMARY KEY,
  run_id         TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
  target         TEXT    NOT NULL,
  event          TEXT    NOT NULL,
  state          TEXT    NOT NULL,
  attempts       INTEGER NOT NULL DEFAULT 0,
  error          TEXT,
  created_at_ms  INTEGER NOT NULL,
  finished_at_ms INTEGER NOT NULL,

  CONSTRAINT notifications_target_nonempty CHECK (target <> ''),
  CONSTRAINT notifications_event CHECK (event IN ('failed', 'fixed', 'complete', 'always')),
  CONSTRAINT notifications_state CHECK (state IN ('delivered', 'failed')),
  CONSTRAINT notifications_attempts CHECK (attempts >= 0),
  CONSTRAINT notifications_error CHECK (state <> 'delivered' OR error IS NULL),
  CONSTRAINT notifications_finished_after_created CHECK (finished_at_ms >= created_at_ms)
) STRICT;

CREATE INDEX notifications_run ON notifications (run_id, id);
