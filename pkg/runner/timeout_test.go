package runner

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunner_JobTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
ci.job("spin", {"quire/push"}, function(q) while true do end end)
ci.job("sleeper", {"quire/push"}, function(q) q.sh("sleep 10") end)
ci.job("after", {"quire/push"}, function(q) return {ok = q.sh("echo fine").stdout} end)
`)
	h.Settings.JobTimeout = 300 * time.Millisecond
	o := h.run()

	for _, job := range []string{"spin", "sleeper"} {
		t.Run(job, func(t *testing.T) {
			j := o.wantState(job, "failed")
			if !strings.Contains(j.Error, "timeout") || !strings.Contains(j.Error, "300ms") {
				t.Errorf("error = %q, want it to mention the 300ms timeout", j.Error)
			}
			if log := text(o.lines(filepath.Join(o.jobDir(job), "job.log"))); !strings.Contains(log, "timeout") {
				t.Errorf("job.log lacks the timeout:\n%s", log)
			}
		})
	}
	t.Run("SleeperKilled", func(t *testing.T) {
		evs := o.shEvents("sleeper")
		if len(evs) != 1 || evs[0].ExitCode != -9 {
			t.Fatalf("sleeper sh_events = %+v, want one with exit -9", evs)
		}
		if j := o.job("sleeper"); j.ExitCode == nil || *j.ExitCode != -9 {
			t.Errorf("sleeper exit_code = %v, want -9", deref(j.ExitCode))
		}
	})
	t.Run("NextJobRuns", func(t *testing.T) {
		o.wantState("after", "complete")
		if got := o.outputs("after")["ok"]; got != "fine\n" {
			t.Errorf("after output = %q", got)
		}
	})
	t.Run("Run", func(t *testing.T) {
		if o.run.State != "failed" || o.run.FailureKind != "job" {
			t.Errorf("run = %s/%s, want failed/job", o.run.State, o.run.FailureKind)
		}
	})
}

func TestRunner_RunTimeout(t *testing.T) {
	t.Parallel()
	t.Run("WhileLoading", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "while true do end\n")
		h.Settings.RunTimeout = 300 * time.Millisecond
		o := h.run()
		if o.run.State != "failed" || o.run.FailureKind != "timeout" {
			t.Errorf("run = %s/%s %q, want failed/timeout", o.run.State, o.run.FailureKind, o.run.Error)
		}
	})
	t.Run("LoadTimeout", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, "while true do end\n")
		h.Settings.LoadTimeout = 300 * time.Millisecond
		o := h.run()
		if o.run.State != "failed" || o.run.FailureKind != "pipeline" || !strings.Contains(o.run.Error, ".quire/ci.lua") {
			t.Errorf("run = %s/%s %q, want failed/pipeline naming the file", o.run.State, o.run.FailureKind, o.run.Error)
		}
	})
	t.Run("WhileRunning", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, `
ci.job("slow", {"quire/push"}, function(q) q.sh("sleep 10") end)
ci.job("later", {"slow"}, function(q) end)
`)
		h.Settings.RunTimeout = 300 * time.Millisecond
		o := h.run()
		if o.run.State != "failed" || o.run.FailureKind != "timeout" || !strings.Contains(o.run.Error, "300ms") {
			t.Errorf("run = %s/%s %q, want failed/timeout naming 300ms", o.run.State, o.run.FailureKind, o.run.Error)
		}
		// The job did not fail on its own: the run's end cut it short.
		if j := o.job("slow"); j.State != "aborted" || j.FinishedAtMS == 0 {
			t.Errorf("slow = %s (finish %d), want aborted with a finish", j.State, j.FinishedAtMS)
		}
		if j, ok := o.jobs["later"]; ok && j.State != "skipped" && j.State != "aborted" {
			t.Errorf("later = %s, want no row, skipped or aborted", j.State)
		}
	})
}

func TestRunner_StuckLuaCall(t *testing.T) {
	t.Parallel()
	// A backtracking pattern runs inside one library call, where the VM
	// never looks at the context: the job timeout alone cannot stop it.
	// The runner gives up on it, fails the job, skips the rest, and the
	// run ends instead of hanging.
	h := newHarness(t, `
ci.job("stuck", {"quire/push"}, function(q)
  string.find(string.rep("a", 100000), string.rep("a*", 20) .. "b")
end)
ci.job("after", {"quire/push"}, function(q) end)
`)
	h.Settings.JobTimeout = 200 * time.Millisecond
	done := make(chan *outcome, 1)
	go func() { done <- h.run() }()
	var o *outcome
	select {
	case o = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the run did not end")
	}
	if j := o.wantState("stuck", "failed"); !strings.Contains(j.Error, "did not stop") {
		t.Errorf("stuck error = %q", j.Error)
	}
	if j := o.wantState("after", "skipped"); !strings.Contains(j.Error, "did not stop") {
		t.Errorf("after error = %q", j.Error)
	}
	if o.run.State != "failed" {
		t.Errorf("run %s", o.run.State)
	}
}
