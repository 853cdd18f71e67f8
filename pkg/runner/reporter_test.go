package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// recorder is a Reporter that keeps what it was told.
type recorder struct{ ended []Ended }

func (r *recorder) RunEnded(_ context.Context, e Ended) { r.ended = append(r.ended, e) }

// Reporters hear of each run once, after its row is final, with the
// run's secrets to redact with; a pipeline that fails to load is a run
// that ended too.
func TestRunner_Reporters(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, pipeline string
		want           store.RunState
	}{
		{"Complete", `ci.job("a", {"quire/push"}, function(q) q.sh("true") end)`, store.RunComplete},
		{"Failed", `ci.job("a", {"quire/push"}, function(q) error("no") end)`, store.RunFailed},
		{"LoadFails", `ci.job("a", {}, function(q) end)`, store.RunFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tc.pipeline)
			rec := &recorder{}
			h.Reporters = []Reporter{rec, rec}
			o := h.run()
			if len(rec.ended) != 2 {
				t.Fatalf("told %d times, want once per Reporter (2)", len(rec.ended))
			}
			e := rec.ended[0]
			if e.Run.ID != o.run.ID || e.Run.State != tc.want || e.Run.FinishedAtMS == 0 || e.Secrets == nil {
				t.Errorf("told %+v, want the final row of %s (%s)", e.Run, o.run.ID, tc.want)
			}
			if !strings.HasSuffix(e.GitDir, ".git") || e.DataRoot != h.dataRoot || e.Progress == nil {
				t.Errorf("told git dir %q, data root %q, progress %v", e.GitDir, e.DataRoot, e.Progress)
			}
		})
	}
}

// A run of this repository that reconcile ends (its hook died) is
// reported too, before the run that found it; one of another repository
// sharing the data root is not, as this hook cannot reach its bare repo.
func TestRunner_ReportersHearOfOrphans(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `ci.job("a", {"quire/push"}, function(q) end)`)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	now := time.Now().UnixMilli()
	for i, repo := range []string{"repo.git", "other.git"} {
		run := store.Run{
			ID: fmt.Sprintf("01a00000-0000-7000-8000-0000000000d%d", i), Repo: repo, Ref: "refs/heads/main",
			SHA: strings.Repeat("a", 40), Trigger: "push", PushedAtMS: now, QueuedAtMS: now, StartedAtMS: now,
			State: store.RunActive, OwnerPID: dead.Process.Pid, OwnerHost: host,
		}
		if err := h.store.CreateRun(t.Context(), run); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	h.Reporters = []Reporter{rec}
	o := h.run()
	if len(rec.ended) != 2 {
		t.Fatalf("told of %d runs, want the orphan of repo.git and the run itself", len(rec.ended))
	}
	orphan, own := rec.ended[0].Run, rec.ended[1].Run
	if orphan.ID != "01a00000-0000-7000-8000-0000000000d0" || orphan.State != store.RunFailed || orphan.FailureKind != store.FailOrphaned {
		t.Errorf("first told of %s %s (%s), want the orphan of repo.git, failed (orphaned)", orphan.ID, orphan.State, orphan.FailureKind)
	}
	if own.ID != o.run.ID {
		t.Errorf("then told of %s, want the run %s", own.ID, o.run.ID)
	}
}

// slotProbe is a Reporter that checks whether the data root's run slot
// is free while it is told of a run.
type slotProbe struct{ free []bool }

func (p *slotProbe) RunEnded(_ context.Context, e Ended) {
	f, err := os.OpenFile(datadir.Root(e.DataRoot).Slot(0), os.O_RDWR, 0)
	if err != nil {
		p.free = append(p.free, false)
		return
	}
	defer f.Close()
	free := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
	p.free = append(p.free, free)
}

// Reporters are told once the run's turn is free: a dead webhook (up to
// ~35 s) must not hold up the next run of the data root or the ref.
func TestRunner_ReportersAfterTheTurn(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `ci.job("a", {"quire/push"}, function(q) end)`)
	probe := &slotProbe{}
	h.Reporters = []Reporter{probe}
	h.run()
	if len(probe.free) != 1 || !probe.free[0] {
		t.Errorf("slot free while reporting: %v, want [true]", probe.free)
	}
}

// A run whose hook was stopped (quire-hook cancel SIGTERMs it, which
// cancels the run's context) is reported too: its note must not be lost
// to the canceled context. It was not, with "read run … for its
// reports: context canceled", before the read outlived the context.
func TestRunner_ReportersHearOfCanceled(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `ci.job("a", {"quire/push"}, function(q) q.sh("touch started; sleep 30") end)`)
	rec := &recorder{}
	h.Reporters = []Reporter{rec}
	sha := h.commit("test commit")
	if out, err := h.repo.Push("--quiet", "--force", "origin", "HEAD:refs/heads/main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	r, push, src, progress := h.prepare(sha, pushSpec{})
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	go func() {
		// Cancel once the sh call runs.
		for range 3000 {
			if m, _ := filepath.Glob(filepath.Join(h.dataRoot, "runs", "*", "workspace", "started")); len(m) > 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel(errors.New("canceled by quire-hook cancel"))
	}()
	res, err := r.Run(ctx, push, src)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	o := h.collect(res, sha, progress.String())
	if o.run.State != store.RunFailed || o.run.FailureKind != store.FailCanceled {
		t.Fatalf("run %s (%s), want failed (canceled)", o.run.State, o.run.FailureKind)
	}
	if len(rec.ended) != 1 || rec.ended[0].Run.ID != o.run.ID || rec.ended[0].Run.FailureKind != store.FailCanceled {
		t.Errorf("told %d times (%+v), want once of the canceled run; progress:\n%s", len(rec.ended), rec.ended, o.progress)
	}
	if strings.Contains(o.progress, "for its reports") {
		t.Errorf("progress has a warning:\n%s", o.progress)
	}
}
