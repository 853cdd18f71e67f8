package runner_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/internal/mounttest"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// The helper owner: this test binary run again as the hook owning a
// run, which records the run as $QUIRE_CANCEL_END says when SIGTERMed,
// as a hook does.
const (
	cancelDBEnv  = "QUIRE_CANCEL_DB"
	cancelRunEnv = "QUIRE_CANCEL_RUN"
	cancelEndEnv = "QUIRE_CANCEL_END" // "canceled" or "complete"
)

func TestCancel_HelperOwner(t *testing.T) {
	db := os.Getenv(cancelDBEnv)
	if db == "" {
		t.Skip("the owner process of the cancel tests")
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	os.Stdout.WriteString("ready\n")
	<-term
	s, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	state, kind := store.RunFailed, store.FailCanceled
	if os.Getenv(cancelEndEnv) == "complete" {
		state, kind = store.RunComplete, ""
	}
	if err := s.FinishRun(t.Context(), os.Getenv(cancelRunEnv), state, kind, "", time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
}

// cancelFixture is a data root with a real database.
type cancelFixture struct {
	t     *testing.T
	root  string
	db    string
	store *store.Store
	host  string
	n     int
}

func newCancelFixture(t *testing.T) *cancelFixture {
	t.Helper()
	root := t.TempDir()
	mounttest.Check(t, root)
	db := filepath.Join(root, "quire.db")
	s, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	host, _ := os.Hostname()
	return &cancelFixture{t: t, root: root, db: db, store: s, host: host}
}

// nextID is the id the next call of run records.
func (f *cancelFixture) nextID() string {
	return fmt.Sprintf("01a00000-0000-7000-8000-%012d", f.n+1)
}

// run records a run in state (pending or active, or ended) owned by
// pid on host, and returns it.
func (f *cancelFixture) run(state store.RunState, pid int, host string) store.Run {
	f.t.Helper()
	id := f.nextID()
	f.n++
	now := time.Now().UnixMilli()
	r := store.Run{
		ID: id, Repo: "repo.git", Ref: "refs/heads/main",
		SHA: strings.Repeat("a", 40), Trigger: "push", PushedAtMS: now, QueuedAtMS: now,
		State: store.RunPending, OwnerPID: pid, OwnerHost: host,
	}
	if err := f.store.CreateRun(f.t.Context(), r); err != nil {
		f.t.Fatal(err)
	}
	if state != store.RunPending {
		if err := f.store.StartRun(f.t.Context(), r.ID, now, ""); err != nil {
			f.t.Fatal(err)
		}
	}
	if state.Ended() {
		if err := f.store.FinishRun(f.t.Context(), r.ID, state, "", "", now); err != nil {
			f.t.Fatal(err)
		}
	}
	return f.get(r.ID)
}

func (f *cancelFixture) get(id string) store.Run {
	f.t.Helper()
	r, err := f.store.GetRun(f.t.Context(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// owner starts the helper owner of the run that runID names once it is
// recorded (the run is recorded after the owner starts, as a hook does)
// and returns its process, ready for SIGTERM.
func (f *cancelFixture) owner(runID, end string) *exec.Cmd {
	f.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCancel_HelperOwner$")
	cmd.Env = append(os.Environ(), cancelDBEnv+"="+f.db, cancelRunEnv+"="+runID, cancelEndEnv+"="+end)
	out, err := cmd.StdoutPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		f.t.Fatalf("helper owner: %q, %v", line, err)
	}
	return cmd
}

// deadPID is the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestCancel(t *testing.T) {
	t.Parallel()
	f := newCancelFixture(t)
	cancel := func(run store.Run) (runner.Canceled, []string, error) {
		var lines []string
		res, err := runner.Cancel(t.Context(), f.store, f.root, run, func(l string) { lines = append(lines, l) })
		return res, lines, err
	}
	wantCanceled := func(t *testing.T, res runner.Canceled, was store.RunState, kind store.FailureKind) {
		t.Helper()
		if res.Was != was || res.Run.State != store.RunFailed || res.Run.FailureKind != kind {
			t.Errorf("canceled: was %s, now %s (%s); want was %s, now failed (%s)", res.Was, res.Run.State, res.Run.FailureKind, was, kind)
		}
		if got := f.get(res.Run.ID); got.State != store.RunFailed || got.FailureKind != kind {
			t.Errorf("recorded %s (%s), want failed (%s)", got.State, got.FailureKind, kind)
		}
	}

	t.Run("Ended", func(t *testing.T) {
		_, _, err := cancel(f.run(store.RunComplete, deadPID(t), f.host))
		if err == nil || !strings.Contains(err.Error(), "has already ended: complete") {
			t.Errorf("got %v, want an error saying the run has ended", err)
		}
	})
	t.Run("ActiveElsewhere", func(t *testing.T) {
		run := f.run(store.RunActive, 4242, "other-host")
		_, _, err := cancel(run)
		if err == nil || !strings.Contains(err.Error(), "active on host other-host (pid 4242); run quire-hook cancel there") {
			t.Errorf("got %v, want an error naming the host", err)
		}
		if got := f.get(run.ID); got.State != store.RunActive {
			t.Errorf("run is %s, want left active", got.State)
		}
	})
	t.Run("PendingElsewhere", func(t *testing.T) {
		res, _, err := cancel(f.run(store.RunPending, 4242, "other-host"))
		if err != nil {
			t.Fatal(err)
		}
		wantCanceled(t, res, store.RunPending, store.FailCanceled)
		if res.Run.StartedAtMS != 0 {
			t.Errorf("a pending run canceled has started_at_ms %d", res.Run.StartedAtMS)
		}
	})
	t.Run("PendingOwnerGone", func(t *testing.T) {
		res, _, err := cancel(f.run(store.RunPending, deadPID(t), f.host))
		if err != nil {
			t.Fatal(err)
		}
		wantCanceled(t, res, store.RunPending, store.FailCanceled)
	})
	t.Run("ActiveOwnerGone", func(t *testing.T) {
		// Its processes may still run: reconcile ends it, and says so.
		run := f.run(store.RunActive, deadPID(t), f.host)
		res, lines, err := cancel(run)
		if err != nil {
			t.Fatal(err)
		}
		wantCanceled(t, res, store.RunActive, store.FailOrphaned)
		if len(lines) != 1 || !strings.Contains(lines[0], "reconciled run "+run.ID) {
			t.Errorf("say got %q, want reconcile's line", lines)
		}
	})
	t.Run("ActiveOwnerSignalled", func(t *testing.T) {
		t.Parallel()
		f := newCancelFixture(t)
		owner := f.owner(f.nextID(), "canceled")
		run := f.run(store.RunActive, owner.Process.Pid, f.host)
		res, err := runner.Cancel(t.Context(), f.store, f.root, run, func(string) {})
		if err != nil {
			t.Fatal(err)
		}
		if res.Was != store.RunActive || res.Run.FailureKind != store.FailCanceled {
			t.Errorf("was %s, now %s (%s); want recorded canceled by its owner", res.Was, res.Run.State, res.Run.FailureKind)
		}
		if err := owner.Wait(); err != nil {
			t.Errorf("owner: %v", err)
		}
	})
	t.Run("PendingSoleRunSignalled", func(t *testing.T) {
		// A hook waiting for its turn with nothing else to do is
		// signalled too, so that it exits rather than wait.
		t.Parallel()
		f := newCancelFixture(t)
		owner := f.owner(f.nextID(), "canceled")
		run := f.run(store.RunPending, owner.Process.Pid, f.host)
		res, err := runner.Cancel(t.Context(), f.store, f.root, run, func(string) {})
		if err != nil {
			t.Fatal(err)
		}
		if res.Was != store.RunPending || res.Run.FailureKind != store.FailCanceled {
			t.Errorf("was %s, now %s (%s)", res.Was, res.Run.State, res.Run.FailureKind)
		}
		if err := owner.Wait(); err != nil {
			t.Errorf("owner: %v", err)
		}
	})
	t.Run("PendingInQueueNotSignalled", func(t *testing.T) {
		// An async worker with other runs queued keeps working: the run
		// is recorded canceled and the worker skips it.
		t.Parallel()
		f := newCancelFixture(t)
		owner := f.owner(f.nextID(), "canceled")
		run := f.run(store.RunPending, owner.Process.Pid, f.host)
		other := f.run(store.RunPending, owner.Process.Pid, f.host)
		res, err := runner.Cancel(t.Context(), f.store, f.root, run, func(string) {})
		if err != nil {
			t.Fatal(err)
		}
		if res.Was != store.RunPending || res.Run.FailureKind != store.FailCanceled {
			t.Errorf("was %s, now %s (%s)", res.Was, res.Run.State, res.Run.FailureKind)
		}
		if got := f.get(other.ID); got.State != store.RunPending {
			t.Errorf("the other queued run is %s, want pending", got.State)
		}
		if err := owner.Process.Signal(syscall.Signal(0)); err != nil {
			t.Errorf("the worker was stopped: %v", err)
		}
	})
	t.Run("EndedFirst", func(t *testing.T) {
		t.Parallel()
		f := newCancelFixture(t)
		owner := f.owner(f.nextID(), "complete")
		run := f.run(store.RunActive, owner.Process.Pid, f.host)
		_, err := runner.Cancel(t.Context(), f.store, f.root, run, func(string) {})
		var ef *runner.EndedFirstError
		if !errors.As(err, &ef) || ef.Run.State != store.RunComplete {
			t.Errorf("got %v, want an EndedFirstError for the complete run", err)
		}
		_ = owner.Wait()
	})
}
