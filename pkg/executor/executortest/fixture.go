package executortest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/executor"
)

// fixture is one run's session and job, opened on a fresh run
// directory, closed when the test ends.
type fixture struct {
	t     *testing.T
	runID string
	ws    string
	sess  executor.Session
	job   executor.Job
	env   []string // the base Proc.Env: PATH and the run's marker
}

func newFixture(t *testing.T, ex executor.Executor, image string) *fixture {
	t.Helper()
	runID := fmt.Sprintf("conformance-%d-%d", os.Getpid(), rand.Int64())
	dir := datadir.Root(t.TempDir()).Run(runID)
	if err := os.MkdirAll(dir.Workspace(), 0o755); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, runID: runID, ws: dir.Workspace(),
		env: []string{"PATH=" + os.Getenv("PATH"), "QUIRE_RUN_ID=" + runID}}
	sess, err := ex.Start(t.Context(), executor.RunSpec{RunID: runID, Repo: "conformance.git", Dir: dir, Image: image})
	if err != nil {
		t.Fatalf("%s: start: %v", ex.Name(), err)
	}
	f.sess = sess
	t.Cleanup(func() {
		if err := sess.Close(context.Background()); err != nil {
			t.Errorf("session close: %v", err)
		}
	})
	job, err := sess.Job(t.Context(), "job")
	if err != nil {
		t.Fatalf("%s: open job: %v", ex.Name(), err)
	}
	f.job = job
	return f
}

// output is what one Exec wrote to its two streams.
type output struct {
	stdout, stderr syncBuffer
}

// proc is a Proc of sh -c script in the workspace with the base
// environment, writing to out.
func (f *fixture) proc(script string, out *output) executor.Proc {
	return executor.Proc{Argv: []string{"sh", "-c", script}, Dir: f.ws, Env: f.env,
		Stdout: &out.stdout, Stderr: &out.stderr, Timeout: bound}
}

// exec runs p and fails the test on an executor error.
func (f *fixture) exec(p executor.Proc) executor.Result {
	f.t.Helper()
	res, err := f.job.Exec(f.t.Context(), p)
	if err != nil {
		f.t.Fatalf("exec %q: %v", p.Argv, err)
	}
	if res.TimedOut {
		f.t.Fatalf("exec %q timed out after %s", p.Argv, p.Timeout)
	}
	return res
}

// start runs p on its own goroutine; the channel gets its outcome.
func (f *fixture) start(ctx context.Context, p executor.Proc) <-chan execResult {
	done := make(chan execResult, 1)
	go func() {
		res, err := f.job.Exec(ctx, p)
		done <- execResult{res, err}
	}()
	return done
}

type execResult struct {
	res executor.Result
	err error
}

// wait waits for an Exec started with start.
func (f *fixture) wait(done <-chan execResult) execResult {
	f.t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(bound):
		f.t.Fatalf("exec did not return within %s", bound)
		return execResult{}
	}
}

// release lets a script that waits for it (see waitRelease) go on.
func (f *fixture) release() {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.ws, "release"), nil, 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// waitRelease is the shell that waits until the test calls release.
const waitRelease = `while [ ! -e release ]; do sleep 0.01; done`

// survivors starts, from one call, a background child and one that left
// its session and process group and cleared its environment, and
// returns their pids once both run.
func (f *fixture) survivors() []int {
	f.t.Helper()
	a, b := sleepToken(), sleepToken()
	var out output
	done := f.start(f.t.Context(), f.proc(
		"sleep "+a+" >/dev/null 2>&1 </dev/null & "+
			"(setsid env -i sleep "+b+" >/dev/null 2>&1 </dev/null &); "+waitRelease, &out))
	pids := append(f.waitSleepers(a, done, &out), f.waitSleepers(b, done, &out)...)
	f.release()
	if r := f.wait(done); r.err != nil || r.res.Exit != 0 {
		f.t.Fatalf("exec = %+v, %v; stderr %q", r.res, r.err, out.stderr.String())
	}
	return pids
}
