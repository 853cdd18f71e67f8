package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// endedAsync makes an async run of repo that ended in state at atMS, with
// a failed job when it failed.
func endedAsync(t *testing.T, s *Store, id, repo string, state RunState, atMS int64) {
	t.Helper()
	ctx := context.Background()
	r := newRun(id, atMS-100)
	r.Repo = repo
	mustCreateRun(t, s, r)
	if err := s.MarkAsync(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := s.StartRun(ctx, id, atMS-50, ""); err != nil {
		t.Fatal(err)
	}
	kind := FailureKind("")
	if state == RunFailed {
		kind = FailJob
		if err := s.StartJob(ctx, id, "test", atMS-40); err != nil {
			t.Fatal(err)
		}
		if err := s.FinishJob(ctx, id, "test", JobFailed, intPtr(1), "", "", atMS-10); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.FinishRun(ctx, id, state, kind, "", atMS); err != nil {
		t.Fatal(err)
	}
}

// report calls ReportOutcomes and returns the run ids it printed and
// how many it left out.
func report(t *testing.T, s *Store, repo string, limit int) (ids []string, failed [][]string, more int) {
	t.Helper()
	more = -1
	err := s.ReportOutcomes(context.Background(), repo, limit, 9_000, func(os []Outcome, n int) error {
		for _, o := range os {
			ids = append(ids, o.Run.ID)
			failed = append(failed, o.FailedJobs)
		}
		more = n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, failed, more
}

func TestReportOutcomes(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	endedAsync(t, s, "run-b", "foo.git", RunFailed, 2000)
	endedAsync(t, s, "run-a", "foo.git", RunComplete, 1000)
	endedAsync(t, s, "run-other", "bar.git", RunFailed, 1500)
	// A run that was not async, and an async one still pending: neither
	// is printed.
	mustCreateRun(t, s, newRun("run-sync", 500))
	if err := s.FinishRun(ctx, "run-sync", RunFailed, FailPipeline, "bad", 600); err != nil {
		t.Fatal(err)
	}
	mustCreateRun(t, s, newRun("run-pending", 700))
	if err := s.MarkAsync(ctx, "run-pending"); err != nil {
		t.Fatal(err)
	}

	ids, failed, more := report(t, s, "foo.git", 10)
	if want := []string{"run-a", "run-b"}; !slices.Equal(ids, want) || more != 0 {
		t.Fatalf("first report: %v (and %d more), want %v, oldest first", ids, more, want)
	}
	if len(failed[0]) != 0 || !slices.Equal(failed[1], []string{"test"}) {
		t.Errorf("failed jobs: %v", failed)
	}
	if ids, _, more := report(t, s, "foo.git", 10); ids != nil || more != -1 {
		t.Errorf("second report printed %v (%d more); print should not be called", ids, more)
	}
	if got := queryRows(t, s, "SELECT reported_at_ms FROM runs WHERE id = 'run-b'")[0]["reported_at_ms"]; got != "9000" {
		t.Errorf("reported_at_ms = %s, want 9000", got)
	}

	// The pending run ends: the next report has it, and only it.
	if err := s.FinishRun(ctx, "run-pending", RunSuperseded, FailCanceled, "superseded", 3000); err != nil {
		t.Fatal(err)
	}
	if ids, _, _ := report(t, s, "foo.git", 10); !slices.Equal(ids, []string{"run-pending"}) {
		t.Errorf("after the pending run ended: %v", ids)
	}
	if ids, _, _ := report(t, s, "bar.git", 10); !slices.Equal(ids, []string{"run-other"}) {
		t.Errorf("bar.git: %v", ids)
	}
}

func TestReportOutcomes_Limit(t *testing.T) {
	s := openTest(t)
	for i := range 13 {
		endedAsync(t, s, fmt.Sprintf("run-%02d", i), "foo.git", RunComplete, int64(1000+i*10))
	}
	ids, _, more := report(t, s, "foo.git", 10)
	want := []string{"run-03", "run-04", "run-05", "run-06", "run-07", "run-08", "run-09", "run-10", "run-11", "run-12"}
	if !slices.Equal(ids, want) || more != 3 {
		t.Errorf("got %v and %d more, want the 10 newest oldest first and 3 more", ids, more)
	}
	// Those left out count as printed: "and 3 more" named them.
	if ids, _, _ := report(t, s, "foo.git", 10); ids != nil {
		t.Errorf("second report: %v", ids)
	}
}

func TestReportOutcomes_PrintFails(t *testing.T) {
	s := openTest(t)
	endedAsync(t, s, "run-a", "foo.git", RunFailed, 1000)
	boom := errors.New("pipe closed")
	err := s.ReportOutcomes(context.Background(), "foo.git", 10, 9000, func([]Outcome, int) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the print error", err)
	}
	// Not marked: the next push prints it.
	if ids, _, _ := report(t, s, "foo.git", 10); !slices.Equal(ids, []string{"run-a"}) {
		t.Errorf("after a failed print: %v", ids)
	}
}

func TestReportOutcomes_Concurrent(t *testing.T) {
	// Two stores on one file are two hooks: each outcome goes to one.
	s := openTest(t)
	for i := range 5 {
		endedAsync(t, s, fmt.Sprintf("run-%d", i), "foo.git", RunComplete, int64(1000+i))
	}
	other, err := Open(context.Background(), s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	got := make(chan []string, 2)
	for _, st := range []*Store{s, other} {
		go func() {
			var ids []string
			err := st.ReportOutcomes(context.Background(), "foo.git", 10, 9000, func(os []Outcome, _ int) error {
				for _, o := range os {
					ids = append(ids, o.Run.ID)
				}
				return nil
			})
			if err != nil {
				ids = append(ids, err.Error())
			}
			got <- ids
		}()
	}
	all := append(<-got, <-got...)
	slices.Sort(all)
	if want := []string{"run-0", "run-1", "run-2", "run-3", "run-4"}; !slices.Equal(all, want) {
		t.Errorf("the two reports printed %v together, want each run once: %v", all, want)
	}
}

func TestMarkAsync_NoRun(t *testing.T) {
	if err := openTest(t).MarkAsync(context.Background(), "nope"); err == nil {
		t.Error("MarkAsync of a missing run: no error")
	}
}

func TestUpgrade_RunsReported(t *testing.T) {
	// A version 7 database (0008, notifications, comes from another
	// branch) with an ended run, which may have been async: after the
	// upgrade it is not, so the next push does not print it.
	s := upgradeFrom(t, 7,
		`INSERT INTO runs (id, repo, ref_name, sha, trigger, pushed_at_ms, state, failure_kind, error,
			queued_at_ms, started_at_ms, finished_at_ms, owner_pid, owner_host)
			VALUES ('run-1', 'foo.git', 'refs/heads/main', 'abc', 'push', 1000, 'failed', 'job', 'test failed',
			1000, 1100, 2000, 42, 'h')`,
		`INSERT INTO runs (id, repo, ref_name, sha, trigger, pushed_at_ms, state, queued_at_ms, owner_pid, owner_host)
			VALUES ('run-2', 'foo.git', 'refs/heads/main', 'def', 'push', 3000, 'pending', 3000, 43, 'h')`,
	)
	rows := queryRows(t, s, "SELECT id, async, reported_at_ms FROM runs ORDER BY id")
	for _, r := range rows {
		if r["async"] != "0" || r["reported_at_ms"] != "NULL" {
			t.Errorf("%s after the upgrade: async %s reported_at_ms %s, want 0 and NULL", r["id"], r["async"], r["reported_at_ms"])
		}
	}
	if ids, _, _ := report(t, s, "foo.git", 10); ids != nil {
		t.Errorf("the first report after the upgrade printed %v", ids)
	}
	// New async runs are reported as usual.
	endedAsync(t, s, "run-3", "foo.git", RunComplete, 5000)
	if ids, _, _ := report(t, s, "foo.git", 10); !slices.Equal(ids, []string{"run-3"}) {
		t.Errorf("after the upgrade: %v", ids)
	}
	// The schema refuses a printed run that is not async or has not
	// ended.
	for _, q := range []string{
		"UPDATE runs SET reported_at_ms = 1 WHERE id = 'run-1'",
		"UPDATE runs SET async = 1, reported_at_ms = 1 WHERE id = 'run-2'",
		"UPDATE runs SET async = 2 WHERE id = 'run-2'",
	} {
		if err := rawExec(t, s, q); err == nil {
			t.Errorf("%s: no error", q)
		}
	}
}
