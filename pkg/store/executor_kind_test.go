package store

import (
	"testing"
)

// A database at schema version 6, made before failure_kind had
// 'executor', is upgraded in place: runs, jobs, sh calls and the views
// keep every row, the constraints still hold, and a run can now fail
// with failure_kind 'executor'.
func TestStore_UpgradeFailureKindExecutor(t *testing.T) {
	ctx := t.Context()
	const before = 6 // the last version without 'executor'
	s := upgradeFrom(t, before,
		`INSERT INTO runs (id, repo, ref_name, sha, trigger, pushed_at_ms, state, failure_kind, error,
			queued_at_ms, started_at_ms, finished_at_ms, image_tag, owner_pid, owner_host, pusher)
			VALUES ('run-1', 'foo.git', 'refs/heads/main', 'abc', 'push', 1000, 'failed', 'job', 'build failed',
			1000, 1100, 2000, 'golang:1.26', 42, 'h', 'alice')`,
		`INSERT INTO runs (id, repo, ref_name, sha, trigger, pushed_at_ms, state, queued_at_ms, started_at_ms, container_id)
			VALUES ('run-2', 'foo.git', 'refs/heads/dev', 'def', 'push', 3000, 'active', 3000, 3100, 'c0ffee')`,
		`INSERT INTO jobs (run_id, job_id, state, exit_code, started_at_ms, finished_at_ms)
			VALUES ('run-1', 'build', 'failed', 2, 1100, 1900)`,
		`INSERT INTO jobs (run_id, job_id, state, started_at_ms) VALUES ('run-2', 'build', 'active', 3100)`,
		`INSERT INTO sh_events (run_id, job_id, seq, started_at_ms, finished_at_ms, exit_code, cmd, stdout_bytes, log_truncated)
			VALUES ('run-1', 'build', 1, 1200, 1300, 2, 'make', 10, 1)`,
		`INSERT INTO sh_events (run_id, job_id, seq, started_at_ms, cmd) VALUES ('run-2', 'build', 1, 3200, 'make test')`,
	)

	t.Run("RowsKept", func(t *testing.T) {
		got, err := s.GetRun(ctx, "run-1")
		if err != nil {
			t.Fatal(err)
		}
		if got.State != RunFailed || got.FailureKind != FailJob || got.Error != "build failed" ||
			got.ImageTag != "golang:1.26" || got.Pusher != "alice" || got.FinishedAtMS != 2000 {
			t.Errorf("run-1 after the upgrade: %+v", got)
		}
		if got, err := s.GetRun(ctx, "run-2"); err != nil || got.ContainerID != "c0ffee" || got.State != RunActive {
			t.Errorf("run-2 after the upgrade: %+v, %v", got, err)
		}
		for table, want := range map[string]string{"runs": "2", "jobs": "2", "sh_events": "2", "run_summary": "2", "job_summary": "2"} {
			if got := queryRows(t, s, "SELECT count(*) AS n FROM "+table)[0]["n"]; got != want {
				t.Errorf("%s: %s rows after the upgrade, want %s", table, got, want)
			}
		}
		rows := queryRows(t, s, "SELECT stdout_bytes, log_truncated FROM sh_events WHERE run_id = 'run-1'")
		if rows[0]["stdout_bytes"] != "10" || rows[0]["log_truncated"] != "1" {
			t.Errorf("sh call after the upgrade: %v", rows[0])
		}
	})

	t.Run("SchemaIntact", func(t *testing.T) {
		if rows := queryRows(t, s, "PRAGMA integrity_check"); len(rows) != 1 || rows[0]["integrity_check"] != "ok" {
			t.Errorf("integrity_check: %v", rows)
		}
		if rows := queryRows(t, s, "PRAGMA foreign_key_check"); len(rows) != 0 {
			t.Errorf("foreign_key_check: %v", rows)
		}
		rows := queryRows(t, s, "SELECT count(*) AS n FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'runs' AND name IN ('runs_repo_pushed', 'runs_state', 'runs_queued', 'runs_repo_ref')") // 0009 and 0010 add more
		if got := rows[0]["n"]; got != "4" {
			t.Errorf("runs has %s of its 4 indexes", got)
		}
		// The life-cycle checks came along: a failed run keeps no container.
		if err := rawExec(t, s, `UPDATE runs SET state = 'failed', finished_at_ms = 4000 WHERE id = 'run-2'`); err == nil {
			t.Error("a failed run with a container was accepted")
		}
	})

	t.Run("ExecutorKind", func(t *testing.T) {
		if err := s.FinishRun(ctx, "run-2", RunFailed, FailExecutor, "image golang:1.26 not found", 4000); err != nil {
			t.Fatalf("FinishRun with failure_kind executor: %v", err)
		}
		got, err := s.GetRun(ctx, "run-2")
		if err != nil || got.FailureKind != FailExecutor || got.ContainerID != "" {
			t.Errorf("run-2: %+v, %v", got, err)
		}
		// Cascades still reach jobs and sh calls through the new runs.
		if err := rawExec(t, s, `DELETE FROM runs WHERE id = 'run-1'`); err != nil {
			t.Fatal(err)
		}
		if got := queryRows(t, s, "SELECT count(*) AS n FROM jobs WHERE run_id = 'run-1'")[0]["n"]; got != "0" {
			t.Errorf("jobs of a deleted run: %s, want 0", got)
		}
	})
}
