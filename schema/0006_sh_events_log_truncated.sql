-- An sh call's log is bounded by max_log_bytes (config.lua, default
-- 1 GiB): past it the output is dropped and the log ends with one line
-- saying how many bytes were. log_truncated is 1 for such a call, else 0.
-- Rows made before this migration keep 0: their logs were never cut.

ALTER TABLE sh_events ADD COLUMN log_truncated INTEGER NOT NULL DEFAULT 0
  CONSTRAINT sh_events_log_truncated CHECK (log_truncated IN (0, 1));
