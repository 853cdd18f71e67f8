package store

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestStore_StartShEvent(t *testing.T) {
	ctx := t.Context()
	s := activeRun(t)
	if err := s.StartJob(ctx, "run-1", "build", 1100); err != nil {
		t.Fatal(err)
	}
	start := ShEvent{RunID: "run-1", JobID: "build", Seq: 1, StartedAtMS: 1200, Cmd: "make"}
	if err := s.StartShEvent(ctx, start); err != nil {
		t.Fatalf("StartShEvent: %v", err)
	}

	t.Run("Running", func(t *testing.T) {
		got, err := s.ListShEvents(ctx, "run-1")
		if err != nil {
			t.Fatal(err)
		}
		want := []ShEvent{{RunID: "run-1", JobID: "build", Seq: 1, StartedAtMS: 1200, Cmd: "make", NoExit: true}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
		rows := queryRows(t, s, "SELECT finished_at_ms, exit_code FROM sh_events")
		if rows[0]["finished_at_ms"] != "NULL" || rows[0]["exit_code"] != "NULL" {
			t.Errorf("row = %v, want finished_at_ms and exit_code NULL", rows[0])
		}
	})
	t.Run("Finish", func(t *testing.T) {
		end := start
		end.FinishedAtMS, end.ExitCode, end.StdoutBytes, end.StderrBytes = 1300, 2, 10, 3
		end.Cmd = "ignored"
		if err := s.FinishShEvent(ctx, end); err != nil {
			t.Fatalf("FinishShEvent: %v", err)
		}
		got, err := s.ListShEvents(ctx, "run-1")
		if err != nil {
			t.Fatal(err)
		}
		want := []ShEvent{{RunID: "run-1", JobID: "build", Seq: 1, StartedAtMS: 1200, FinishedAtMS: 1300,
			ExitCode: 2, Cmd: "make", StdoutBytes: 10, StderrBytes: 3}}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v\nwant %+v", got, want)
		}
	})
	t.Run("FinishTwice", func(t *testing.T) {
		end := start
		end.FinishedAtMS = 1400
		err := s.FinishShEvent(ctx, end)
		if err == nil || !strings.Contains(err.Error(), "finish sh event 1 of job build of run run-1: the call has ended already") {
			t.Errorf("got %v, want an error saying the call ended", err)
		}
	})
	t.Run("FinishNeverStarted", func(t *testing.T) {
		end := start
		end.Seq, end.FinishedAtMS = 9, 1400
		err := s.FinishShEvent(ctx, end)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "sh event 9") {
			t.Errorf("got %v, want ErrNotFound naming the call", err)
		}
	})
	t.Run("StartTwice", func(t *testing.T) {
		err := s.StartShEvent(ctx, start)
		if err == nil || !strings.Contains(err.Error(), "start sh event 1 of job build of run run-1") {
			t.Errorf("got %v, want an error naming the call", err)
		}
	})
}

// A hook that dies during an sh call leaves the row running; orphaning
// the run ends it at the run's finish, exit_code NULL.
func TestStore_OrphanRunClosesShEvents(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	mustCreateRun(t, s, newRun("run-1", 1000))
	mustCreateRun(t, s, newRun("run-2", 1000))
	for _, id := range []string{"run-1", "run-2"} {
		if err := s.StartRun(ctx, id, 1000, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.StartJob(ctx, id, "build", 1100); err != nil {
			t.Fatal(err)
		}
	}
	calls := []ShEvent{
		{RunID: "run-1", JobID: "build", Seq: 1, StartedAtMS: 1200, FinishedAtMS: 1300, ExitCode: 0, Cmd: "true"},
		{RunID: "run-1", JobID: "build", Seq: 2, StartedAtMS: 1400, Cmd: "sleep 100"},
		// Started later than the orphaning says it is (clocks differ).
		{RunID: "run-1", JobID: "build", Seq: 3, StartedAtMS: 5000, Cmd: "late"},
		{RunID: "run-2", JobID: "build", Seq: 1, StartedAtMS: 1200, Cmd: "other run"},
	}
	for _, e := range calls {
		var err error
		if e.FinishedAtMS != 0 {
			err = s.AddShEvent(ctx, e)
		} else {
			err = s.StartShEvent(ctx, e)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, ok, err := s.OrphanRun(ctx, "run-1", 4242, "ci-host", "owner gone", 2000); err != nil || !ok {
		t.Fatalf("OrphanRun: %v, %v", ok, err)
	}
	rows := queryRows(t, s, `SELECT run_id, seq, finished_at_ms, exit_code FROM sh_events ORDER BY run_id, seq`)
	want := []map[string]string{
		{"run_id": "run-1", "seq": "1", "finished_at_ms": "1300", "exit_code": "0"},
		{"run_id": "run-1", "seq": "2", "finished_at_ms": "2000", "exit_code": "NULL"},
		{"run_id": "run-1", "seq": "3", "finished_at_ms": "5000", "exit_code": "NULL"},
		{"run_id": "run-2", "seq": "1", "finished_at_ms": "NULL", "exit_code": "NULL"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Errorf("sh_events after OrphanRun:\ngot  %v\nwant %v", rows, want)
	}
	got, err := s.ListShEvents(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	if e := got[1]; !e.NoExit || e.FinishedAtMS != 2000 {
		t.Errorf("cut-short call = %+v, want NoExit with a finish", e)
	}
}

func TestSchema_ShEventsNullable(t *testing.T) {
	s := openTest(t)
	if err := rawInsert(t, s, "runs", activeBase.with(row{"id": "parent"})); err != nil {
		t.Fatal(err)
	}
	if err := rawInsert(t, s, "jobs", baseJob.with(row{"job_id": "parent-job"})); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		row  row
		want string
	}{
		{"Running", baseEvent.with(row{"finished_at_ms": nil, "exit_code": nil}), ""},
		{"CutShort", baseEvent.with(row{"exit_code": nil}), ""},
		{"ExitWithoutFinish", baseEvent.with(row{"finished_at_ms": nil}), "sh_events_exit_finished"},
		{"FinishedBeforeStarted", baseEvent.with(row{"finished_at_ms": 1099, "exit_code": nil}), "sh_events_finished_after_started"},
		{"NoStart", baseEvent.with(row{"started_at_ms": nil}), "NOT NULL constraint failed: sh_events.started_at_ms"},
		{"TextExit", baseEvent.with(row{"exit_code": "zero"}), "cannot store TEXT value in INTEGER column"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := rawInsert(t, s, "sh_events", tt.row.with(row{"seq": i + 1}))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("valid row rejected: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// A database made by the schema before sh calls were recorded at their
// start is upgraded in place: every row kept, the views working, the
// version bumped.
func TestStore_UpgradeShEventsNullable(t *testing.T) {
	ctx := t.Context()
	const before = 3 // the last version with NOT NULL finish and exit
	s := upgradeFrom(t, before,
		`INSERT INTO runs (id, repo, ref_name, sha, trigger, pushed_at_ms, state, queued_at_ms, started_at_ms, finished_at_ms)
			VALUES ('run-1', 'foo.git', 'refs/heads/main', 'abc', 'push', 1000, 'complete', 1000, 1100, 2000)`,
		`INSERT INTO jobs (run_id, job_id, state, exit_code, started_at_ms, finished_at_ms)
			VALUES ('run-1', 'build', 'failed', 2, 1100, 1900)`,
		`INSERT INTO sh_events (run_id, job_id, seq, started_at_ms, finished_at_ms, exit_code, cmd, stdout_bytes, stderr_bytes)
			VALUES ('run-1', 'build', 1, 1200, 1300, 0, 'make', 10, 1),
			       ('run-1', 'build', 2, 1300, 1800, 2, 'make test', 20, 400)`,
	)
	got, err := s.ListShEvents(ctx, "run-1")
	if err != nil {
		t.Fatal(err)
	}
	want := []ShEvent{
		{RunID: "run-1", JobID: "build", Seq: 1, StartedAtMS: 1200, FinishedAtMS: 1300, Cmd: "make", StdoutBytes: 10, StderrBytes: 1},
		{RunID: "run-1", JobID: "build", Seq: 2, StartedAtMS: 1300, FinishedAtMS: 1800, ExitCode: 2, Cmd: "make test", StdoutBytes: 20, StderrBytes: 400},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows after the upgrade:\ngot  %+v\nwant %+v", got, want)
	}
	summary := queryRows(t, s, "SELECT sh_calls, sh_failed, stdout_bytes, stderr_bytes FROM job_summary")
	if w := (map[string]string{"sh_calls": "2", "sh_failed": "1", "stdout_bytes": "30", "stderr_bytes": "401"}); !reflect.DeepEqual(summary, []map[string]string{w}) {
		t.Errorf("job_summary = %v, want %v", summary, w)
	}
	if got := queryRows(t, s, "SELECT sh_calls FROM run_summary")[0]["sh_calls"]; got != "2" {
		t.Errorf("run_summary.sh_calls = %s, want 2", got)
	}
	if err := s.StartShEvent(ctx, ShEvent{RunID: "run-1", JobID: "build", Seq: 3, StartedAtMS: 1850, Cmd: "sleep"}); err != nil {
		t.Errorf("a running call after the upgrade: %v", err)
	}
	if err := rawExec(t, s, "UPDATE sh_events SET finished_at_ms = 1000 WHERE seq = 1"); err == nil ||
		!strings.Contains(err.Error(), "sh_events_finished_after_started") {
		t.Errorf("got %v, want the finish-after-start check kept", err)
	}
	if err := rawExec(t, s, "DELETE FROM runs"); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "sh_events"); n != 0 {
		t.Errorf("deleting the run left %d sh_events: the cascade is lost", n)
	}
	if rows := queryRows(t, s, "PRAGMA foreign_key_check"); len(rows) != 0 {
		t.Errorf("foreign_key_check: %v", rows)
	}
	if rows := queryRows(t, s, "PRAGMA integrity_check"); rows[0]["integrity_check"] != "ok" {
		t.Errorf("integrity_check: %v", rows)
	}
}
