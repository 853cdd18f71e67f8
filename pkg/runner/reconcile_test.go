package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/store"
)

func TestReconcile(t *testing.T) {
	// A run whose hook was SIGKILLed after it created a call's log but
	// before it recorded the call, with its workspace still there.
	h := newHarness(t, `ci.job("a", {"quire/push"}, function(q) end)`)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	now := time.Now().UnixMilli()
	run := store.Run{
		ID: "01a00000-0000-7000-8000-0000000000c1", Repo: "repo.git", Ref: "refs/heads/main",
		SHA: strings.Repeat("a", 40), Trigger: "push", PushedAtMS: now, QueuedAtMS: now, StartedAtMS: now,
		State: "active", OwnerPID: dead.Process.Pid, OwnerHost: host,
	}
	if err := h.store.CreateRun(t.Context(), run); err != nil {
		t.Fatal(err)
	}
	if err := h.store.StartJob(t.Context(), run.ID, "a", now); err != nil {
		t.Fatal(err)
	}
	if err := h.store.StartShEvent(t.Context(), store.ShEvent{RunID: run.ID, JobID: "a", Seq: 1, StartedAtMS: now, Cmd: "sleep 300"}); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(h.dataRoot, "runs", run.ID)
	jobDir := filepath.Join(runDir, "jobs", "a")
	for name, content := range map[string]string{"sh-1.log": "2026-01-01T00:00:00Z stdout F x\n", "sh-2.log": "", "job.log": ""} {
		if err := os.MkdirAll(jobDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(jobDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(runDir, "workspace", "src"), 0o755); err != nil {
		t.Fatal(err)
	}

	var lines []string
	n, err := Reconcile(t.Context(), h.store, h.dataRoot, func(l string) { lines = append(lines, l) })
	if err != nil || n != 1 {
		t.Fatalf("Reconcile = %d, %v; want 1 run", n, err)
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "reconciled run "+run.ID) {
		t.Errorf("report %q", lines)
	}
	got, err := h.store.GetRun(t.Context(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "failed" || got.FailureKind != "orphaned" {
		t.Errorf("run %s/%s, want failed/orphaned", got.State, got.FailureKind)
	}
	events, err := h.store.ListShEvents(t.Context(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].FinishedAtMS == 0 || !events[0].NoExit {
		t.Errorf("sh events %+v, want the open call ended without an exit", events)
	}
	for name, want := range map[string]bool{"workspace": false, "jobs/a/sh-1.log": true, "jobs/a/sh-2.log": false, "jobs/a/job.log": true} {
		_, err := os.Stat(filepath.Join(runDir, name))
		if exists := err == nil; exists != want {
			t.Errorf("%s exists = %v, want %v", name, exists, want)
		}
	}
}
