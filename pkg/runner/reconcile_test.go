package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/internal/mounttest"
	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/store"
	"github.com/quire-ci/quire-hook/pkg/workspace"
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
		State: store.RunActive, OwnerPID: dead.Process.Pid, OwnerHost: host,
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
	runDir := datadir.Root(h.dataRoot).Run(run.ID)
	job := runDir.Job("a")
	if err := os.MkdirAll(string(job), 0o755); err != nil {
		t.Fatal(err)
	}
	for path, content := range map[string]string{job.ShLog(1): "2026-01-01T00:00:00Z stdout F x\n", job.ShLog(2): "", job.JobLog(): ""} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(runDir.Workspace(), "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// As root the workspace is an overlay mount, which the dead hook
		// left mounted: reconcile detaches it, never deleting through.
		if err := os.RemoveAll(runDir.Workspace()); err != nil {
			t.Fatal(err)
		}
		sha := h.commit("overlay")
		if out, err := h.repo.Push("--quiet", "origin", "HEAD:refs/heads/main"); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
		c := workspace.Cache{Dir: datadir.Root(h.dataRoot).WorkspaceCache()}
		lease, _, err := c.Checkout(t.Context(), "k", h.repo.Bare, plumbing.NewHash(sha), runDir.Workspace())
		if err != nil {
			t.Fatal(err)
		}
		defer lease.Release()
		if len(mounttest.Below(t, runDir.Workspace())) != 1 {
			t.Fatalf("the workspace is not a mount point")
		}
	}

	orphans, err := EndOrphans(t.Context(), h.store, datadir.Root(h.dataRoot))
	if err != nil || len(orphans) != 1 {
		t.Fatalf("EndOrphans = %+v, %v; want 1 run", orphans, err)
	}
	o := orphans[0]
	if o.Run.ID != run.ID || o.Run.State != store.RunActive || o.JobsAborted != 1 || o.Killed != 0 ||
		o.KillErr != nil || o.WorkspaceErr != nil || o.LogsErr != nil {
		t.Errorf("orphan %+v, want run %s as it was, 1 job aborted, nothing killed, no error", o, run.ID)
	}
	want := "reconciled run " + run.ID + " (repo.git refs/heads/main): active -> failed (orphaned), owner pid " +
		strconv.Itoa(dead.Process.Pid) + " gone; 1 job(s) aborted, 0 process(es) killed"
	if got := o.String(); got != want {
		t.Errorf("line %q, want %q", got, want)
	}
	var lines []string
	if n, err := Reconcile(t.Context(), h.store, h.dataRoot, func(l string) { lines = append(lines, l) }); n != 0 || err != nil || lines != nil {
		t.Errorf("second Reconcile = %d, %v, %q; want nothing to do", n, err, lines)
	}
	got, err := h.store.GetRun(t.Context(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.RunFailed || got.FailureKind != store.FailOrphaned {
		t.Errorf("run %s/%s, want failed/orphaned", got.State, got.FailureKind)
	}
	events, err := h.store.ListShEvents(t.Context(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].FinishedAtMS == 0 || !events[0].NoExit {
		t.Errorf("sh events %+v, want the open call ended without an exit", events)
	}
	if left := mounttest.Below(t, string(runDir)); len(left) != 0 {
		t.Errorf("mounts left in the run directory: %+v", left)
	}
	for name, want := range map[string]bool{"workspace": false, "jobs/a/sh-1.log": true, "jobs/a/sh-2.log": false, "jobs/a/job.log": true} {
		_, err := os.Stat(filepath.Join(string(runDir), name))
		if exists := err == nil; exists != want {
			t.Errorf("%s exists = %v, want %v", name, exists, want)
		}
	}
}
