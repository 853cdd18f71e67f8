package hook_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/internal/mounttest"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// sharedData is a data root shared by several repositories, each with
// its own work tree, as on a server with QUIRE_DATA_DIR set.
type sharedData struct {
	t    *testing.T
	root string
}

// newSharedData makes a data root whose config.lua says
// max_parallel_runs = n (n = 0: no config.lua, the default).
func newSharedData(t *testing.T, n int) *sharedData {
	t.Helper()
	d := &sharedData{t: t, root: filepath.Join(t.TempDir(), "data")}
	mounttest.Check(t, d.root)
	if err := os.MkdirAll(d.root, 0o755); err != nil {
		t.Fatal(err)
	}
	if n > 0 {
		cfg := fmt.Sprintf("return { max_parallel_runs = %d }\n", n)
		if err := os.WriteFile(filepath.Join(d.root, "config.lua"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// repo makes a repository recording its runs in the shared data root,
// with pipeline committed but not pushed.
func (d *sharedData) repo(pipeline string) *repo {
	d.t.Helper()
	r := newRepo(d.t)
	r.Env = append(r.Env, "QUIRE_DATA_DIR="+d.root)
	r.Pipeline(pipeline)
	r.Commit("pipeline")
	return r
}

// runs lists the data root's runs, newest first (none before the
// database exists).
func (d *sharedData) runs() []store.Run {
	d.t.Helper()
	if _, err := os.Stat(filepath.Join(d.root, "quire.db")); err != nil {
		return nil
	}
	s, err := store.Open(context.Background(), filepath.Join(d.root, "quire.db"))
	if err != nil {
		d.t.Fatal(err)
	}
	defer s.Close()
	runs, err := s.ListRuns(context.Background(), store.RunFilter{})
	if err != nil {
		d.t.Fatal(err)
	}
	return runs
}

// runIn returns the one run recorded for repo r, waiting for it.
func (d *sharedData) runIn(r *repo, state store.RunState) store.Run {
	d.t.Helper()
	var found store.Run
	waitFor(d.t, "a run of "+r.Bare+" "+string(state), func() bool {
		for _, run := range d.runs() {
			if run.Repo == r.Bare && (state == "" || run.State == state) {
				found = run
				return true
			}
		}
		return false
	})
	return found
}

// pushAsync pushes r in the background; the channel yields git's output.
func pushAsync(r *repo, args ...string) <-chan string {
	out := make(chan string, 1)
	go func() {
		o, _ := r.Push(args...)
		out <- o
	}()
	return out
}

// overlap reports whether two finished runs' rows say they ran at once.
func overlap(t *testing.T, a, b store.Run) bool {
	t.Helper()
	if a.StartedAtMS == 0 || a.FinishedAtMS == 0 || b.StartedAtMS == 0 || b.FinishedAtMS == 0 {
		t.Fatalf("a run has no start or end: %+v / %+v", a, b)
	}
	return a.StartedAtMS < b.FinishedAtMS && b.StartedAtMS < a.FinishedAtMS
}

// runByID finds a run in runs.
func runByID(t *testing.T, runs []store.Run, id string) store.Run {
	t.Helper()
	for _, r := range runs {
		if r.ID == id {
			return r
		}
	}
	t.Fatalf("no run %s", id)
	return store.Run{}
}

const oneSecondPipeline = `local ci = require("quire.ci")
ci.job("slow", {"quire/push"}, function(q) q.sh("sleep 1") end)
`

func TestParallelRuns(t *testing.T) {
	t.Run("TwoReposSideBySide", func(t *testing.T) {
		d := newSharedData(t, 2)
		sqlite, cli := d.repo(oneSecondPipeline), d.repo(oneSecondPipeline)
		outA, outB := pushAsync(sqlite, "origin", "main"), pushAsync(cli, "origin", "main")
		a, b := <-outA, <-outB
		runA, runB := d.runIn(sqlite, "complete"), d.runIn(cli, "complete")
		if !overlap(t, runA, runB) {
			t.Errorf("runs of two repos did not overlap with max_parallel_runs = 2: %d-%d, %d-%d",
				runA.StartedAtMS, runA.FinishedAtMS, runB.StartedAtMS, runB.FinishedAtMS)
		}
		for _, out := range []string{a, b} {
			if strings.Contains(out, "waiting") {
				t.Errorf("a run waited with a slot free:\n%s", out)
			}
		}
	})
	t.Run("OneAtATimeByDefault", func(t *testing.T) {
		d := newSharedData(t, 0)
		// The first runs until the others have queued behind it.
		gate := filepath.Join(t.TempDir(), "gate")
		first := d.repo(strings.Replace(oneSecondPipeline, "sleep 1", "while [ ! -e '"+gate+"' ]; do sleep 0.05; done", 1))
		second, third := d.repo(oneSecondPipeline), d.repo(oneSecondPipeline)
		outFirst := pushAsync(first, "origin", "main")
		defer os.WriteFile(gate, nil, 0o644)
		running := d.runIn(first, "active")
		// The second queues behind the first; the third behind both.
		outSecond := pushAsync(second, "origin", "main")
		d.runIn(second, "pending")
		outThird := pushAsync(third, "origin", "main")
		d.runIn(third, "pending")
		os.WriteFile(gate, nil, 0o644)
		<-outFirst
		secondOut, thirdOut := <-outSecond, <-outThird

		runs := d.runs()
		if len(runs) != 3 {
			t.Fatalf("%d runs, want 3", len(runs))
		}
		for i := range runs {
			if runs[i].State != "complete" {
				t.Errorf("run %s: %s %s %q", runs[i].ID, runs[i].State, runs[i].FailureKind, runs[i].Error)
			}
			for j := i + 1; j < len(runs); j++ {
				if overlap(t, runs[i], runs[j]) {
					t.Errorf("runs %s and %s overlap with the default max_parallel_runs", runs[i].ID, runs[j].ID)
				}
			}
		}
		secondRun, thirdRun := d.runIn(second, ""), d.runIn(third, "")
		blocker := fmt.Sprintf("run %s (%s refs/heads/main)", running.ID, first.Bare)
		wantContains(t, secondOut, "remote: quire: run "+secondRun.ID+" is waiting for "+blocker+" to finish; next in the queue")
		// The third waits for whichever run holds the turn, with the
		// second ahead of it.
		if !regexp.MustCompile(`remote: quire: run ` + thirdRun.ID + ` is waiting for run \S+ \(\S+ refs/heads/main\) to finish; 1 run ahead of it in the queue`).MatchString(thirdOut) {
			t.Errorf("third push does not say its place in the queue:\n%s", thirdOut)
		}
		waited := regexp.MustCompile(`remote: quire: run ` + secondRun.ID + ` complete, waited \d+(\.\d)?m?s, ran \d+(\.\d)?m?s *\n`)
		if !waited.MatchString(secondOut) {
			t.Errorf("the run that waited does not say how long it waited and ran:\n%s", secondOut)
		}
	})
	t.Run("OneRefStillSupersedes", func(t *testing.T) {
		d := newSharedData(t, 2)
		r := d.repo(`local ci = require("quire.ci")
ci.job("build", {"quire/push"}, function(q)
  if q.jobs("quire/push").commit_message:find("slow") then q.sh("sleep 20") else q.sh("sleep 1") end
end)`)
		r.Commit("slow first")
		outFirst := pushAsync(r, "origin", "main")
		older := d.runIn(r, "active")
		r.Commit("second")
		secondOut := r.push()
		firstOut := <-outFirst

		runs := d.runs()
		if len(runs) != 2 {
			t.Fatalf("%d runs, want 2", len(runs))
		}
		newer := runs[0]
		older = runByID(t, runs, older.ID)
		if older.State != "superseded" || older.Error != "superseded by run "+newer.ID {
			t.Errorf("older run: %s %q, want superseded by run %s", older.State, older.Error, newer.ID)
		}
		if newer.State != "complete" {
			t.Errorf("newer run: %s %q", newer.State, newer.Error)
		}
		if overlap(t, older, newer) {
			t.Errorf("two runs of one ref overlap: %d-%d, %d-%d", older.StartedAtMS, older.FinishedAtMS, newer.StartedAtMS, newer.FinishedAtMS)
		}
		wantContains(t, firstOut, "superseded by run "+newer.ID)
		wantContains(t, secondOut, "run "+newer.ID+" complete")
	})
	t.Run("InvalidSetting", func(t *testing.T) {
		d := newSharedData(t, 0)
		r := d.repo(oneSecondPipeline)
		if err := os.WriteFile(filepath.Join(d.root, "config.lua"), []byte("return { max_parallel_runs = 0 }\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		out := r.push()
		wantContains(t, out, "max_parallel_runs must be a whole number >= 1 (1: one run at a time), not 0")
		if runs := d.runs(); len(runs) != 0 {
			t.Errorf("a run was recorded under an invalid config: %+v", runs)
		}
	})
}
