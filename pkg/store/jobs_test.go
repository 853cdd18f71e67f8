package store

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// activeRun creates run-1 and starts it.
func activeRun(t *testing.T) *Store {
	t.Helper()
	s := openTest(t)
	mustCreateRun(t, s, newRun("run-1", 1000))
	if err := s.StartRun(t.Context(), "run-1", 1000, ""); err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	return s
}

func TestStore_FinishJob(t *testing.T) {
	ctx := t.Context()
	s := activeRun(t)
	if err := s.StartJob(ctx, "run-1", "build", 1100); err != nil {
		t.Fatalf("StartJob: %v", err)
	}
	if err := s.StartJob(ctx, "run-1", "test", 1200); err != nil {
		t.Fatalf("StartJob: %v", err)
	}
	if err := s.SkipJob(ctx, "run-1", "deploy", "input test failed", 1300); err != nil {
		t.Fatalf("SkipJob: %v", err)
	}
	if err := s.FinishJob(ctx, "run-1", "build", "complete", intPtr(0), "", `{"version":"1.2"}`, 1150); err != nil {
		t.Fatalf("FinishJob: %v", err)
	}
	if err := s.FinishJob(ctx, "run-1", "test", "failed", nil, "sh exited 2", "", 1250); err != nil {
		t.Fatalf("FinishJob: %v", err)
	}

	got, err := s.ListJobs(ctx, "run-1")
	if err != nil {
		t.Fatalf("ListJobs: %v", err)
	}
	want := []Job{
		{RunID: "run-1", JobID: "build", State: "complete", ExitCode: intPtr(0), StartedAtMS: 1100, FinishedAtMS: 1150, Outputs: `{"version":"1.2"}`},
		{RunID: "run-1", JobID: "test", State: "failed", StartedAtMS: 1200, FinishedAtMS: 1250, Error: "sh exited 2"},
		{RunID: "run-1", JobID: "deploy", State: "skipped", FinishedAtMS: 1300, Error: "input test failed"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	t.Run("Twice", func(t *testing.T) {
		err := s.FinishJob(ctx, "run-1", "build", "failed", nil, "", "", 1400)
		if got, want := fmt.Sprint(err), "finish job build of run run-1 as failed: not active (state complete)"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		err := s.FinishJob(ctx, "run-1", "nope", "complete", nil, "", "", 1400)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})
	t.Run("BadState", func(t *testing.T) {
		if err := s.StartJob(ctx, "run-1", "lint", 1400); err != nil {
			t.Fatal(err)
		}
		err := s.FinishJob(ctx, "run-1", "lint", "skipped", nil, "", "", 1400)
		if err == nil || !strings.Contains(err.Error(), "not a final job state") {
			t.Errorf("got %v, want a bad state error", err)
		}
	})
	t.Run("BadOutputs", func(t *testing.T) {
		if err := s.StartJob(ctx, "run-1", "json", 1400); err != nil {
			t.Fatal(err)
		}
		err := s.FinishJob(ctx, "run-1", "json", "complete", nil, "", "{not json", 1400)
		if err == nil || !strings.Contains(err.Error(), "jobs_outputs_json") {
			t.Errorf("got %v, want a jobs_outputs_json violation", err)
		}
	})
	t.Run("StartTwice", func(t *testing.T) {
		err := s.StartJob(ctx, "run-1", "build", 1500)
		if err == nil || !strings.Contains(err.Error(), "start job build of run run-1") {
			t.Errorf("got %v, want an error naming the job", err)
		}
	})
	t.Run("UnknownRun", func(t *testing.T) {
		err := s.StartJob(ctx, "run-nope", "build", 1500)
		if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
			t.Errorf("got %v, want a foreign key violation", err)
		}
	})
}

// TestStore_AbortRunJobs: AbortRun aborts the run's pending and active
// jobs, and only those.
func TestStore_AbortRunJobs(t *testing.T) {
	ctx := t.Context()
	s := activeRun(t)
	for _, j := range []string{"a", "b", "c"} {
		if err := s.StartJob(ctx, "run-1", j, 1100); err != nil {
			t.Fatal(err)
		}
	}
	if err := rawInsert(t, s, "jobs", row{"run_id": "run-1", "job_id": "queued", "state": "pending"}); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishJob(ctx, "run-1", "a", "complete", intPtr(0), "", "", 1200); err != nil {
		t.Fatal(err)
	}

	n, err := s.AbortRun(ctx, "run-1", RunFailed, FailCanceled, "stop", 1300)
	if err != nil {
		t.Fatalf("AbortRun: %v", err)
	}
	if got, want := n, 3; got != want {
		t.Errorf("got %d aborted, want %d", got, want)
	}
	jobs, _ := s.ListJobs(ctx, "run-1")
	var got []string
	for _, j := range jobs {
		got = append(got, fmt.Sprintf("%s=%s@%d", j.JobID, j.State, j.FinishedAtMS))
	}
	if got, want := strings.Join(got, " "), "a=complete@1200 b=aborted@1300 c=aborted@1300 queued=aborted@1300"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestStore_AddShEvent(t *testing.T) {
	ctx := t.Context()
	s := activeRun(t)
	for _, j := range []string{"test", "build"} {
		if err := s.StartJob(ctx, "run-1", j, 1100); err != nil {
			t.Fatal(err)
		}
	}
	// Recorded out of order; two calls start in the same millisecond.
	events := []ShEvent{
		{RunID: "run-1", JobID: "build", Seq: 2, StartedAtMS: 1105, FinishedAtMS: 1105, ExitCode: 1, Cmd: "false", StderrBytes: 3},
		{RunID: "run-1", JobID: "build", Seq: 1, StartedAtMS: 1105, FinishedAtMS: 1105, Cmd: "true"},
		{RunID: "run-1", JobID: "test", Seq: 1, StartedAtMS: 1101, FinishedAtMS: 1190, Cmd: "go test ./...", StdoutBytes: 1 << 40},
	}
	for _, e := range events {
		if err := s.AddShEvent(ctx, e); err != nil {
			t.Fatalf("AddShEvent %d: %v", e.Seq, err)
		}
	}
	got, err := s.ListShEvents(ctx, "run-1")
	if err != nil {
		t.Fatalf("ListShEvents: %v", err)
	}
	// Jobs in the order they started, then seq.
	want := []ShEvent{events[2], events[1], events[0]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	t.Run("DuplicateSeq", func(t *testing.T) {
		err := s.AddShEvent(ctx, events[0])
		if err == nil || !strings.Contains(err.Error(), "add sh event 2 of job build of run run-1") {
			t.Errorf("got %v, want an error naming the event", err)
		}
	})
	t.Run("UnknownJob", func(t *testing.T) {
		e := events[0]
		e.JobID = "nope"
		err := s.AddShEvent(ctx, e)
		if err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
			t.Errorf("got %v, want a foreign key violation", err)
		}
	})
}
