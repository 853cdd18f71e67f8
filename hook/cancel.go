package hook

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/report"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

func cancelCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "cancel",
		Usage:     "stop a pending or active run; it is recorded failed (canceled)",
		ArgsUsage: runArgsUsage,
		Description: "An active run's hook process (owner_pid, on this host) gets SIGTERM: it kills\n" +
			"the run's processes and records the run failed with failure_kind 'canceled';\n" +
			"cancel waits for that record, at most " + runner.CancelWait.String() + ". A pending run is recorded\n" +
			"so at once (its hook is signalled too when the run is all it has left to do).\n" +
			"A run whose hook died is reconciled instead (failed, orphaned). A run that has\n" +
			"ended cannot be canceled.\n\n" + runArgsHelp,
		Flags:        runSelectFlags(),
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			args, err := g.trailingFlags(c, "ref=", "repo=")
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
			say := func(line string) { fmt.Fprintln(g.io.Stdout, line) }
			res, err := runner.Cancel(c.Context, s, dataRoot, run, say)
			var endedFirst *runner.EndedFirstError
			if errors.As(err, &endedFirst) {
				return &exitError{code: ExitFailed, err: err}
			}
			if err != nil {
				return err
			}
			took := ""
			if d := report.Span(res.Run.StartedAtMS, res.Run.FinishedAtMS); d != "-" {
				took = " after " + d
			}
			say(fmt.Sprintf("canceled run %s (%s %s): it was %s; recorded %s%s",
				run.ID, report.Printable(run.Repo), report.Printable(run.Ref), res.Was, report.RunState(res.Run), took))
			return nil
		},
	}
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
	runs, err := report.ListRuns(ctx, s, store.RunFilter{Repo: repo, Ref: ref, Limit: 1})
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
