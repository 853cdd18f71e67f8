package runner

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// queued is one run started in the background by startRuns.
type queued struct {
	res      Result
	err      error
	progress *bytes.Buffer
}

// enqueue records a run of the pushed head for spec and returns a
// function that executes it in the background.
func (h *harness) enqueue(sha string, spec pushSpec) (Result, func(wg *sync.WaitGroup, q *queued)) {
	h.t.Helper()
	r, push, src, progress := h.prepare(sha, spec)
	res, err := r.Enqueue(h.t.Context(), push)
	if err != nil {
		h.t.Fatal(err)
	}
	return res, func(wg *sync.WaitGroup, q *queued) {
		defer wg.Done()
		q.res, q.err = r.Execute(h.t.Context(), res, push, src)
		q.progress = progress
	}
}

// waitActive waits until the run's row is active.
func (h *harness) waitActive(id string) {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		run, err := h.store.GetRun(h.t.Context(), id)
		if err == nil && run.State == "active" {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("run %s never became active (%s)", id, run.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRunner_Queue(t *testing.T) {
	t.Parallel()
	t.Run("OneAtATime", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, `ci.job("slow", {"quire/push"}, function(q) q.sh("sleep 0.3") end)`)
		sha := h.commit("one")
		h.repo.Push("--quiet", "origin", "HEAD:refs/heads/a", "HEAD:refs/heads/b")
		first, runFirst := h.enqueue(sha, pushSpec{Ref: "refs/heads/a"})
		second, runSecond := h.enqueue(sha, pushSpec{Ref: "refs/heads/b"})
		var wg sync.WaitGroup
		var q1, q2 queued
		wg.Add(1)
		go runFirst(&wg, &q1)
		h.waitActive(first.RunID)
		wg.Add(1)
		go runSecond(&wg, &q2)
		wg.Wait()
		if q1.err != nil || q2.err != nil || q1.res.State != "complete" || q2.res.State != "complete" {
			t.Fatalf("runs: %+v %v / %+v %v", q1.res, q1.err, q2.res, q2.err)
		}
		r1, _ := h.store.GetRun(t.Context(), first.RunID)
		r2, _ := h.store.GetRun(t.Context(), second.RunID)
		if r2.StartedAtMS < r1.FinishedAtMS {
			t.Errorf("second started at %d, before the first finished at %d", r2.StartedAtMS, r1.FinishedAtMS)
		}
		if got := q2.progress.String(); !strings.Contains(got, "is waiting for run "+first.RunID) {
			t.Errorf("waiting run does not say for which run:\n%s", got)
		}
	})
	t.Run("Supersede", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, `ci.job("slow", {"quire/push"}, function(q) q.sh("sleep 20") end)
ci.job("after", {"slow"}, function(q) end)`)
		sha := h.commit("one")
		h.repo.Push("--quiet", "origin", "HEAD:refs/heads/main")
		running, runRunning := h.enqueue(sha, pushSpec{})
		var wg sync.WaitGroup
		var qRunning, qWaiting queued
		wg.Add(1)
		go runRunning(&wg, &qRunning)
		h.waitActive(running.RunID)
		waiting, runWaiting := h.enqueue(sha, pushSpec{})
		wg.Add(1)
		go runWaiting(&wg, &qWaiting)
		// A third push to main: both older runs give way to it.
		newest, _ := h.enqueue(sha, pushSpec{})
		wg.Wait()

		for _, c := range []struct {
			name string
			q    queued
			id   string
		}{{"running", qRunning, running.RunID}, {"waiting", qWaiting, waiting.RunID}} {
			if c.q.err != nil || c.q.res.State != "superseded" {
				t.Errorf("%s run: %+v %v, want superseded", c.name, c.q.res, c.q.err)
			}
			run, _ := h.store.GetRun(t.Context(), c.id)
			if run.State != "superseded" || run.FailureKind != "" || run.Error != "superseded by run "+newest.RunID {
				t.Errorf("%s row: %s/%s %q", c.name, run.State, run.FailureKind, run.Error)
			}
		}
		jobs, _ := h.store.ListJobs(t.Context(), running.RunID)
		if len(jobs) != 1 || jobs[0].State != "aborted" {
			t.Errorf("jobs of the running run: %+v, want slow aborted and nothing after", jobs)
		}
		if run, _ := h.store.GetRun(t.Context(), waiting.RunID); run.StartedAtMS != 0 {
			t.Errorf("the waiting run started before it gave way: %+v", run)
		}
	})
	t.Run("ReplaysNeitherSupersedeNorAreSuperseded", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, `ci.job("slow", {"quire/push"}, function(q) q.sh("sleep 0.2") end)`)
		sha := h.commit("one")
		h.repo.Push("--quiet", "origin", "HEAD:refs/heads/main")
		var wg sync.WaitGroup
		qs := make([]queued, 4)
		triggers := []string{"replay", "replay", "push", "replay"}
		for i, trig := range triggers {
			_, run := h.enqueue(sha, pushSpec{Trigger: trig})
			wg.Add(1)
			go run(&wg, &qs[i])
		}
		wg.Wait()
		for i, q := range qs {
			if q.err != nil || q.res.State != "complete" {
				t.Errorf("run %d (%s): %+v %v, want complete", i, triggers[i], q.res, q.err)
			}
		}
	})
}
