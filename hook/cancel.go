package hook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// cancelWait bounds how long cancel waits for a signalled hook to record
// its run's end; cancelPoll is how often it looks.
const (
	cancelWait = 30 * time.Second
	cancelPoll = 100 * time.Millisecond
)

func cancelCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "cancel",
		Usage:     "stop a pending or active run; it is recorded failed (canceled)",
		ArgsUsage: runArgsUsage,
		Description: "An active run's hook process (owner_pid, on this host) gets SIGTERM: it kills\n" +
			"the run's processes and records the run failed with failure_kind 'canceled';\n" +
			"cancel waits for that record, at most " + cancelWait.String() + ". A pending run is recorded\n" +
			"so at once (its hook is signalled too when the run is all it has left to do).\n" +
			"A run whose hook died is reconciled instead (failed, orphaned). A run that has\n" +
			"ended cannot be canceled.\n\n" + runArgsHelp,
		Flags:        runSelectFlags(),
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			args, err := trailingFlags(c, "ref=", "repo=")
			if err != nil {
				return err
			}
			s, dataRoot, run, args, err := g.openRun(c, args)
			if err != nil {
				return err
			}
			defer s.Close()
			if len(args) != 0 {
				return usageErr("cancel takes one run: %s", runArgsUsage)
			}
			return cancelRun(c.Context, s, dataRoot, run, g.io.Stdout)
		},
	}
}

// cancelRun ends run: through its owner process when that is alive on
// this host, in the records alone when the run is pending and nothing
// else waits on it, and through reconcile when its owner died.
func cancelRun(ctx context.Context, s *store.Store, dataRoot string, run store.Run, w io.Writer) error {
	if finished(run.State) {
		return usageErr("run %s has already ended: %s; only a pending or active run can be canceled", run.ID, runState(run))
	}
	host, _ := os.Hostname()
	gone := runner.OwnerGone(run, host)
	switch {
	case run.State == "active" && gone:
		// Its processes may still run: reconcile kills them.
		if _, err := reconcile(ctx, s, dataRoot, false, w); err != nil {
			return &exitError{code: ExitError, err: err}
		}
		return reportCanceled(ctx, s, run, w)
	case run.State == "active" && run.OwnerHost != host:
		return usageErr("run %s is active on host %s (pid %d); run quire-hook cancel there", run.ID, run.OwnerHost, run.OwnerPID)
	case gone || run.OwnerHost != host || !soleRun(ctx, s, run):
		// A pending run whose hook is gone, is elsewhere or has other
		// runs to do (an async worker's queue) is recorded canceled
		// without a signal, and skipped when its turn comes.
		ok, err := s.CancelPending(ctx, run.ID, "canceled by quire-hook cancel", time.Now().UnixMilli())
		if err != nil {
			return &exitError{code: ExitError, err: err}
		}
		if ok {
			fmt.Fprintf(w, "canceled run %s (%s %s): it was pending; recorded failed (canceled)\n", run.ID, run.Repo, run.Ref)
			return nil
		}
		// It started (or ended) meanwhile: look again.
		now, err := s.GetRun(ctx, run.ID)
		if err != nil {
			return &exitError{code: ExitError, err: err}
		}
		return cancelRun(ctx, s, dataRoot, now, w)
	}
	if err := syscall.Kill(run.OwnerPID, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.EPERM) {
			return usageErr("signal the hook running run %s (pid %d): %v; run quire-hook cancel as its user or as root", run.ID, run.OwnerPID, err)
		}
		if !errors.Is(err, syscall.ESRCH) {
			return &exitError{code: ExitError, err: fmt.Errorf("signal pid %d: %w", run.OwnerPID, err)}
		}
		// It has just exited: its run is recorded, or reconcile's.
	}
	if err := waitEnded(ctx, s, dataRoot, run); err != nil {
		return err
	}
	return reportCanceled(ctx, s, run, w)
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

// waitEnded waits, at most cancelWait, until run is recorded ended by
// its signalled owner; an owner that dies first is reconciled.
func waitEnded(ctx context.Context, s *store.Store, dataRoot string, run store.Run) error {
	host, _ := os.Hostname()
	deadline := time.Now().Add(cancelWait)
	for {
		now, err := s.GetRun(ctx, run.ID)
		if err != nil {
			return &exitError{code: ExitError, err: err}
		}
		switch {
		case finished(now.State):
			return nil
		case runner.OwnerGone(now, host):
			if _, err := runner.Reconcile(ctx, s, dataRoot, func(string) {}); err != nil {
				return &exitError{code: ExitError, err: err}
			}
			continue
		case time.Now().After(deadline):
			return usageErr("run %s is still %s %s after SIGTERM to its hook (pid %d); wait and look again with quire-hook show %s, or kill -KILL %d and run quire-hook reconcile",
				run.ID, now.State, cancelWait, run.OwnerPID, run.ID, run.OwnerPID)
		}
		select {
		case <-ctx.Done():
			return usageErr("interrupted while run %s was being canceled; see quire-hook show %s", run.ID, run.ID)
		case <-time.After(cancelPoll):
		}
	}
}

// reportCanceled says how the run ended; it is a failure (exit 1) when
// the run ended some other way than being canceled first.
func reportCanceled(ctx context.Context, s *store.Store, run store.Run, w io.Writer) error {
	now, err := s.GetRun(ctx, run.ID)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	switch {
	case !finished(now.State):
		return usageErr("run %s is still %s; see quire-hook show %s", run.ID, now.State, run.ID)
	case now.State == "failed" && (now.FailureKind == store.FailCanceled || now.FailureKind == "orphaned"):
		took := ""
		if d := span(now.StartedAtMS, now.FinishedAtMS); d != "-" {
			took = " after " + d
		}
		fmt.Fprintf(w, "canceled run %s (%s %s): it was %s; recorded %s%s\n", run.ID, run.Repo, run.Ref, run.State, runState(now), took)
		return nil
	}
	return &exitError{code: ExitFailed, err: fmt.Errorf("run %s ended %s before it could be canceled", run.ID, runState(now))}
}

// What names a run in show, logs and cancel.
const (
	runArgsUsage = "<run> (an id, a unique prefix of 4+ characters, or latest), or --ref REF"
	runArgsHelp  = "The run is named by its id, a unique prefix of it (4+ characters), or latest:\n" +
		"the newest run. --ref REF picks the newest run of that ref (main means\n" +
		"refs/heads/main, as in 'runs --ref'), --repo R the newest of that repo; with\n" +
		"them the run may be left out or given as latest."
)

// runSelectFlags pick a run without its id.
func runSelectFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "ref", Usage: "the newest run of this ref: refs/heads/main, or main"},
		&cli.StringFlag{Name: "repo", Usage: "the newest run of this repo (runs.repo or a unique suffix)"},
	}
}

// openRun opens the data root's store (never creating one) and selects
// the run the command's arguments and --ref/--repo name; it returns the
// arguments left. The caller closes the store.
func (g *globals) openRun(c *cli.Context, args []string) (*store.Store, string, store.Run, []string, error) {
	s, dataRoot, err := g.openAdminStore(c.Context)
	if err != nil {
		return nil, "", store.Run{}, nil, err
	}
	run, rest, err := selectRun(c, s, args)
	if err != nil {
		s.Close()
		return nil, "", store.Run{}, nil, err
	}
	return s, dataRoot, run, rest, nil
}

// selectRun finds the run that args (after trailingFlags) and the
// --ref and --repo flags name, and returns the arguments left. Without
// --ref or --repo, args[0] is an id, a unique prefix or "latest"; with
// them, the newest matching run is taken and args[0] may be "latest"
// or left out.
func selectRun(c *cli.Context, s *store.Store, args []string) (store.Run, []string, error) {
	ctx := c.Context
	ref, repo := c.String("ref"), c.String("repo")
	if ref == "" && repo == "" {
		if len(args) == 0 {
			return store.Run{}, nil, usageErr("%s needs a run: %s", c.Command.Name, runArgsUsage)
		}
		if args[0] != "latest" {
			run, err := s.GetRun(ctx, args[0])
			if err != nil {
				return store.Run{}, nil, usageErr("%v; see quire-hook runs", err)
			}
			return run, args[1:], nil
		}
	}
	if len(args) > 0 && args[0] == "latest" {
		args = args[1:]
	}
	repo, err := resolveRepo(ctx, s, repo)
	if err != nil {
		return store.Run{}, nil, err
	}
	runs, err := listRuns(ctx, s, store.RunFilter{Repo: repo, Ref: ref, Limit: 1})
	if err != nil {
		return store.Run{}, nil, err
	}
	if len(runs) == 0 {
		var what []string
		if repo != "" {
			what = append(what, "repo "+repo)
		}
		if ref != "" {
			what = append(what, "ref "+ref)
		}
		if len(what) == 0 {
			return store.Run{}, nil, usageErr("no run recorded yet")
		}
		return store.Run{}, nil, usageErr("no run of %s; see quire-hook runs", strings.Join(what, " and "))
	}
	return runs[0], args, nil
}
