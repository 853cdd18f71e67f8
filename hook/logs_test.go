package hook_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/store"
)

func TestLogs_Follow(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("count", {"quire/push"}, function(q)
  q.sh("for i in 1 2 3; do echo line-$i; sleep 0.2; done")
  q.log("between")
  q.sh("for i in 4 5; do echo line-$i >&2; sleep 0.2; done")
end)
ci.job("last", {"count"}, function(q) q.sh("echo line-6") end)`)
	r.Commit("count")
	r.push("-o", "ci.skip", "origin", "main")

	replay, replayOut := start(t, r.Env, "--git-dir", r.Bare, "replay", "main")
	var run store.Run
	waitFor(t, "the run row", func() bool {
		runs := r.runsNow()
		if len(runs) > 0 {
			run = runs[0]
		}
		return len(runs) > 0
	})
	if run.State.Ended() {
		t.Fatalf("the run ended before logs started (state %s); nothing was followed", run.State)
	}
	logs, logsOut := start(t, r.Env, "--git-dir", r.Bare, "logs", run.ID[:8], "--follow")
	if err := waitExit(logs, 20*time.Second); err != nil {
		t.Fatalf("logs --follow: %v (exit 0 for a complete run)\n%s", err, logsOut)
	}
	if err := waitExit(replay, 20*time.Second); err != nil {
		t.Fatalf("replay: %v\n%s", err, replayOut)
	}
	out := logsOut.String()
	wantLines(t, out, "==> job count: active", "line-1", "line-2", "line-3", "between",
		"! line-4", "! line-5", "line-6")
	// Printed before line-6 when the call ended before logs read it,
	// else after it.
	wantLines(t, out, "! line-5", "==> last sh-1 (exit 0): echo line-6")
	// Headers printed while a job or call ran are printed again, with
	// how it ended.
	wantLines(t, headerTimes.ReplaceAllString(out, " in T"), "==> job count: active", "line-1",
		"==> count sh-1 (exit 0): for i in 1 2 3; do echo line-$i; sleep 0.2; done", "between",
		"==> count sh-2 (exit 0): for i in 4 5; do echo line-$i >&2; sleep 0.2; done",
		"==> job count: complete in T")
	if !strings.HasPrefix(lastLine(out), "==> run complete in ") {
		t.Errorf("output does not end with the run's outcome:\n%s", out)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// start starts the binary in the background; its output goes to the
// returned buffer, readable once the process has exited.
func start(t *testing.T, env []string, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return cmd, &out
}

// waitExit waits for cmd to exit by itself, at most d.
func waitExit(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return os.ErrDeadlineExceeded
	}
}

// waitFor polls cond until it holds, failing the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runsNow lists the runs, or nothing while no database exists.
func (r *repo) runsNow() []store.Run {
	if _, err := os.Stat(filepath.Join(r.Bare, "quire", "quire.db")); err != nil {
		return nil
	}
	return r.runs()
}
