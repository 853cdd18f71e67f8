package store

import (
	"reflect"
	"testing"
)

// viewFixture records one failed run with a job in every final state and
// one pending run with no jobs.
func viewFixture(t *testing.T) *Store {
	t.Helper()
	ctx := t.Context()
	s := openTest(t)
	run := newRun("run-1", 1000)
	run.Error = "job test failed"
	mustCreateRun(t, s, run)
	mustCreateRun(t, s, newRun("run-2", 9000))

	steps := []func() error{
		func() error { return s.StartRun(ctx, "run-1", 1500, "") },
		func() error { return s.StartJob(ctx, "run-1", "build", 1600) },
		func() error {
			return s.AddShEvent(ctx, ShEvent{RunID: "run-1", JobID: "build", Seq: 1, StartedAtMS: 1600, FinishedAtMS: 1700, Cmd: "make", StdoutBytes: 10, StderrBytes: 1})
		},
		func() error {
			return s.AddShEvent(ctx, ShEvent{RunID: "run-1", JobID: "build", Seq: 2, StartedAtMS: 1700, FinishedAtMS: 2500, Cmd: "make install", StdoutBytes: 20})
		},
		func() error { return s.FinishJob(ctx, "run-1", "build", "complete", intPtr(0), "", "", 2600) },
		func() error { return s.StartJob(ctx, "run-1", "test", 2700) },
		func() error {
			return s.AddShEvent(ctx, ShEvent{RunID: "run-1", JobID: "test", Seq: 1, StartedAtMS: 2700, FinishedAtMS: 3800, ExitCode: 2, Cmd: "go test", StderrBytes: 400})
		},
		func() error { return s.FinishJob(ctx, "run-1", "test", "failed", intPtr(2), "sh exited 2", "", 3900) },
		func() error { return s.SkipJob(ctx, "run-1", "deploy", "input test failed", 3950) },
		func() error { return s.StartJob(ctx, "run-1", "lint", 2700) },
		func() error {
			return rawExec(t, s, `UPDATE jobs SET state = 'aborted', finished_at_ms = 3960 WHERE run_id = 'run-1' AND job_id = 'lint'`)
		},
		func() error { return s.FinishRun(ctx, "run-1", "failed", "job", "job test failed", 4000) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("fixture step %d: %v", i, err)
		}
	}
	return s
}

func TestSchema_RunSummary(t *testing.T) {
	s := viewFixture(t)
	got := queryRows(t, s, "SELECT * FROM run_summary ORDER BY id")
	want := []map[string]string{
		{
			"id": "run-1", "repo": "foo.git", "ref_name": "refs/heads/main", "short_sha": "0123456",
			"trigger": "push", "state": "failed", "failure_kind": "job", "error": "job test failed",
			"queued_at":   "1970-01-01T00:00:01.000Z",
			"started_at":  "1970-01-01T00:00:01.500Z",
			"finished_at": "1970-01-01T00:00:04.000Z",
			"wait_ms":     "500", "duration_ms": "2500",
			"jobs_total": "4", "jobs_complete": "1", "jobs_failed": "1", "jobs_skipped": "1", "jobs_aborted": "1",
			"sh_calls": "3",
		},
		{
			"id": "run-2", "repo": "foo.git", "ref_name": "refs/heads/main", "short_sha": "0123456",
			"trigger": "push", "state": "pending", "failure_kind": "NULL", "error": "NULL",
			"queued_at":  "1970-01-01T00:00:09.000Z",
			"started_at": "NULL", "finished_at": "NULL",
			"wait_ms": "NULL", "duration_ms": "NULL",
			"jobs_total": "0", "jobs_complete": "0", "jobs_failed": "0", "jobs_skipped": "0", "jobs_aborted": "0",
			"sh_calls": "0",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

func TestSchema_JobSummary(t *testing.T) {
	s := viewFixture(t)
	got := queryRows(t, s, "SELECT * FROM job_summary WHERE run_id = 'run-1' ORDER BY started_at, job_id")
	want := []map[string]string{
		{
			"run_id": "run-1", "job_id": "deploy", "state": "skipped", "exit_code": "NULL",
			"started_at": "NULL", "finished_at": "1970-01-01T00:00:03.950Z", "duration_ms": "NULL",
			"sh_calls": "0", "sh_failed": "0", "stdout_bytes": "0", "stderr_bytes": "0", "error": "input test failed",
		},
		{
			"run_id": "run-1", "job_id": "build", "state": "complete", "exit_code": "0",
			"started_at": "1970-01-01T00:00:01.600Z", "finished_at": "1970-01-01T00:00:02.600Z", "duration_ms": "1000",
			"sh_calls": "2", "sh_failed": "0", "stdout_bytes": "30", "stderr_bytes": "1", "error": "NULL",
		},
		{
			"run_id": "run-1", "job_id": "lint", "state": "aborted", "exit_code": "NULL",
			"started_at": "1970-01-01T00:00:02.700Z", "finished_at": "1970-01-01T00:00:03.960Z", "duration_ms": "1260",
			"sh_calls": "0", "sh_failed": "0", "stdout_bytes": "0", "stderr_bytes": "0", "error": "NULL",
		},
		{
			"run_id": "run-1", "job_id": "test", "state": "failed", "exit_code": "2",
			"started_at": "1970-01-01T00:00:02.700Z", "finished_at": "1970-01-01T00:00:03.900Z", "duration_ms": "1200",
			"sh_calls": "1", "sh_failed": "1", "stdout_bytes": "0", "stderr_bytes": "400", "error": "sh exited 2",
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}
