package store

import (
	"reflect"
	"testing"
)

func TestStore_CreateRunPusher(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	t.Run("Recorded", func(t *testing.T) {
		r := newRun("run-1", 1000)
		r.Pusher, r.Author, r.Subject = "alice", "Alice <alice@example.com>", "Fix the build"
		mustCreateRun(t, s, r)
		got, err := s.GetRun(ctx, "run-1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("got  %+v\nwant %+v", got, r)
		}
	})
	t.Run("EmptyIsNull", func(t *testing.T) {
		mustCreateRun(t, s, newRun("run-2", 2000))
		rows := queryRows(t, s, "SELECT pusher IS NULL AND author IS NULL AND subject IS NULL AS all_null FROM runs WHERE id = 'run-2'")
		if got := rows[0]["all_null"]; got != "1" {
			t.Errorf("empty pusher, author, subject stored as NULL: got %s, want 1", got)
		}
	})
}

// A database at schema version 4, made before runs had a pusher, is
// upgraded in place: its rows are kept with a NULL pusher, author and
// subject, and new runs record theirs.
func TestStore_UpgradeRunsPusher(t *testing.T) {
	ctx := t.Context()
	const before = 4 // the last version without runs.pusher
	s := upgradeFrom(t, before,
		`INSERT INTO runs (id, repo, ref_name, sha, trigger, pushed_at_ms, state, queued_at_ms, started_at_ms, finished_at_ms, owner_pid, owner_host)
			VALUES ('run-1', 'foo.git', 'refs/heads/main', 'abc', 'push', 1000, 'complete', 1000, 1100, 2000, 42, 'h')`,
		`INSERT INTO jobs (run_id, job_id, state, exit_code, started_at_ms, finished_at_ms)
			VALUES ('run-1', 'build', 'complete', 0, 1100, 1900)`,
		`INSERT INTO sh_events (run_id, job_id, seq, started_at_ms, finished_at_ms, exit_code, cmd)
			VALUES ('run-1', 'build', 1, 1200, 1300, 0, 'make')`,
	)
	got, err := s.GetRun(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	want := Run{
		ID: "run-1", Repo: "foo.git", Ref: "refs/heads/main", SHA: "abc", Trigger: "push",
		PushedAtMS: 1000, QueuedAtMS: 1000, StartedAtMS: 1100, FinishedAtMS: 2000,
		State: "complete", OwnerPID: 42, OwnerHost: "h",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("run after the upgrade:\ngot  %+v\nwant %+v", got, want)
	}
	rows := queryRows(t, s, "SELECT pusher IS NULL AND author IS NULL AND subject IS NULL AS all_null FROM runs WHERE id = 'run-1'")
	if got := rows[0]["all_null"]; got != "1" {
		t.Errorf("old row: pusher, author, subject all NULL: got %s, want 1", got)
	}
	for table, want := range map[string]string{"jobs": "1", "sh_events": "1", "run_summary": "1"} {
		if got := queryRows(t, s, "SELECT count(*) AS n FROM "+table)[0]["n"]; got != want {
			t.Errorf("%s: %s rows after the upgrade, want %s", table, got, want)
		}
	}

	r := newRun("run-2", 3000)
	r.Pusher, r.Author, r.Subject = "bob", "Bob <bob@example.com>", "Add tests"
	mustCreateRun(t, s, r)
	if got, err := s.GetRun(ctx, "run-2"); err != nil || got.Pusher != "bob" || got.Subject != "Add tests" {
		t.Errorf("new run after the upgrade: %+v, %v", got, err)
	}
}
