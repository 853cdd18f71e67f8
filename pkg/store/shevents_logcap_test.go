package store

import (
	"errors"
	"testing"
)

func TestStore_ShEventLogTruncated(t *testing.T) {
	ctx := t.Context()
	s := activeRun(t)
	if err := s.StartJob(ctx, "run-1", "build", 1100); err != nil {
		t.Fatal(err)
	}
	for seq := 1; seq <= 3; seq++ {
		if err := s.StartShEvent(ctx, ShEvent{RunID: "run-1", JobID: "build", Seq: seq, StartedAtMS: 1200, Cmd: "yes"}); err != nil {
			t.Fatal(err)
		}
	}
	// 1: marked while running, then finished by a caller that does not
	// know; 2: finished with the flag; 3: never truncated.
	if err := s.SetShEventLogTruncated(ctx, "run-1", "build", 1); err != nil {
		t.Fatalf("SetShEventLogTruncated: %v", err)
	}
	for seq, flag := range map[int]bool{1: false, 2: true, 3: false} {
		e := ShEvent{RunID: "run-1", JobID: "build", Seq: seq, FinishedAtMS: 1300, LogTruncated: flag}
		if err := s.FinishShEvent(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.ListShEvents(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, true, false} {
		if got[i].LogTruncated != want {
			t.Errorf("seq %d: LogTruncated = %v, want %v", got[i].Seq, got[i].LogTruncated, want)
		}
	}
	if rows := queryRows(t, s, "SELECT group_concat(log_truncated) AS v FROM (SELECT log_truncated FROM sh_events ORDER BY seq)"); rows[0]["v"] != "1,1,0" {
		t.Errorf("log_truncated column: %s, want 1,1,0", rows[0]["v"])
	}
	t.Run("Missing", func(t *testing.T) {
		if err := s.SetShEventLogTruncated(ctx, "run-1", "build", 9); !errors.Is(err, ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})
	t.Run("Check", func(t *testing.T) {
		if err := rawExec(t, s, "UPDATE sh_events SET log_truncated = 2 WHERE seq = 3"); err == nil {
			t.Error("log_truncated = 2 was accepted")
		}
	})
}

// A database at schema version 5, made before sh_events had
// log_truncated, is upgraded in place: its calls are kept, with
// log_truncated 0.
func TestStore_UpgradeShEventsLogTruncated(t *testing.T) {
	ctx := t.Context()
	const before = 5 // the last version without sh_events.log_truncated
	s := upgradeFrom(t, before,
		`INSERT INTO runs (id, repo, ref_name, sha, trigger, pushed_at_ms, state, queued_at_ms, started_at_ms, finished_at_ms, owner_pid, owner_host, pusher)
			VALUES ('run-1', 'foo.git', 'refs/heads/main', 'abc', 'push', 1000, 'complete', 1000, 1100, 2000, 42, 'h', 'alice')`,
		`INSERT INTO jobs (run_id, job_id, state, exit_code, started_at_ms, finished_at_ms)
			VALUES ('run-1', 'build', 'complete', 0, 1100, 1900)`,
		`INSERT INTO sh_events (run_id, job_id, seq, started_at_ms, finished_at_ms, exit_code, cmd, stdout_bytes)
			VALUES ('run-1', 'build', 1, 1200, 1300, 0, 'make', 7)`,
	)
	got, err := s.ListShEvents(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Cmd != "make" || got[0].StdoutBytes != 7 || got[0].LogTruncated {
		t.Errorf("kept row: %+v, want make with 7 bytes, not truncated", got)
	}
	if rows := queryRows(t, s, "SELECT log_truncated FROM sh_events"); rows[0]["log_truncated"] != "0" {
		t.Errorf("old row's log_truncated = %s, want 0", rows[0]["log_truncated"])
	}
	if run, err := s.GetRun(ctx, "run-1"); err != nil || run.Pusher != "alice" {
		t.Errorf("kept run: %+v, %v", run, err)
	}
}
