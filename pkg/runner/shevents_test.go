package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
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
