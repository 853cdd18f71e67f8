package store

import (
	"reflect"
	"testing"
)

// runIDs returns the ids of runs, in order.
func runIDs(runs []Run) []string {
	ids := []string{}
	for _, r := range runs {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestStore_ListUnfinished(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	for i, id := range []string{"run-a", "run-b", "run-c", "run-d"} {
		mustCreateRun(t, s, newRun(id, int64(1000+i)))
	}
	if err := s.StartRun(ctx, "run-b", 1500, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, "run-c", "failed", "job", "boom", 1600); err != nil {
		t.Fatal(err)
	}
	runs, err := s.ListUnfinished(ctx)
	if err != nil {
		t.Fatalf("ListUnfinished: %v", err)
	}
	if got, want := runIDs(runs), []string{"run-a", "run-b", "run-d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestStore_OrphanRun(t *testing.T) {
	ctx := t.Context()
	setup := func(t *testing.T) *Store {
		s := openTest(t)
		mustCreateRun(t, s, newRun("run-1", 1000))
		if err := s.StartRun(ctx, "run-1", 1100, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.StartJob(ctx, "run-1", "done", 1200); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishJob(ctx, "run-1", "done", "complete", nil, "", "", 1300); err != nil {
			t.Fatal(err)
		}
		if err := s.StartJob(ctx, "run-1", "busy", 1400); err != nil {
			t.Fatal(err)
		}
		return s
	}

	t.Run("Active", func(t *testing.T) {
		s := setup(t)
		aborted, ok, err := s.OrphanRun(ctx, "run-1", 4242, "ci-host", "owner gone", 2000)
		if err != nil || !ok || aborted != 1 {
			t.Fatalf("got (%d, %v, %v), want (1, true, nil)", aborted, ok, err)
		}
		run, err := s.GetRun(ctx, "run-1")
		if err != nil {
			t.Fatal(err)
		}
		if run.State != "failed" || run.FailureKind != "orphaned" || run.Error != "owner gone" || run.FinishedAtMS != 2000 {
			t.Errorf("run: %+v", run)
		}
		jobs, err := s.ListJobs(ctx, "run-1")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]JobState{}
		for _, j := range jobs {
			got[j.JobID] = j.State
		}
		if want := map[string]JobState{"done": "complete", "busy": "aborted"}; !reflect.DeepEqual(got, want) {
			t.Errorf("jobs: got %v, want %v", got, want)
		}
	})

	t.Run("Pending", func(t *testing.T) {
		s := openTest(t)
		mustCreateRun(t, s, newRun("run-1", 1000))
		// A clock that went backwards still leaves a valid row.
		if _, ok, err := s.OrphanRun(ctx, "run-1", 4242, "ci-host", "gone", 500); err != nil || !ok {
			t.Fatalf("got (%v, %v), want (true, nil)", ok, err)
		}
		run, _ := s.GetRun(ctx, "run-1")
		if run.State != "failed" || run.StartedAtMS != 0 || run.FinishedAtMS != 1000 {
			t.Errorf("run: %+v", run)
		}
	})

	t.Run("OtherOwner", func(t *testing.T) {
		s := setup(t)
		for _, owner := range []struct {
			pid  int
			host string
		}{{4243, "ci-host"}, {4242, "other-host"}} {
			if _, ok, err := s.OrphanRun(ctx, "run-1", owner.pid, owner.host, "gone", 2000); err != nil || ok {
				t.Errorf("owner %v: got (%v, %v), want (false, nil)", owner, ok, err)
			}
		}
		if run, _ := s.GetRun(ctx, "run-1"); run.State != "active" {
			t.Errorf("state %s, want active", run.State)
		}
	})

	t.Run("Finished", func(t *testing.T) {
		s := setup(t)
		if _, err := s.AbortRun(ctx, "run-1", "failed", "canceled", "stop", 1500); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := s.OrphanRun(ctx, "run-1", 4242, "ci-host", "gone", 2000); err != nil || ok {
			t.Errorf("got (%v, %v), want (false, nil)", ok, err)
		}
		if run, _ := s.GetRun(ctx, "run-1"); run.FailureKind != "canceled" {
			t.Errorf("failure kind %s, want canceled", run.FailureKind)
		}
	})
}

func TestStore_ListExpired(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	// foo.git: f1 < f2 < f3 (active) < f4; bar.git: b1 < b2.
	add := func(id, repo string, queued int64, finish bool) {
		r := newRun(id, queued)
		r.Repo = repo
		mustCreateRun(t, s, r)
		if err := s.StartRun(ctx, id, queued+1, ""); err != nil {
			t.Fatal(err)
		}
		if finish {
			if err := s.FinishRun(ctx, id, "complete", "", "", queued+10); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("f1", "foo.git", 1000, true)
	add("b1", "bar.git", 1500, true)
	add("f2", "foo.git", 2000, true)
	add("f3", "foo.git", 3000, false)
	add("b2", "bar.git", 3500, true)
	add("f4", "foo.git", 4000, true)

	cases := []struct {
		name string
		f    ExpireFilter
		want []string
	}{
		{"All", ExpireFilter{}, []string{"f1", "b1", "f2", "b2", "f4"}},
		{"KeepPerRepo", ExpireFilter{Keep: 1}, []string{"f1", "b1", "f2"}},
		{"KeepCountsActive", ExpireFilter{Keep: 2}, []string{"f1", "f2"}},
		{"Repo", ExpireFilter{Repo: "bar.git", Keep: 1}, []string{"b1"}},
		{"FinishedBefore", ExpireFilter{FinishedBeforeMS: 2010}, []string{"f1", "b1"}},
		{"Both", ExpireFilter{Keep: 1, FinishedBeforeMS: 1600}, []string{"f1", "b1"}},
		{"KeepAll", ExpireFilter{Keep: 10}, []string{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runs, err := s.ListExpired(ctx, c.f)
			if err != nil {
				t.Fatalf("ListExpired: %v", err)
			}
			if got := runIDs(runs); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func TestStore_RunStates(t *testing.T) {
	ctx := t.Context()
	s := openTest(t)
	mustCreateRun(t, s, newRun("run-1", 1000))
	mustCreateRun(t, s, newRun("run-2", 1001))
	if err := s.FinishRun(ctx, "run-2", "superseded", "", "", 1100); err != nil {
		t.Fatal(err)
	}
	got, err := s.RunStates(ctx)
	if err != nil {
		t.Fatalf("RunStates: %v", err)
	}
	if want := map[string]string{"run-1": "pending", "run-2": "superseded"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
