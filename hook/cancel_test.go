package hook_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// sleeperPipeline's job writes the pid of its sleep 30 to pidFile.
func sleeperPipeline(pidFile string) string {
	return fmt.Sprintf(`local ci = require("quire.ci")
ci.job("wait", {"quire/push"}, function(q) q.sh("echo $$ > %s; exec sleep 30") end)
ci.job("after", {"wait"}, function(q) q.sh("echo after") end)`, pidFile)
}

// pushInBackground pushes args with git and returns a channel that
// receives git's output once the push (and its hook) is over.
func (r *repo) pushInBackground(args ...string) <-chan string {
	done := make(chan string, 1)
	go func() {
		out, _ := r.Push(args...)
		done <- out
	}()
	return done
}

func TestCancel(t *testing.T) {
	r := newRepo(t)
	pidFile := filepath.Join(t.TempDir(), "sleep.pid")
	r.Pipeline(sleeperPipeline(pidFile))
	r.Commit("sleepy")

	// The first push runs "sleep 30" on main; the second, to another
	// ref, waits for its turn in the data root: pending.
	first := r.pushInBackground("origin", "main")
	var active store.Run
	waitFor(t, "the sleep", func() bool {
		runs := r.runsNow()
		if len(runs) == 1 && runs[0].State == store.RunActive && len(readPids(t, pidFile)) == 1 {
			active = runs[0]
			return true
		}
		return false
	})
	sleepPid := readPids(t, pidFile)[0]
	second := r.pushInBackground("origin", "main:other")
	var pending store.Run
	waitFor(t, "the waiting run", func() bool {
		runs := r.runsNow()
		if len(runs) == 2 && runs[0].State == store.RunPending {
			pending = runs[0]
			return true
		}
		return false
	})

	t.Run("Pending", func(t *testing.T) {
		out, code := r.quire("", "--git-dir", r.Bare, "cancel", pending.ID[:13])
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		wantContains(t, out, "canceled run "+pending.ID)
		got := r.run(pending.ID)
		if got.State != store.RunFailed || got.FailureKind != store.FailCanceled || got.StartedAtMS != 0 {
			t.Errorf("run %s/%s started %d, want failed/canceled never started", got.State, got.FailureKind, got.StartedAtMS)
		}
		select {
		case out := <-second:
			wantContains(t, out, "failed (canceled)")
		case <-time.After(20 * time.Second):
			t.Fatal("the waiting push did not return")
		}
		if got := r.run(active.ID); got.State != store.RunActive {
			t.Errorf("the other run is %s, want still active", got.State)
		}
	})
	t.Run("Active", func(t *testing.T) {
		out, code := r.quire("", "--git-dir", r.Bare, "cancel", "--ref", "main")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		wantContains(t, out, "canceled run "+active.ID)
		wantContains(t, out, "it was active; recorded failed (canceled)")
		got := r.run(active.ID)
		if got.State != store.RunFailed || got.FailureKind != store.FailCanceled {
			t.Errorf("run %s/%s, want failed/canceled", got.State, got.FailureKind)
		}
		jobs, err := r.records().ListJobs(t.Context(), active.ID)
		if err != nil || len(jobs) != 1 || jobs[0].State != store.JobAborted {
			t.Errorf("jobs %+v (%v), want wait aborted and no after", jobs, err)
		}
		// cancel returned once the run was recorded; the sleep was
		// killed before that.
		if alive(sleepPid) {
			t.Errorf("sleep (pid %d) still runs", sleepPid)
		}
		select {
		case out := <-first:
			wantContains(t, out, "failed (canceled)")
		case <-time.After(20 * time.Second):
			t.Fatal("the canceled push did not return")
		}
	})
	t.Run("Finished", func(t *testing.T) {
		out, code := r.quire("", "--git-dir", r.Bare, "cancel", active.ID)
		if code != 2 || strings.Count(out, "\n") != 1 {
			t.Errorf("exit %d, want 2 with one line:\n%s", code, out)
		}
		wantContains(t, out, "has already ended: failed (canceled)")
	})
}

// run reads one run's row.
func (r *repo) run(id string) store.Run {
	r.t.Helper()
	run, err := r.records().GetRun(r.t.Context(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return run
}

func TestCancel_AsyncQueue(t *testing.T) {
	// An async worker with several queued runs is not signalled for one
	// of them: that run is recorded canceled and skipped in its turn.
	r := newRepo(t)
	r.Git(r.Bare, "config", "quire.async", "true")
	pidFile := filepath.Join(t.TempDir(), "sleep.pid")
	r.Pipeline(fmt.Sprintf(`local ci = require("quire.ci")
ci.job("wait", {"quire/push"}, function(q)
  if q.jobs("quire/push").ref == "refs/heads/main" then q.sh("echo $$ > %s; exec sleep 30") end
  q.sh("echo quick")
end)`, pidFile))
	r.Commit("queue")
	r.push()
	waitFor(t, "the sleep", func() bool { return len(readPids(t, pidFile)) == 1 })
	r.push("origin", "main:a", "main:b") // one worker, two queued runs
	var queued []store.Run
	waitFor(t, "two queued runs", func() bool {
		queued = queued[:0]
		for _, run := range r.runsNow() {
			if run.State == store.RunPending {
				queued = append(queued, run)
			}
		}
		return len(queued) == 2 && queued[0].OwnerPID == queued[1].OwnerPID
	})

	out, code := r.quire("", "--git-dir", r.Bare, "cancel", "--ref", "b")
	if code != 0 {
		t.Fatalf("cancel --ref b: exit %d:\n%s", code, out)
	}
	wantContains(t, out, "it was pending; recorded failed (canceled)")
	if out, code := r.quire("", "--git-dir", r.Bare, "cancel", "--ref", "main"); code != 0 {
		t.Fatalf("cancel --ref main: exit %d:\n%s", code, out)
	}
	waitFor(t, "the queue to drain", func() bool { return len(r.unfinished()) == 0 })
	for _, run := range r.runs() {
		want := map[string]store.RunState{"refs/heads/main": store.RunFailed, "refs/heads/a": store.RunComplete, "refs/heads/b": store.RunFailed}[run.Ref]
		if run.State != want {
			t.Errorf("run of %s: %s (%s), want %s", run.Ref, run.State, run.Error, want)
		}
		if run.Ref == "refs/heads/b" && (run.FailureKind != store.FailCanceled || run.StartedAtMS != 0) {
			t.Errorf("run of b: %s started %d, want canceled before it started", run.FailureKind, run.StartedAtMS)
		}
	}
}
