package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// Runs within one data root take turns: at most Settings.MaxParallelRuns
// of them run at once, each holding an exclusive flock on one slot file
// (<data-root>/quire.lock, quire.lock.1, …). Runs of one repo and ref
// never overlap: before a slot, a run takes the flock of its ref's own
// file under <data-root>/locks. A newer push to the same repo and ref
// supersedes a waiting or running run (SPEC 5); a replay neither
// supersedes nor is superseded, since the operator asked for each one.
//
// A flock ends with the process that holds it, so a hook that dies
// never leaves a turn taken.

// lockPoll is how often a waiting run tries the locks again and looks
// for a newer push; watchPoll is how often a running one looks.
const (
	lockPoll  = 100 * time.Millisecond
	watchPoll = 250 * time.Millisecond
)

// Superseded is the cause of a run that a newer push replaced.
type Superseded struct{ By string }

func (s *Superseded) Error() string { return "superseded by run " + s.By }

// endedWhileWaiting is the cause of a run whose row was ended while it
// waited for its turn, by 'quire-hook cancel': there is nothing left to
// run or to record.
type endedWhileWaiting struct{ row store.Run }

func (e *endedWhileWaiting) Error() string {
	return fmt.Sprintf("run %s was recorded %s (%s) while it waited", e.row.ID, e.row.State, e.row.FailureKind)
}

// turn is a run's place in the data root while it holds one.
type turn struct {
	files  []*os.File // the flocked files; closing one drops its flock
	waited bool       // whether some lock was taken when first tried
}

func (t *turn) release() {
	for _, f := range t.files {
		f.Close()
	}
	t.files = nil
}

// wait blocks until run may start and returns the function that lets
// the next one go, and whether the run had to wait. It gives up with a
// *Superseded error when a newer push to the same ref arrives first, or
// with ctx's error.
func (r *Runner) wait(ctx context.Context, run store.Run) (release func(), waited bool, err error) {
	t := &turn{}
	refLock, err := r.refLockPath(run)
	if err != nil {
		return nil, false, err
	}
	// The ref's own lock first: a run holding a slot waits for nothing.
	if err := r.take(ctx, t, run, []string{refLock}, func() string { return r.sameRefBlocker(ctx, run) }); err != nil {
		t.release()
		return nil, false, err
	}
	if err := r.take(ctx, t, run, r.slotPaths(), func() string { return r.slotBlockers(ctx) }); err != nil {
		t.release()
		return nil, false, err
	}
	return t.release, t.waited, nil
}

// slotPaths are the slot files of the data root, one per run that may
// run at once. The first is quire.lock, as when runs took turns one at
// a time.
func (r *Runner) slotPaths() []string {
	paths := make([]string, max(r.Settings.MaxParallelRuns, 1))
	for i := range paths {
		paths[i] = datadir.Root(r.DataRoot).Slot(i)
	}
	return paths
}

// refLockPath is the lock file of run's repo and ref, in a directory it
// creates if need be.
func (r *Runner) refLockPath(run store.Run) (string, error) {
	root := datadir.Root(r.DataRoot)
	if err := os.MkdirAll(root.Locks(), 0o755); err != nil {
		return "", fmt.Errorf("create lock directory: %w", err)
	}
	return root.RefLock(run.Repo, run.Ref), nil
}

// take blocks until it holds the flock of one of paths and adds that
// file to t. While it waits it looks for a newer push, and says once
// for which runs it waits (as blockers names them) and its place in the
// queue.
func (r *Runner) take(ctx context.Context, t *turn, run store.Run, paths []string, blockers func() string) error {
	files := make([]*os.File, 0, len(paths))
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	for _, path := range paths {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return fmt.Errorf("open run lock %s: %w", path, err)
		}
		files = append(files, f)
	}
	said := false
	for {
		for i, f := range files {
			err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if err == nil {
				t.files = append(t.files, f)
				files[i] = nil // kept: the deferred close skips it
				return nil
			}
			if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
				return fmt.Errorf("lock %s: %w", paths[i], err)
			}
		}
		t.waited = true
		if newer, err := r.newerPush(ctx, run); err != nil {
			return err
		} else if newer != "" {
			return &Superseded{By: newer}
		}
		if row, err := r.Store.GetRun(ctx, run.ID); err == nil && row.State != store.RunPending {
			return &endedWhileWaiting{row}
		}
		if !said {
			r.Progress.Infof("run %s is waiting for %s to finish; %s", run.ID, blockers(), r.place(ctx, run))
			said = true
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(lockPoll):
		}
	}
}

// sameRefBlocker names the run of the same repo and ref that holds its
// lock, as well as the records tell: the active one, else the oldest
// pending one queued before run (waiting for a slot itself).
func (r *Runner) sameRefBlocker(ctx context.Context, run store.Run) string {
	runs, err := r.Store.ListRuns(ctx, store.RunFilter{Repo: run.Repo, Ref: run.Ref, State: store.RunActive, Limit: 1})
	if err == nil && len(runs) > 0 {
		return describe(runs[:1])
	}
	pending, err := r.Store.ListRuns(ctx, store.RunFilter{Repo: run.Repo, Ref: run.Ref, State: store.RunPending})
	if err == nil {
		for i := len(pending) - 1; i >= 0; i-- { // oldest first
			if p := pending[i]; queuedBefore(p, run) {
				return describe(pending[i : i+1])
			}
		}
	}
	return "the run of " + run.Repo + " " + run.Ref
}

// slotBlockers names the runs that hold the slots, as well as the
// records tell.
func (r *Runner) slotBlockers(ctx context.Context) string {
	runs, err := r.Store.ListRuns(ctx, store.RunFilter{State: store.RunActive})
	if err != nil || len(runs) == 0 {
		return "another run"
	}
	return describe(runs)
}

// describe names runs for a waiting message: "run <id> (<repo> <ref>)",
// or "runs <id> (…), <id> (…)".
func describe(runs []store.Run) string {
	names := make([]string, len(runs))
	for i, run := range runs {
		names[i] = fmt.Sprintf("%s (%s %s)", run.ID, run.Repo, run.Ref)
	}
	if len(names) == 1 {
		return "run " + names[0]
	}
	return "runs " + strings.Join(names, ", ")
}

// place says how many runs of the data root wait ahead of run: the
// pending rows queued before it, less the older pushes to its ref that
// it supersedes.
func (r *Runner) place(ctx context.Context, run store.Run) string {
	pending, err := r.Store.ListRuns(ctx, store.RunFilter{State: store.RunPending})
	if err != nil {
		return "its place in the queue is unknown"
	}
	ahead := 0
	for _, p := range pending {
		if !queuedBefore(p, run) {
			continue
		}
		if run.Trigger == "push" && p.Trigger == "push" && p.Repo == run.Repo && p.Ref == run.Ref {
			continue // it gives way to run
		}
		ahead++
	}
	switch ahead {
	case 0:
		return "next in the queue"
	case 1:
		return "1 run ahead of it in the queue"
	}
	return fmt.Sprintf("%d runs ahead of it in the queue", ahead)
}

// queuedBefore reports whether a was queued before b, as NewerPush
// orders runs.
func queuedBefore(a, b store.Run) bool {
	return a.QueuedAtMS < b.QueuedAtMS || a.QueuedAtMS == b.QueuedAtMS && a.ID < b.ID
}

// newerPush returns the run that supersedes run, or "".
func (r *Runner) newerPush(ctx context.Context, run store.Run) (string, error) {
	if run.Trigger != "push" {
		return "", nil
	}
	return r.Store.NewerPush(ctx, run)
}

// watch cancels a running push run with a *Superseded cause as soon as
// a newer push to its ref is recorded; it returns when ctx ends.
func (r *Runner) watch(ctx context.Context, cancel context.CancelCauseFunc, run store.Run) {
	if run.Trigger != "push" {
		return
	}
	t := time.NewTicker(watchPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if newer, err := r.newerPush(ctx, run); err == nil && newer != "" {
			cancel(&Superseded{By: newer})
			return
		}
	}
}

// Queued rebuilds the Result of a pending run that Enqueue recorded,
// perhaps in another process, so that Execute can run it.
func (r *Runner) Queued(run store.Run) Result {
	return Result{
		RunID:  run.ID,
		RunDir: string(datadir.Root(r.DataRoot).Run(run.ID)),
		queued: time.UnixMilli(run.QueuedAtMS),
		row:    run,
	}
}
