package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// Runs within one data root execute one at a time: a run holds an
// exclusive flock on <data-root>/quire.lock while it is active. A newer
// push to the same repo and ref supersedes a waiting or running run
// (SPEC 5); a replay neither supersedes nor is superseded, since the
// operator asked for each one.

// lockPoll is how often a waiting run tries the lock again and looks for
// a newer push; watchPoll is how often a running one looks.
const (
	lockPoll  = 100 * time.Millisecond
	watchPoll = 250 * time.Millisecond
)

// Superseded is the cause of a run that a newer push replaced.
type Superseded struct{ By string }

func (s *Superseded) Error() string { return "superseded by run " + s.By }

// wait blocks until run may start and returns the function that lets
// the next one go. It gives up with a *Superseded error when a newer
// push to the same ref arrives first, or with ctx's error.
func (r *Runner) wait(ctx context.Context, run store.Run) (release func(), err error) {
	path := filepath.Join(r.DataRoot, "quire.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open run lock %s: %w", path, err)
	}
	unlock := func() { f.Close() } // closing the file drops the flock
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return unlock, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			unlock()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if newer, err := r.newerPush(ctx, run); err != nil || newer != "" {
			unlock()
			if err != nil {
				return nil, err
			}
			return nil, &Superseded{By: newer}
		}
		if !said {
			r.Progress.Infof("run %s is waiting for %s to finish", run.ID, r.holder(ctx))
			said = true
		}
		select {
		case <-ctx.Done():
			unlock()
			return nil, context.Cause(ctx)
		case <-time.After(lockPoll):
		}
	}
}

// holder names the run that holds the lock, as well as the records tell.
func (r *Runner) holder(ctx context.Context) string {
	runs, err := r.Store.ListRuns(ctx, store.RunFilter{State: "active", Limit: 1})
	if err != nil || len(runs) == 0 {
		return "another run"
	}
	return fmt.Sprintf("run %s (%s %s)", runs[0].ID, runs[0].Repo, runs[0].Ref)
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
		RunDir: filepath.Join(r.DataRoot, "runs", run.ID),
		queued: time.UnixMilli(run.QueuedAtMS),
		row:    run,
	}
}
