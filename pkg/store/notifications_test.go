package store

import (
	"testing"
)

// A database at schema version 7 upgrades in place to one with the
// notifications table: its runs, jobs and sh calls are kept, and the
// new table takes rows, enforces its checks and follows its run.
func TestStore_UpgradeNotifications(t *testing.T) {
	ctx := t.Context()
	const before = 7 // the last version without notifications
	s := upgradeFrom(t, before,
		`INSERT INTO runs (id, repo, ref_name, sha, trigger, pushed_at_ms, state, failure_kind, error,
			queued_at_ms, started_at_ms, finished_at_ms, owner_pid, owner_host, pusher)
			VALUES ('run-1', 'foo.git', 'refs/heads/main', 'abc', 'push', 1000, 'failed', 'job', 'build failed',
			1000, 1100, 2000, 42, 'h', 'alice')`,
		`INSERT INTO jobs (run_id, job_id, state, exit_code, started_at_ms, finished_at_ms)
			VALUES ('run-1', 'build', 'failed', 2, 1100, 1900)`,
		`INSERT INTO sh_events (run_id, job_id, seq, started_at_ms, finished_at_ms, exit_code, cmd, stdout_bytes)
			VALUES ('run-1', 'build', 1, 1200, 1300, 2, 'make', 10)`,
	)
	for table, want := range map[string]int{"runs": 1, "jobs": 1, "sh_events": 1, "run_summary": 1, "notifications": 0} {
		if got := count(t, s, table); got != want {
			t.Errorf("%s: %d rows after the upgrade, want %d", table, got, want)
		}
	}
	got, err := s.GetRun(ctx, "run-1")
	if err != nil || got.State != RunFailed || got.Pusher != "alice" || got.Error != "build failed" {
		t.Fatalf("run-1 after the upgrade: %+v, %v", got, err)
	}

	n := Notification{RunID: "run-1", Target: "email ops@example.com", Event: "failed",
		State: NotificationDelivered, Attempts: 1, CreatedAtMS: 2100, FinishedAtMS: 2200}
	id, err := s.AddNotification(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	failed := Notification{RunID: "run-1", Target: "webhook http://127.0.0.1:1/", Event: "failed",
		State: NotificationFailed, Attempts: 3, Error: "connection refused", CreatedAtMS: 2100, FinishedAtMS: 2300}
	if _, err := s.AddNotification(ctx, failed); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListNotifications(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	n.ID = id
	if len(list) != 2 || list[0] != n || list[1].Error != "connection refused" || list[1].Attempts != 3 || list[1].State != NotificationFailed {
		t.Errorf("ListNotifications = %+v", list)
	}

	for name, bad := range map[string]Notification{
		"unknown state":        {RunID: "run-1", Target: "x", Event: "failed", State: "lost", CreatedAtMS: 1, FinishedAtMS: 1},
		"unknown event":        {RunID: "run-1", Target: "x", Event: "sometimes", State: NotificationDelivered, CreatedAtMS: 1, FinishedAtMS: 1},
		"no such run":          {RunID: "run-9", Target: "x", Event: "failed", State: NotificationDelivered, CreatedAtMS: 1, FinishedAtMS: 1},
		"empty target":         {RunID: "run-1", Target: "", Event: "failed", State: NotificationDelivered, CreatedAtMS: 1, FinishedAtMS: 1},
		"delivered with error": {RunID: "run-1", Target: "x", Event: "failed", State: NotificationDelivered, Error: "e", CreatedAtMS: 1, FinishedAtMS: 1},
		"finished before":      {RunID: "run-1", Target: "x", Event: "failed", State: NotificationFailed, CreatedAtMS: 5, FinishedAtMS: 1},
	} {
		if _, err := s.AddNotification(ctx, bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	if rows := queryRows(t, s, "PRAGMA foreign_key_check"); len(rows) != 0 {
		t.Errorf("foreign_key_check: %v", rows)
	}
	if err := s.DeleteRun(ctx, "run-1"); err != nil {
		t.Fatal(err)
	}
	if got := count(t, s, "notifications"); got != 0 {
		t.Errorf("notifications of a deleted run: %d, want 0", got)
	}
}

// PreviousOutcome finds the run of the same repo and ref that ended
// last before this one with an outcome, passing over superseded and
// canceled runs, other refs and later runs.
func TestStore_PreviousOutcome(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	end := func(id, ref string, at int64, state RunState, kind FailureKind) Run {
		r := newRun(id, at)
		r.Ref = ref
		mustCreateRun(t, s, r)
		if err := s.StartRun(ctx, id, at+1, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishRun(ctx, id, state, kind, "", at+10); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	first := end("r1", "refs/heads/main", 1000, RunComplete, "")
	if _, ok, err := s.PreviousOutcome(ctx, first); err != nil || ok {
		t.Errorf("the first run has a previous one: %v, %v", ok, err)
	}
	end("r2", "refs/heads/main", 2000, RunFailed, FailJob)
	end("r3", "refs/heads/dev", 3000, RunComplete, "")
	end("r4", "refs/heads/main", 4000, RunSuperseded, "")
	end("r5", "refs/heads/main", 5000, RunFailed, FailCanceled)
	r6 := end("r6", "refs/heads/main", 6000, RunComplete, "")
	end("r7", "refs/heads/main", 7000, RunFailed, FailJob)
	prev, ok, err := s.PreviousOutcome(ctx, r6)
	if err != nil || !ok || prev.ID != "r2" {
		t.Errorf("PreviousOutcome(r6) = %s, %v, %v; want r2", prev.ID, ok, err)
	}
}
