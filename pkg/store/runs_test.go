package store

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestStore_CreateRun(t *testing.T) {
	t.Run("RoundTrip", func(t *testing.T) {
		s := openTest(t)
		want := newRun("run-1", 1000)
		want.PushedAtMS = 990
		mustCreateRun(t, s, want)
		got, err := s.GetRun(t.Context(), "run-1")
		if err != nil {
			t.Fatalf("GetRun: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("got %+v, want %+v", got, want)
		}
		// Empty strings and zero times are stored as NULL.
		rows := queryRows(t, s, "SELECT started_at_ms, failure_kind, error, container_id, workspace_path FROM runs")
		for col, v := range rows[0] {
			if v != "NULL" {
				t.Errorf("column %s: got %q, want NULL", col, v)
			}
		}
	})

	t.Run("Duplicate", func(t *testing.T) {
		s := openTest(t)
		mustCreateRun(t, s, newRun("run-1", 1000))
		err := s.CreateRun(t.Context(), newRun("run-1", 2000))
		if err == nil || !strings.Contains(err.Error(), "create run run-1") {
			t.Fatalf("got %v, want an error naming run-1", err)
		}
	})

	t.Run("BadTrigger", func(t *testing.T) {
		s := openTest(t)
		r := newRun("run-1", 1000)
		r.Trigger = "cron"
		err := s.CreateRun(t.Context(), r)
		if err == nil || !strings.Contains(err.Error(), "runs_trigger") {
			t.Fatalf("got %v, want a runs_trigger violation", err)
		}
	})
}

func TestStore_StartRun(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	mustCreateRun(t, s, newRun("run-1", 1000))

	if err := s.StartRun(ctx, "run-1", 1200, "/data/runs/run-1/workspace"); err != nil {
		t.Fatalf("StartRun: %v", err)
	}
	got, err := s.GetRun(ctx, "run-1")
	if err != nil {
		t.Fatalf("GetRun: %v", err)
	}
	if got.State != "active" || got.StartedAtMS != 1200 || got.WorkspacePath != "/data/runs/run-1/workspace" {
		t.Errorf("got state %s, started %d, workspace %q; want active, 1200, the workspace", got.State, got.StartedAtMS, got.WorkspacePath)
	}

	t.Run("Twice", func(t *testing.T) {
		err := s.StartRun(ctx, "run-1", 1300, "")
		if got, want := fmt.Sprint(err), "start run run-1: not pending (state active)"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
	t.Run("Missing", func(t *testing.T) {
		err := s.StartRun(ctx, "run-nope", 1300, "")
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "run-nope") {
			t.Errorf("got %v, want ErrNotFound naming run-nope", err)
		}
	})
	t.Run("BeforeQueued", func(t *testing.T) {
		mustCreateRun(t, s, newRun("run-2", 1000))
		err := s.StartRun(ctx, "run-2", 999, "")
		if err == nil || !strings.Contains(err.Error(), "runs_started_after_queued") {
			t.Errorf("got %v, want a runs_started_after_queued violation", err)
		}
	})
}

func TestStore_FinishRun(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)

	t.Run("Complete", func(t *testing.T) {
		mustCreateRun(t, s, newRun("run-c", 1000))
		if err := s.StartRun(ctx, "run-c", 1100, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.SetRunContainer(ctx, "run-c", "c0ffee", "quire/foo:abc"); err != nil {
			t.Fatalf("SetRunContainer: %v", err)
		}
		r, _ := s.GetRun(ctx, "run-c")
		if r.ContainerID != "c0ffee" || r.ImageTag != "quire/foo:abc" {
			t.Errorf("got container %q image %q, want c0ffee quire/foo:abc", r.ContainerID, r.ImageTag)
		}
		if err := s.FinishRun(ctx, "run-c", "complete", "", "", 1500); err != nil {
			t.Fatalf("FinishRun: %v", err)
		}
		r, _ = s.GetRun(ctx, "run-c")
		if r.State != "complete" || r.FinishedAtMS != 1500 || r.ContainerID != "" || r.ImageTag != "quire/foo:abc" {
			t.Errorf("got %+v, want complete at 1500 with no container but the image tag", r)
		}
		err := s.FinishRun(ctx, "run-c", "failed", "job", "", 1600)
		if got, want := fmt.Sprint(err), "finish run run-c as failed: not pending or active (state complete)"; got != want {
			t.Errorf("second finish: got %q, want %q", got, want)
		}
	})

	t.Run("FailedBeforeStart", func(t *testing.T) {
		mustCreateRun(t, s, newRun("run-f", 1000))
		if err := s.FinishRun(ctx, "run-f", "failed", "workspace", "no such commit", 1050); err != nil {
			t.Fatalf("FinishRun: %v", err)
		}
		r, _ := s.GetRun(ctx, "run-f")
		if r.State != "failed" || r.FailureKind != "workspace" || r.Error != "no such commit" || r.StartedAtMS != 0 {
			t.Errorf("got %+v, want failed/workspace with no start", r)
		}
	})

	t.Run("CompleteBeforeStart", func(t *testing.T) {
		mustCreateRun(t, s, newRun("run-p", 1000))
		err := s.FinishRun(ctx, "run-p", "complete", "", "", 1050)
		if err == nil || !strings.Contains(err.Error(), "runs_complete_stamps") {
			t.Errorf("got %v, want a runs_complete_stamps violation", err)
		}
	})

	t.Run("BadState", func(t *testing.T) {
		mustCreateRun(t, s, newRun("run-b", 1000))
		err := s.FinishRun(ctx, "run-b", "pending", "", "", 1050)
		if err == nil || !strings.Contains(err.Error(), `"pending" is not a final run state`) {
			t.Errorf("got %v, want a bad state error", err)
		}
	})

	t.Run("BadFailureKind", func(t *testing.T) {
		mustCreateRun(t, s, newRun("run-k", 1000))
		err := s.FinishRun(ctx, "run-k", "failed", "oops", "", 1050)
		if err == nil || !strings.Contains(err.Error(), "runs_failure_kind") {
			t.Errorf("got %v, want a runs_failure_kind violation", err)
		}
	})

	t.Run("Missing", func(t *testing.T) {
		err := s.FinishRun(ctx, "run-nope", "failed", "", "", 1050)
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})

	t.Run("ContainerOnPending", func(t *testing.T) {
		mustCreateRun(t, s, newRun("run-x", 1000))
		err := s.SetRunContainer(ctx, "run-x", "c0ffee", "")
		if got, want := fmt.Sprint(err), "set container of run run-x: not active (state pending)"; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	})
}

func TestStore_AbortRun(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	mustCreateRun(t, s, newRun("run-1", 1000))
	if err := s.StartRun(ctx, "run-1", 1000, ""); err != nil {
		t.Fatal(err)
	}
	for _, j := range []string{"a", "b"} {
		if err := s.StartJob(ctx, "run-1", j, 1100); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FinishJob(ctx, "run-1", "a", "complete", intPtr(0), "", "", 1200); err != nil {
		t.Fatal(err)
	}

	n, err := s.AbortRun(ctx, "run-1", "failed", "orphaned", "owner pid 4242 is gone", 5000)
	if err != nil {
		t.Fatalf("AbortRun: %v", err)
	}
	if n != 1 {
		t.Errorf("got %d jobs aborted, want 1", n)
	}
	r, _ := s.GetRun(ctx, "run-1")
	if r.State != "failed" || r.FailureKind != "orphaned" || r.FinishedAtMS != 5000 {
		t.Errorf("got %+v, want failed/orphaned at 5000", r)
	}
	jobs, _ := s.ListJobs(ctx, "run-1")
	if got := jobs[0].State + "," + jobs[1].State; got != "complete,aborted" {
		t.Errorf("got job states %s, want complete,aborted", got)
	}

	t.Run("RollsBack", func(t *testing.T) {
		// The run is already failed: nothing changes, jobs included.
		mustCreateRun(t, s, newRun("run-2", 1000))
		if err := s.StartRun(ctx, "run-2", 1000, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.StartJob(ctx, "run-2", "a", 1100); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AbortRun(ctx, "run-2", "complete", "", "", 900); err == nil {
			t.Fatal("AbortRun finishing before the start succeeded")
		}
		jobs, _ := s.ListJobs(ctx, "run-2")
		if got := jobs[0].State; got != "active" {
			t.Errorf("got job state %s after a failed AbortRun, want active", got)
		}
	})
}

func TestStore_GetRun(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	ids := []string{
		"01900000-aaaa-7000-8000-000000000001",
		"01900000-bbbb-7000-8000-000000000002",
		"01900000-bbbb-7000-8000-000000000003",
		"0191",
		"01910",
	}
	for i, id := range ids {
		mustCreateRun(t, s, newRun(id, int64(1000+i)))
	}
	for i := range 7 {
		mustCreateRun(t, s, newRun(fmt.Sprintf("ffff-%d", i), 1000))
	}

	tests := []struct {
		name    string
		arg     string
		want    string // the run id found
		wantIs  error
		wantMsg string
	}{
		{name: "Exact", arg: ids[1], want: ids[1]},
		{name: "UniquePrefix", arg: "01900000-a", want: ids[0]},
		{name: "ExactBeatsPrefix", arg: "0191", want: "0191"},
		{name: "Ambiguous", arg: "01900000-bbbb", wantIs: ErrAmbiguous,
			wantMsg: "get run 01900000-bbbb: ambiguous run id prefix, matches " + ids[1] + ", " + ids[2]},
		{name: "ManyCandidates", arg: "ffff", wantIs: ErrAmbiguous,
			wantMsg: "matches ffff-0, ffff-1, ffff-2, ffff-3, ffff-4, ..."},
		{name: "TooShort", arg: "019", wantIs: ErrNotFound, wantMsg: "at least 4 characters"},
		{name: "Missing", arg: "0192", wantIs: ErrNotFound, wantMsg: "get run 0192: not found"},
		{name: "Empty", arg: "", wantIs: ErrNotFound},
		{name: "LikeWildcards", arg: "0190%", wantIs: ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.GetRun(ctx, tt.arg)
			if tt.wantIs != nil {
				if !errors.Is(err, tt.wantIs) {
					t.Fatalf("got %v, want %v", err, tt.wantIs)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("got %q, want it to contain %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetRun: %v", err)
			}
			if got.ID != tt.want {
				t.Errorf("got %s, want %s", got.ID, tt.want)
			}
		})
	}
}

func TestStore_ListRuns(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	for _, r := range []struct {
		id, repo, ref string
		queued        int64
	}{
		{"r1", "a.git", "refs/heads/main", 1000},
		{"r2", "a.git", "refs/heads/dev", 2000},
		{"r3", "b.git", "refs/heads/main", 3000},
		{"r4", "a.git", "refs/heads/main", 3000},
	} {
		run := newRun(r.id, r.queued)
		run.Repo, run.Ref = r.repo, r.ref
		mustCreateRun(t, s, run)
	}
	if err := s.StartRun(ctx, "r1", 1000, ""); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		filter RunFilter
		want   string
	}{
		{"All", RunFilter{}, "r4 r3 r2 r1"},
		{"Repo", RunFilter{Repo: "a.git"}, "r4 r2 r1"},
		{"RepoRef", RunFilter{Repo: "a.git", Ref: "refs/heads/main"}, "r4 r1"},
		{"State", RunFilter{State: "active"}, "r1"},
		{"Limit", RunFilter{Limit: 2}, "r4 r3"},
		{"None", RunFilter{Repo: "c.git"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runs, err := s.ListRuns(ctx, tt.filter)
			if err != nil {
				t.Fatalf("ListRuns: %v", err)
			}
			var ids []string
			for _, r := range runs {
				ids = append(ids, r.ID)
			}
			if got := strings.Join(ids, " "); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStore_DeleteRun(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	mustCreateRun(t, s, newRun("run-1", 1000))
	mustCreateRun(t, s, newRun("run-2", 1000))
	for _, id := range []string{"run-1", "run-2"} {
		if err := s.StartRun(ctx, id, 1000, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.StartJob(ctx, id, "build", 1000); err != nil {
			t.Fatal(err)
		}
		for seq := 1; seq <= 2; seq++ {
			if err := s.AddShEvent(ctx, ShEvent{RunID: id, JobID: "build", Seq: seq, StartedAtMS: 1000, FinishedAtMS: 1000, Cmd: "true"}); err != nil {
				t.Fatal(err)
			}
		}
	}

	if err := s.DeleteRun(ctx, "run-1"); err != nil {
		t.Fatalf("DeleteRun: %v", err)
	}
	for table, want := range map[string]int{"runs": 1, "jobs": 1, "sh_events": 2} {
		if got := count(t, s, table); got != want {
			t.Errorf("%s: got %d rows, want %d", table, got, want)
		}
	}
	if rows := queryRows(t, s, "SELECT DISTINCT run_id FROM sh_events"); len(rows) != 1 || rows[0]["run_id"] != "run-2" {
		t.Errorf("got sh_events of %v, want only run-2", rows)
	}
	if err := s.DeleteRun(ctx, "run-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteRun: got %v, want ErrNotFound", err)
	}
}
