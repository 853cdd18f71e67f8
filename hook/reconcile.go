package hook

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

func reconcileCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "reconcile",
		Usage: "record runs whose hook process died as failed (orphaned)",
		Description: "A run left pending or active by a hook process that is gone (its owner_pid\n" +
			"is not alive on this host) becomes failed with failure_kind 'orphaned', and its\n" +
			"pending and active jobs aborted; what its jobs left running is killed. Runs of\n" +
			"live processes, or of other hosts, are left alone. Leftover directories of\n" +
			"an interrupted gc are removed too. Every post-receive and replay does this\n" +
			"first, printing only what it changed.",
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("reconcile takes no arguments")
			}
			s, dataRoot, err := g.openAdminStore(c.Context)
			if err != nil {
				return err
			}
			defer s.Close()
			n, err := reconcile(c.Context, s, dataRoot, true, g.io.Stdout)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			if n == 0 {
				fmt.Fprintln(g.io.Stdout, "nothing to reconcile")
			}
			return nil
		},
	}
}

// sweepQuietly finishes, at the start of a hook, what an interrupted gc
// left in the trash; it prints only what it changed, and a failure is a
// warning, since the push's own run matters more. Runs whose hook died
// are reconciled by each run once it holds its turn (runner.Reconcile).
// The search for run directories without a row, whose cost grows with
// the history, is left to the reconcile and gc commands.
func sweepQuietly(ctx context.Context, s *store.Store, dataRoot string, w io.Writer) {
	swept, err := sweep(ctx, s, dataRoot, false, time.Now())
	if err != nil {
		fmt.Fprintf(w, "quire: warning: %v\n", err)
	}
	if swept.runs > 0 {
		fmt.Fprintf(w, "quire: removed %d leftover run director%s (%s)\n", swept.runs, plural(swept.runs, "y", "ies"), bytesString(swept.bytes))
	}
}

// reconcile ends the runs of this host whose owner process is gone and
// sweeps what an interrupted gc left (with strays, run directories
// without a row too); it prints a line per change on w and returns how
// many changes there were.
func reconcile(ctx context.Context, s *store.Store, dataRoot string, strays bool, w io.Writer) (int, error) {
	n, err := runner.Reconcile(ctx, s, dataRoot, func(line string) { fmt.Fprintln(w, line) })
	if err != nil {
		return n, err
	}
	swept, err := sweep(ctx, s, dataRoot, strays, time.Now())
	if err != nil {
		return n, fmt.Errorf("reconcile: %w", err)
	}
	if swept.runs > 0 {
		fmt.Fprintf(w, "removed %d leftover run director%s (%s)\n", swept.runs, plural(swept.runs, "y", "ies"), bytesString(swept.bytes))
		n += swept.runs
	}
	return n, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
