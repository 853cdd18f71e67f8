package hook

import (
	"context"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/report"
	"github.com/quire-ci/quire-hook/pkg/store"
)

func showCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:         "show",
		Usage:        "print a run, its jobs and every sh call",
		ArgsUsage:    runArgsUsage,
		Description:  runArgsHelp,
		Flags:        append(runSelectFlags(), &cli.BoolFlag{Name: "json", Usage: "print JSON (keys as in docs/SCHEMA.md)"}),
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			args, err := g.trailingFlags(c, "json", "ref=", "repo=")
			if err != nil {
				return err
			}
			s, dataRoot, run, args, err := g.openRun(c, args)
			if err != nil {
				return err
			}
			defer s.Close()
			if len(args) != 0 {
				return usageErr("show takes one run: %s", runArgsUsage)
			}
			rec, err := loadRecord(c.Context, s, run.ID)
			if err != nil {
				return usageErr("%v", err)
			}
			if c.Bool("json") {
				return writeJSON(g.io.Stdout, report.NewRecordJSON(rec, datadir.Root(dataRoot)))
			}
			printRecord(g.io.Stdout, rec, dataRoot)
			return nil
		},
	}
}

// loadRecord and printRecord are show's, shared with demo.
func loadRecord(ctx context.Context, s *store.Store, id string) (report.Record, error) {
	return report.Load(ctx, s, id)
}

func printRecord(w io.Writer, rec report.Record, dataRoot string) {
	report.PrintRecord(w, rec, datadir.Root(dataRoot))
}
