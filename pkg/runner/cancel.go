package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// CancelWait bounds how long Cancel waits for a signalled hook to record
// its run's end; cancelPoll is how often it looks.
const (
	CancelWait = 30 * time.Second
	cancelPoll = 100 * time.Millisecond
)

// Canceled is how Cancel ended a run.
type Canceled struct {
	// Was is the state the run was in when it was canceled: pending
	// or active.
	Was store.RunState
	// Run is the run as recorded once it ended: failed, canceled (or
	// orphaned when its hook had died).
	Run store.Run
}

// EndedFirstError is Cancel's error for a run that ended some other way
// (completed, failed on its own) before it could be canceled.
type EndedFirstError struct{ Run store.Run }

func (e *EndedFirstError) Error() string {
	return fmt.Sprintf("run %s ended %s before it could be canceled", e.Run.ID, stateText(e.Run))
}

// Cancel ends a pending or active run (SPEC §6) and returns how it was
// recorded:
//
//   - an active run whose hook process (owner_pid, on this host) is alive
//     gets its hook SIGTERMed: the hook kills the run's processes and
//     records it failed/canceled; Cancel waits for that record, at most
//     CancelWait, reconciling the run if the hook dies first;
//   - a pending run is recorded failed/canceled at once, and skipped
//     when its turn comes; its hook is signalled too when the run is all
//     that hook has left to do;
//   - a run whose hook died is reconciled (failed/orphaned): its
//     processes may still run. say gets reconcile's lines.
//
// A run that has ended, or is active on another host, is an error; one
// that ends some other way meanwhile is an *EndedFirstError.
func Cancel(ctx context.Context, s *store.Store, dataRoot string, run store.Run, say func(line string)) (Canceled, error) {
	host, _ := os.Hostname()
	for {
		if run.State.Ended() {
			return Canceled{}, fmt.Errorf("run %s has already ended: %s; only a pending or active run can be canceled", run.ID, stateText(run))
		}
		gone := OwnerGone(run, host)
		switch {
		case run.State == store.RunActive && gone:
			if _, err := Reconcile(ctx, s, dataRoot, say); err != nil {
				return Canceled{}, err
			}
			return canceled(ctx, s, run)
		case run.State == store.RunActive && run.OwnerHost != host:
			return Canceled{}, fmt.Errorf("run %s is active on host %s (pid %d); run quire-hook cancel there", run.ID, run.OwnerHost, run.OwnerPID)
		case gone || run.OwnerHost != host || !soleRun(ctx, s, run):
			// A pending run whose hook is gone, is elsewhere or has other
			// runs to do (an async worker's queue) is recorded canceled
			// without a signal, and skipped when its turn comes.
			ok, err := s.CancelPending(ctx, run.ID, "canceled by quire-hook cancel", time.Now().UnixMilli())
			if err != nil {
				return Canceled{}, err
			}
			if ok {
				return canceled(ctx, s, run)
			}
			// It started (or ended) meanwhile: look again.
			if run, err = s.GetRun(ctx, run.ID); err != nil {
				return Canceled{}, err
			}
			continue
		}
		if err := syscall.Kill(run.OwnerPID, syscall.SIGTERM); err != nil {
			if errors.Is(err, syscall.EPERM) {
				return Canceled{}, fmt.Errorf("signal the hook running run %s (pid %d): %w; run quire-hook cancel as its user or as root", run.ID, run.OwnerPID, err)
			}
			if !errors.Is(err, syscall.ESRCH) {
				return Canceled{}, fmt.Errorf("signal pid %d: %w", run.OwnerPID, err)
			}
			// It has just exited: its run is recorded, or reconcile's.
		}
		if err := waitEnded(ctx, s, dataRoot, run, host); err != nil {
			return Canceled{}, err
		}
		return canceled(ctx, s, run)
	}
}

// soleRun reports whether run is the only unfinished run of its owner
// process, so that signalling the owner stops nothing else.
func soleRun(ctx context.Context, s *store.Store, run store.Run) bool {
	runs, err := s.ListUnfinished(ctx)
	if err != nil {
		return false
	}
	for _, r := range runs {
		if r.ID != run.ID && r.OwnerPID == run.OwnerPID && r.OwnerHost == run.OwnerHost {
			return false
		}
	}
	return true
}

// waitEnded waits, at most CancelWait, until run is recorded ended by
// its signalled owner; an owner that dies first is reconciled.
func waitEnded(ctx context.Context, s *store.Store, dataRoot string, run store.Run, host string) error {
	deadline := time.Now().Add(CancelWait)
	for {
		now, err := s.GetRun(ctx, run.ID)
		if err != nil {
			return err
		}
		switch {
		case now.State.Ended():
			return nil
		case OwnerGone(now, host):
			if _, err := Reconcile(ctx, s, dataRoot, func(string) {}); err != nil {
				return err
			}
			continue
		case time.Now().After(deadline):
			return fmt.Errorf("run %s is still %s %s after SIGTERM to its hook (pid %d); wait and look again with quire-hook show %s, or kill -KILL %d and run quire-hook reconcile",
				run.ID, now.State, CancelWait, run.OwnerPID, run.ID, run.OwnerPID)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted while run %s was being canceled; see quire-hook show %s", run.ID, run.ID)
		case <-time.After(cancelPoll):
		}
	}
}

// canceled reads how run ended once it was canceled from state run.State.
func canceled(ctx context.Context, s *store.Store, run store.Run) (Canceled, error) {
	now, err := s.GetRun(ctx, run.ID)
	if err != nil {
		return Canceled{}, err
	}
	switch {
	case !now.State.Ended():
		return Canceled{}, fmt.Errorf("run %s is still %s; see quire-hook show %s", run.ID, now.State, run.ID)
	case now.State == store.RunFailed && (now.FailureKind == store.FailCanceled || now.FailureKind == store.FailOrphaned):
		return Canceled{Was: run.State, Run: now}, nil
	}
	return Canceled{}, &EndedFirstError{Run: now}
}

// stateText is a run's state with its failure kind: "failed (job)".
func stateText(r store.Run) string {
	if r.FailureKind != "" {
		return string(r.State) + " (" + string(r.FailureKind) + ")"
	}
	return string(r.State)
}
