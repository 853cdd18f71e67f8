-- Async feedback (SPEC §13): in async mode nobody watches a run, so the
-- next push to its repo prints its outcome, once.
--
-- async: 1 for a run that an async post-receive queued for the
-- background worker (set when it is queued), else 0. Which runs of an
-- older database were async is not recorded: they get 0.
-- reported_at_ms: when a push printed the outcome of this async run;
-- NULL until then. Selecting the unprinted outcomes and setting this
-- happen in one write transaction that commits only after the lines
-- were written, so two pushes at once never both print an outcome, and
-- a hook killed while printing leaves them to the next push.
--
-- Rows made before this migration are not async as far as quire-hook
-- knows, so none is ever printed: an upgrade does not flood the next
-- push with old outcomes. Their reported_at_ms stays NULL.

ALTER TABLE runs ADD COLUMN async INTEGER NOT NULL DEFAULT 0
  CONSTRAINT runs_async CHECK (async IN (0, 1));
ALTER TABLE runs ADD COLUMN reported_at_ms INTEGER
  CONSTRAINT runs_reported_after_finished CHECK (
    reported_at_ms IS NULL OR (async = 1 AND finished_at_ms IS NOT NULL));

-- The outcomes a push has still to print, per repo, oldest first.
CREATE INDEX runs_unreported ON runs (repo, finished_at_ms)
  WHERE async = 1 AND reported_at_ms IS NULL;
