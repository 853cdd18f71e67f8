package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/store"
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
	return h.enqueueRepo("", sha, spec)
}

// enqueueRepo is enqueue for a run recorded as of repo (default
// repo.git), as a repo sharing the data root would record it.
func (h *harness) enqueueRepo(repo, sha string, spec pushSpec) (Result, func(wg *sync.WaitGroup, q *queued)) {
	h.t.Helper()
	r, push, src, progress := h.prepare(sha, spec)
	if repo != "" {
		push.Repo = repo
	}
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
		if err == nil && run.State == store.RunActive {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("run %s never became active (%s)", id, run.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitRefLocked waits until some run holds the lock of repo.git's ref.
func (h *harness) waitRefLocked(ref string) {
	h.t.Helper()
	path, err := (&Runner{DataRoot: h.dataRoot}).refLockPath(store.Run{Repo: "repo.git", Ref: ref})
	if err != nil {
		h.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			h.t.Fatal(err)
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("no run took the lock of %s", ref)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRunner_LockNames pins the lock file names: a hook of the previous
// version may hold them while this one is installed, and two names for
// one lock would let two runs of a ref overlap.
func TestRunner_LockNames(t *testing.T) {
	r := &Runner{DataRoot: t.TempDir(), Settings: Settings{MaxParallelRuns: 3}}
	for i, want := range []string{"quire.lock", "quire.lock.1", "quire.lock.2"} {
		if got := r.slotPaths()[i]; got != filepath.Join(r.DataRoot, want) {
			t.Errorf("slot %d: %s, want %s", i, got, want)
		}
	}
	got, err := r.refLockPath(store.Run{Repo: "team/tools.git", Ref: "refs/heads/main"})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("team/tools.git\x00refs/heads/main"))
	if want := filepath.Join(r.DataRoot, "locks", hex.EncodeToString(sum[:12])+".lock"); got != want {
		t.Errorf("ref lock %s, want %s", got, want)
	}
	if _, err := os.Stat(filepath.Dir(got)); err != nil {
		t.Errorf("the lock directory was not created: %v", err)
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
		if q1.err != nil || q2.err != nil || q1.res.State != store.RunComplete || q2.res.State != store.RunComplete {
			t.Fatalf("runs: %+v %v / %+v %v", q1.res, q1.err, q2.res, q2.err)
		}
		r1, _ := h.store.GetRun(t.Context(), first.RunID)
		r2, _ := h.store.GetRun(t.Context(), second.RunID)
		if r2.StartedAtMS < r1.FinishedAtMS {
			t.Errorf("second started at %d, before the first finished at %d", r2.StartedAtMS, r1.FinishedAtMS)
		}
		if got := q2.progress.String(); !strings.Contains(got, "is waiting for run "+first.RunID+" (repo.git refs/heads/a) to finish; next in the queue") {
			t.Errorf("waiting run does not say for which run:\n%s", got)
		}
		// The wait is told apart from the run, and only when there was one.
		if got := q2.progress.String(); !regexp.MustCompile(`run ` + second.RunID + ` complete, waited [0-9.]+m?s, ran [0-9.]+m?s\n`).MatchString(got) {
			t.Errorf("waiting run does not say how long it waited and ran:\n%s", got)
		}
		if got := q1.progress.String(); strings.Contains(got, "waited") || !strings.Contains(got, "run "+first.RunID+" complete in ") {
			t.Errorf("run that did not wait:\n%s", got)
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
			if c.q.err != nil || c.q.res.State != store.RunSuperseded {
				t.Errorf("%s run: %+v %v, want superseded", c.name, c.q.res, c.q.err)
			}
			run, _ := h.store.GetRun(t.Context(), c.id)
			if run.State != store.RunSuperseded || run.FailureKind != "" || run.Error != "superseded by run "+newest.RunID {
				t.Errorf("%s row: %s/%s %q", c.name, run.State, run.FailureKind, run.Error)
			}
		}
		jobs, _ := h.store.ListJobs(t.Context(), running.RunID)
		if len(jobs) != 1 || jobs[0].State != store.JobAborted {
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
			if q.err != nil || q.res.State != store.RunComplete {
				t.Errorf("run %d (%s): %+v %v, want complete", i, triggers[i], q.res, q.err)
			}
		}
	})
}

// span is when a run's row says it ran.
type span struct{ start, end int64 }

func (h *harness) span(id string) span {
	h.t.Helper()
	run, err := h.store.GetRun(h.t.Context(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	if run.StartedAtMS == 0 || run.FinishedAtMS == 0 {
		h.t.Fatalf("run %s has no start or end: %+v", id, run)
	}
	return span{run.StartedAtMS, run.FinishedAtMS}
}

func (s span) overlaps(o span) bool { return s.start < o.end && o.start < s.end }

func TestRunner_ParallelRuns(t *testing.T) {
	t.Parallel()
	const sleepy = `ci.job("slow", {"quire/push"}, function(q) q.sh("sleep 1") end)`
	t.Run("TwoReposSideBySide", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sleepy)
		h.Settings.MaxParallelRuns = 2
		sha := h.commit("one")
		h.repo.Push("--quiet", "origin", "HEAD:refs/heads/main")
		var wg sync.WaitGroup
		qs := make([]queued, 2)
		var ids []string
		for i, repo := range []string{"sqlite.git", "cli.git"} {
			res, run := h.enqueueRepo(repo, sha, pushSpec{})
			ids = append(ids, res.RunID)
			wg.Add(1)
			go run(&wg, &qs[i])
		}
		wg.Wait()
		for i, q := range qs {
			if q.err != nil || q.res.State != store.RunComplete {
				t.Fatalf("run %d: %+v %v", i, q.res, q.err)
			}
			if strings.Contains(q.progress.String(), "waiting") {
				t.Errorf("run %d waited with a free slot:\n%s", i, q.progress)
			}
		}
		if a, b := h.span(ids[0]), h.span(ids[1]); !a.overlaps(b) {
			t.Errorf("runs did not overlap: %+v %+v", a, b)
		}
	})
	t.Run("ThirdWaitsForBoth", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, `ci.job("slow", {"quire/push"}, function(q) q.sh("sleep 2") end)`)
		h.Settings.MaxParallelRuns = 2
		sha := h.commit("one")
		h.repo.Push("--quiet", "origin", "HEAD:refs/heads/main")
		var wg sync.WaitGroup
		qs := make([]queued, 4)
		var res []Result
		for i, repo := range []string{"a.git", "b.git"} {
			r, run := h.enqueueRepo(repo, sha, pushSpec{})
			res = append(res, r)
			wg.Add(1)
			go run(&wg, &qs[i])
			h.waitActive(r.RunID)
		}
		// Two more runs queue up; the fourth has the third ahead of it.
		third, runThird := h.enqueueRepo("c.git", sha, pushSpec{})
		fourth, runFourth := h.enqueueRepo("d.git", sha, pushSpec{})
		wg.Add(1)
		go runThird(&wg, &qs[2])
		wg.Add(1)
		go runFourth(&wg, &qs[3])
		wg.Wait()
		for i, q := range qs {
			if q.err != nil || q.res.State != store.RunComplete {
				t.Fatalf("run %d: %+v %v", i, q.res, q.err)
			}
		}
		running := fmt.Sprintf("runs %s (b.git refs/heads/main), %s (a.git refs/heads/main)", res[1].RunID, res[0].RunID)
		if got := qs[2].progress.String(); !strings.Contains(got, "run "+third.RunID+" is waiting for "+running+" to finish; next in the queue") {
			t.Errorf("third run's waiting message:\n%s", got)
		}
		if got := qs[3].progress.String(); !strings.Contains(got, "run "+fourth.RunID+" is waiting for "+running+" to finish; 1 run ahead of it in the queue") {
			t.Errorf("fourth run's waiting message:\n%s", got)
		}
		// Intervals that overlap pairwise share an instant: no three may.
		var spans []span
		for _, id := range []string{res[0].RunID, res[1].RunID, third.RunID, fourth.RunID} {
			spans = append(spans, h.span(id))
		}
		for i := range spans {
			for j := i + 1; j < len(spans); j++ {
				for k := j + 1; k < len(spans); k++ {
					if spans[i].overlaps(spans[j]) && spans[i].overlaps(spans[k]) && spans[j].overlaps(spans[k]) {
						t.Errorf("runs %d, %d and %d ran at once: %+v", i, j, k, spans)
					}
				}
			}
		}
	})
	t.Run("OneRefNeverOverlaps", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sleepy)
		h.Settings.MaxParallelRuns = 3
		sha := h.commit("one")
		h.repo.Push("--quiet", "origin", "HEAD:refs/heads/main")
		var wg sync.WaitGroup
		qs := make([]queued, 3)
		var ids []string
		for i := range qs {
			res, run := h.enqueue(sha, pushSpec{Trigger: "replay"})
			ids = append(ids, res.RunID)
			wg.Add(1)
			go run(&wg, &qs[i])
		}
		wg.Wait()
		for i, q := range qs {
			if q.err != nil || q.res.State != store.RunComplete {
				t.Fatalf("replay %d: %+v %v", i, q.res, q.err)
			}
		}
		for i := range ids {
			for j := i + 1; j < len(ids); j++ {
				if a, b := h.span(ids[i]), h.span(ids[j]); a.overlaps(b) {
					t.Errorf("replays %d and %d of one ref overlap: %+v %+v", i, j, a, b)
				}
			}
		}
	})
	t.Run("SameRefWaitSaysForWhich", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sleepy)
		h.Settings.MaxParallelRuns = 2
		sha := h.commit("one")
		h.repo.Push("--quiet", "origin", "HEAD:refs/heads/main")
		var wg sync.WaitGroup
		var q1, q2 queued
		first, runFirst := h.enqueue(sha, pushSpec{Trigger: "replay"})
		wg.Add(1)
		go runFirst(&wg, &q1)
		h.waitActive(first.RunID)
		second, runSecond := h.enqueue(sha, pushSpec{Trigger: "replay"})
		wg.Add(1)
		go runSecond(&wg, &q2)
		wg.Wait()
		want := "run " + second.RunID + " is waiting for run " + first.RunID + " (repo.git refs/heads/main) to finish; next in the queue"
		if got := q2.progress.String(); !strings.Contains(got, want) {
			t.Errorf("waiting message lacks %q:\n%s", want, got)
		}
	})
	t.Run("SameRefBehindAWaitingRun", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, sleepy)
		sha := h.commit("one")
		h.repo.Push("--quiet", "origin", "HEAD:refs/heads/main")
		var wg sync.WaitGroup
		qs := make([]queued, 3)
		other, runOther := h.enqueueRepo("other.git", sha, pushSpec{})
		wg.Add(1)
		go runOther(&wg, &qs[0])
		h.waitActive(other.RunID)
		// The first replay takes main's lock and waits for the slot; the
		// second waits for main's lock.
		first, runFirst := h.enqueue(sha, pushSpec{Trigger: "replay"})
		wg.Add(1)
		go runFirst(&wg, &qs[1])
		h.waitRefLocked("refs/heads/main")
		second, runSecond := h.enqueue(sha, pushSpec{Trigger: "replay"})
		wg.Add(1)
		go runSecond(&wg, &qs[2])
		wg.Wait()
		want := "run " + second.RunID + " is waiting for run " + first.RunID + " (repo.git refs/heads/main) to finish; 1 run ahead of it in the queue"
		if got := qs[2].progress.String(); !strings.Contains(got, want) {
			t.Errorf("waiting message lacks %q:\n%s", want, got)
		}
	})
	t.Run("SupersedeStill", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, `ci.job("slow", {"quire/push"}, function(q) q.sh("sleep 20") end)`)
		h.Settings.MaxParallelRuns = 2
		sha := h.commit("one")
		h.repo.Push("--quiet", "origin", "HEAD:refs/heads/main")
		var wg sync.WaitGroup
		var qOld, qNew queued
		old, runOld := h.enqueue(sha, pushSpec{})
		wg.Add(1)
		go runOld(&wg, &qOld)
		h.waitActive(old.RunID)
		h.Settings = Settings{MaxParallelRuns: 2, RunTimeout: 300 * time.Millisecond}
		newer, runNew := h.enqueue(sha, pushSpec{})
		wg.Add(1)
		go runNew(&wg, &qNew)
		wg.Wait()
		if qOld.err != nil || qOld.res.State != store.RunSuperseded {
			t.Errorf("older run: %+v %v, want superseded", qOld.res, qOld.err)
		}
		if run, _ := h.store.GetRun(t.Context(), old.RunID); run.Error != "superseded by run "+newer.RunID {
			t.Errorf("older row: %s %q", run.State, run.Error)
		}
		// The newer one ran (and timed out) only once the older had ended.
		if qNew.err != nil || qNew.res.FailureKind != store.FailTimeout {
			t.Errorf("newer run: %+v %v", qNew.res, qNew.err)
		}
		if a, b := h.span(old.RunID), h.span(newer.RunID); a.overlaps(b) {
			t.Errorf("two runs of one ref overlap: %+v %+v", a, b)
		}
	})
}

func TestRunner_CanceledWhileWaiting(t *testing.T) {
	// 'quire-hook cancel' records a waiting run canceled; the hook
	// waiting for its turn must give up, not start it and fail to
	// record a start of a run that is no longer pending.
	t.Parallel()
	h := newHarness(t, `ci.job("slow", {"quire/push"}, function(q) q.sh("sleep 1") end)`)
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
	time.Sleep(200 * time.Millisecond) // into its wait
	if ok, err := h.store.CancelPending(t.Context(), second.RunID, "canceled by root", time.Now().UnixMilli()); err != nil || !ok {
		t.Fatalf("cancel: %v %v", ok, err)
	}
	wg.Wait()
	if q2.err != nil || q2.res.State != store.RunFailed || q2.res.FailureKind != store.FailCanceled {
		t.Errorf("canceled run: %+v, %v; want failed/canceled and no error", q2.res, q2.err)
	}
	if !strings.Contains(q2.progress.String(), "before it started") {
		t.Errorf("the waiting hook does not say its run was canceled:\n%s", q2.progress)
	}
	row, err := h.store.GetRun(t.Context(), second.RunID)
	if err != nil || row.State != store.RunFailed || row.StartedAtMS != 0 {
		t.Errorf("row %+v %v, want failed and never started", row, err)
	}
	if q1.err != nil || q1.res.State != store.RunComplete {
		t.Errorf("first run: %+v %v", q1.res, q1.err)
	}
}
