package hook

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/retention"
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
		Flags:        []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print what was changed as one JSON object"}},
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
			if c.Bool("json") {
				done, err := retention.Reconcile(c.Context, s, datadir.Root(dataRoot), true, time.Now())
				if err != nil {
					return err
				}
				return writeJSON(g.io.Stdout, done)
			}
			n, err := reconcile(c.Context, s, dataRoot, true, g.io.Stdout)
			if err != nil {
				return err
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
	swept, err := retention.Sweep(ctx, s, datadir.Root(dataRoot))
	if err != nil {
		fmt.Fprintf(w, "quire: warning: %v\n", err)
	}
	printLeftovers(w, "quire: removed", swept)
}

// reconcile ends the runs of this host whose owner process is gone and
// sweeps what an interrupted gc left (with strays, run directories
// without a row too); it prints a line per change on w and returns how
// many changes there were.
func reconcile(ctx context.Context, s *store.Store, dataRoot string, strays bool, w io.Writer) (int, error) {
	done, err := retention.Reconcile(ctx, s, datadir.Root(dataRoot), strays, time.Now())
	for _, o := range done.Orphans {
		fmt.Fprintln(w, o)
	}
	printLeftovers(w, "removed", done.Leftovers)
	return len(done.Orphans) + done.Leftovers.Runs, err
}

// printLeftovers says how many leftover run directories a sweep removed
// (as verb says), if any.
func printLeftovers(w io.Writer, verb string, c retention.Count) {
	if c.Runs > 0 {
		fmt.Fprintf(w, "%s %d leftover run director%s (%s)\n", verb, c.Runs, plural(c.Runs, "y", "ies"), retention.Size(c.Bytes))
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
