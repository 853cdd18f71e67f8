package hook_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// failingPipeline fails job test when the commit's message says "fail".
const failingPipeline = `local ci = require("quire.ci")
ci.job("test", {"quire/push"}, function(q)
  if q.jobs("quire/push").commit_message:find("fail") then
    q.sh("echo broken >&2; exit 3", {check = true})
  end
end)`

// waitEnded waits until the repo has n runs and every one has ended;
// it returns them, newest first.
func (r *repo) waitEnded(n int) []store.Run {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		runs := r.runsIfAny()
		ended := 0
		for _, run := range runs {
			if run.State.Ended() {
				ended++
			}
		}
		if len(runs) == n && ended == n {
			return runs
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(r.Bare, "quire", "async.log"))
			r.t.Fatalf("runs %+v: want %d ended; async.log:\n%s", runs, n, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// earlier is the line a push prints for an async run that ended: its
// command has --git-dir, like the "logs:" line of a run that a push
// waits for.
func (r *repo) earlier(run store.Run, outcome string) string {
	return "remote: quire: earlier run " + run.ID + " " + run.Ref + " at " + run.SHA[:10] + ": " + outcome + " — quire-hook --git-dir " + r.Bare + " logs " + run.ID
}

func TestPostReceive_AsyncFeedback(t *testing.T) {
	r := newRepo(t)
	r.Git(r.Bare, "config", "quire.async", "true")
	r.Pipeline(failingPipeline)
	r.Commit("fail first")
	if out := r.push(); strings.Contains(out, "earlier run") {
		t.Errorf("the first push printed an earlier run:\n%s", out)
	}
	first := r.waitEnded(1)[0]
	if first.State != store.RunFailed || first.FailureKind != store.FailJob {
		t.Fatalf("first run: %s/%s %s", first.State, first.FailureKind, first.Error)
	}

	r.Commit("second works")
	out := r.push()
	line := r.earlier(first, "failed (job test)")
	if n := strings.Count(out, line); n != 1 {
		t.Fatalf("second push printed the failure %d times, want once:\n%s", n, out)
	}
	// Before anything else: before the line about this push's own run.
	if strings.Index(out, line) > strings.Index(out, "runs in the background") {
		t.Errorf("the earlier outcome comes after this push's own lines:\n%s", out)
	}
	second := r.waitEnded(2)[0]
	if second.State != store.RunComplete {
		t.Fatalf("second run: %s %s", second.State, second.Error)
	}

	r.Commit("third")
	out = r.push()
	if strings.Contains(out, first.ID) {
		t.Errorf("the third push printed the first run again:\n%s", out)
	}
	wantContains(t, out, r.earlier(second, "complete"))
	r.waitEnded(3)
}

func TestPostReceive_AsyncFeedbackTwoRuns(t *testing.T) {
	r := newRepo(t)
	r.Git(r.Bare, "config", "quire.async", "true")
	r.Pipeline(failingPipeline)
	r.Commit("works")
	r.Git(r.Work, "branch", "other")
	r.Git(r.Work, "checkout", "other")
	r.Write("x", "x")
	r.Commit("fail on other")
	r.push("origin", "main", "other") // two refs: two runs in one worker
	runs := r.waitEnded(2)
	byRef := map[string]store.Run{}
	for _, run := range runs {
		byRef[run.Ref] = run
	}
	main, other := byRef["refs/heads/main"], byRef["refs/heads/other"]
	if main.State != store.RunComplete || other.State != store.RunFailed {
		t.Fatalf("main %s, other %s; want complete and failed", main.State, other.State)
	}

	r.Write("y", "y")
	r.Commit("next")
	out := r.push("origin", "other")
	wantContains(t, out, r.earlier(main, "complete"))
	wantContains(t, out, r.earlier(other, "failed (job test)"))
	if strings.Count(out, "earlier run") != 2 {
		t.Errorf("want two earlier runs:\n%s", out)
	}
	r.waitEnded(3)
}

func TestPostReceive_AsyncFeedbackConcurrentPushes(t *testing.T) {
	r := newRepo(t)
	r.Git(r.Bare, "config", "quire.async", "true")
	r.Pipeline(failingPipeline)
	r.Commit("fail first")
	r.Git(r.Work, "branch", "a")
	r.Git(r.Work, "branch", "b")
	r.push()
	first := r.waitEnded(1)[0]

	// Two pushes at once: the failure shows in exactly one of them.
	var wg sync.WaitGroup
	outs := make([]string, 2)
	for i, branch := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := r.Push("origin", branch)
			if err != nil {
				out += err.Error()
			}
			outs[i] = out
		}()
	}
	wg.Wait()
	both := outs[0] + outs[1]
	if n := strings.Count(both, r.earlier(first, "failed (job test)")); n != 1 {
		t.Errorf("the failure was printed %d times by two pushes at once, want once:\n%s\n---\n%s", n, outs[0], outs[1])
	}
	r.waitEnded(3)
}

func TestPostReceive_SyncPrintsNoFeedback(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(failingPipeline)
	r.Commit("fail first")
	r.push()
	r.Commit("second")
	if out := r.push(); strings.Contains(out, "earlier run") {
		t.Errorf("a push to a repo that is not async printed earlier runs:\n%s", out)
	}
	// Runs that were not queued async are never printed, not even once
	// the repo turns async.
	r.Git(r.Bare, "config", "quire.async", "true")
	r.Commit("third")
	if out := r.push(); strings.Contains(out, "earlier run") {
		t.Errorf("the first async push printed runs that were not async:\n%s", out)
	}
	r.waitEnded(3)
}
