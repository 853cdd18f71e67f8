package hook

import (
	"errors"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/report"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

func logsCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print the logs of a run, or of one of its jobs",
		ArgsUsage: "<run> [<job>]",
		Description: "Prints the output of every job of the run in run order (or of one job): the\n" +
			"lines of each sh call (jobs/<job>/sh-N.log) and of job.log (q.log, print and the\n" +
			"job's error), merged in time order. Lines split in the file (over 16 KiB) are\n" +
			"joined back; a line over 1 MiB is printed as several.\n\n" +
			"Lines starting with '==> ' are headers: '==> job <job>: <state>' before each\n" +
			"job (when every job is printed), '==> <job> sh-N (exit E): <cmd>' before the output of an sh call (just\n" +
			"'==> <job> sh-N' while it runs: its command is recorded when it ends), and\n" +
			"'==> <job> job.log' before job.log lines. A stderr line starts with '! '\n" +
			"(grep '^! '; with --timestamps, after the time). Following, a job or sh call\n" +
			"whose header was printed before it ended gets its header again once it has,\n" +
			"with its final state or exit code, and logs exits 0 for a run that completed\n" +
			"(or was superseded), 1 for one that failed.\n\n" + runArgsHelp,
		Flags: append(runSelectFlags(),
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "keep printing new lines until the run ends; exit 1 if it failed"},
			&cli.BoolFlag{Name: "timestamps", Aliases: []string{"t"}, Usage: "start each line with its time (RFC 3339, UTC)"},
		),
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			args, err := g.trailingFlags(c, "follow", "f", "timestamps", "t", "ref=", "repo=")
			if err != nil {
				return err
			}
			s, dataRoot, run, args, err := g.openRun(c, args)
			if err != nil {
				return err
			}
			defer s.Close()
			if len(args) > 1 {
				return usageErr("logs takes a run and optionally a job: %s [<job>]", runArgsUsage)
			}
			host, _ := os.Hostname()
			l := report.Logs{
				Store: s, Root: datadir.Root(dataRoot), Run: run,
				Follow: c.Bool("follow"), Timestamps: c.Bool("timestamps"),
				OwnerGone: func(r store.Run) bool { return runner.OwnerGone(r, host) },
			}
			if len(args) == 1 {
				l.Job = args[0]
			}
			err = l.Print(c.Context, g.io.Stdout)
			if errors.Is(err, report.ErrRunFailed) {
				return errRunFailed // the headers said why
			}
			return err
		},
	}
}
