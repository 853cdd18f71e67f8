package runner

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/internal/gittest"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// The row of an sh call exists while the call runs, so that a hook that
// dies during it leaves the row next to the log file (issue 7); the call
// ending completes it.
func TestRunner_ShRowWhileRunning(t *testing.T) {
	t.Parallel()
	mark := filepath.Join(t.TempDir(), "started")
	script := "echo > " + mark + "; exec sleep 30"
	h := newHarness(t, `
ci.job("build", {"quire/push"}, function(q)
  q.sh({"sh", "-c", "`+script+`"})
end)
`)
	sha := h.commit("one")
	if out, err := h.repo.Push("--quiet", "origin", "HEAD:refs/heads/main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	r, push, src, _ := h.prepare(sha, pushSpec{})
	res, err := r.Enqueue(t.Context(), push)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := r.Execute(ctx, res, push, src)
		done <- err
	}()

	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(mark); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sh call did not start in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantCmd := shellJoin([]string{"sh", "-c", script})
	evs, err := h.store.ListShEvents(t.Context(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("while the call runs: sh_events = %+v, want its row", evs)
	}
	if e := evs[0]; e.JobID != "build" || e.Seq != 1 || e.Cmd != wantCmd || e.StartedAtMS == 0 || e.FinishedAtMS != 0 || !e.NoExit {
		t.Errorf("while the call runs: row %+v, want seq 1, cmd %q, a start, no finish and no exit", e, wantCmd)
	}
	if _, err := os.Stat(filepath.Join(res.RunDir, "jobs", "build", "sh-1.log")); err != nil {
		t.Errorf("while the call runs: %v", err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Execute: %v", err)
	}
	evs, err = h.store.ListShEvents(t.Context(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 {
		t.Fatalf("after the call: sh_events = %+v, want one row", evs)
	}
	if e := evs[0]; e.NoExit || e.ExitCode != -9 || e.FinishedAtMS < e.StartedAtMS || e.Cmd != wantCmd {
		t.Errorf("after the call: row %+v, want it finished with exit -9", e)
	}
}

// Environment of the helper process of TestRunner_ShRowAfterHookDied.
const (
	dieBareEnv = "QUIRE_TEST_DIE_BARE"
	dieRootEnv = "QUIRE_TEST_DIE_ROOT"
	dieSHAEnv  = "QUIRE_TEST_DIE_SHA"
)

// A hook killed during an sh call leaves the call's row next to its log
// file; the next hook's reconcile ends the row with the run, exit_code
// NULL (issue 7). The hook is this test binary run again as a helper
// that runs the pipeline and is killed with SIGKILL mid-call.
func TestRunner_ShRowAfterHookDied(t *testing.T) {
	if os.Getenv(dieBareEnv) != "" {
		runDieHelper(t)
		return
	}
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "sleep.pid")
	script := "echo partial output; echo $$ > " + pidFile + ".tmp; mv " + pidFile + ".tmp " + pidFile + "; exec sleep 60"
	h := newHarness(t, `
ci.job("build", {"quire/push"}, function(q)
  q.sh({"sh", "-c", "`+script+`"})
end)
`)
	sha := h.commit("one")
	if out, err := h.repo.Push("--quiet", "origin", "HEAD:refs/heads/main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	helper := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestRunner_ShRowAfterHookDied$")
	helper.Env = append(os.Environ(), dieBareEnv+"="+h.repo.Bare, dieRootEnv+"="+h.dataRoot, dieSHAEnv+"="+sha)
	var out bytes.Buffer
	helper.Stdout, helper.Stderr = &out, &out
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if data, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})

	// Kill once the call has started and its first line reached the log:
	// the pump that writes it may lag behind the pid file under load.
	written := func() bool {
		logs, _ := filepath.Glob(filepath.Join(h.dataRoot, "runs", "*", "jobs", "build", "sh-1.log"))
		for _, l := range logs {
			if data, err := os.ReadFile(l); err == nil && strings.Contains(string(data), "partial output") {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(pidFile); err == nil && written() {
			break
		}
		if time.Now().After(deadline) {
			_ = helper.Process.Kill()
			_ = helper.Wait()
			t.Fatalf("the helper's sh call did not start in time:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()

	runs, err := h.store.ListUnfinished(t.Context())
	if err != nil || len(runs) != 1 {
		t.Fatalf("unfinished runs = %+v, %v; want the dead hook's run", runs, err)
	}
	id := runs[0].ID
	evs, err := h.store.ListShEvents(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	wantCmd := shellJoin([]string{"sh", "-c", script})
	if len(evs) != 1 || evs[0].Cmd != wantCmd || evs[0].FinishedAtMS != 0 || !evs[0].NoExit {
		t.Fatalf("after the kill: sh_events = %+v, want the running call's row (cmd %q)", evs, wantCmd)
	}
	logPath := filepath.Join(h.dataRoot, "runs", id, "jobs", "build", "sh-1.log")
	if data, err := os.ReadFile(logPath); err != nil || !strings.Contains(string(data), "partial output") {
		t.Errorf("sh-1.log = %q, %v; want what the call wrote", data, err)
	}

	if _, err := Reconcile(t.Context(), h.store, h.dataRoot, func(line string) { t.Log(line) }); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	run, err := h.store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if run.State != "failed" || run.FailureKind != "orphaned" {
		t.Fatalf("run = %s/%s, want failed/orphaned", run.State, run.FailureKind)
	}
	evs, err = h.store.ListShEvents(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if e := evs[0]; len(evs) != 1 || !e.NoExit || e.FinishedAtMS != max(run.FinishedAtMS, e.StartedAtMS) {
		t.Errorf("after reconcile: sh_events = %+v, want the call ended at the run's finish %d with exit NULL", evs, run.FinishedAtMS)
	}
}

// runDieHelper is the hook of TestRunner_ShRowAfterHookDied: it runs the
// pushed commit's pipeline until the test kills it.
func runDieHelper(t *testing.T) {
	h := &harness{t: t, repo: &gittest.Fixture{Bare: os.Getenv(dieBareEnv)}, dataRoot: os.Getenv(dieRootEnv)}
	s, err := store.Open(t.Context(), filepath.Join(h.dataRoot, "quire.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h.store = s
	r, push, src, _ := h.prepare(os.Getenv(dieSHAEnv), pushSpec{})
	if _, err := r.Run(t.Context(), push, src); err != nil {
		t.Fatal(err)
	}
	t.Fatal("the run ended; the test should have killed this helper")
}
