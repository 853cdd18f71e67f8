package hook

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/retention"
	"github.com/quire-ci/quire-hook/pkg/store"
)

func gcCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "gc",
		Usage: "delete old runs: their rows and their directories together",
		Description: "Deletes finished runs (never pending or active ones) with their jobs, sh calls\n" +
			"and runs/<id> directories. --keep N spares the N newest runs of each repo;\n" +
			"--older-than D selects runs finished more than D ago (a Go duration such as\n" +
			"720h, or days: 30d). With both, a run is deleted only if both select it. With\n" +
			"neither, keep_runs of config.lua applies if it is set. Directories left by an\n" +
			"interrupted gc, and run directories without a row, are removed as well.\n" +
			"--dry-run says what would be removed and removes nothing.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "keep", Usage: "keep the `N` newest runs of each repo"},
			&cli.StringFlag{Name: "older-than", Usage: "delete runs finished more than `DURATION` ago (720h, 30d)"},
			&cli.StringFlag{Name: "repo", Usage: "only runs of this repo (runs.repo)"},
			&cli.BoolFlag{Name: "dry-run", Usage: "say what would be removed; remove nothing"},
			&cli.BoolFlag{Name: "json", Usage: "print what was removed as one JSON object"},
		},
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("gc takes no arguments; use --keep N or --older-than DURATION")
			}
			f := store.ExpireFilter{Repo: c.String("repo"), Keep: c.Int("keep")}
			if c.IsSet("keep") && f.Keep < 1 {
				return usageErr("--keep must be at least 1, not %d; to delete by age use --older-than", f.Keep)
			}
			if c.IsSet("older-than") {
				d, err := parseAge(c.String("older-than"))
				if err != nil {
					return err
				}
				f.FinishedBeforeMS = time.Now().Add(-d).UnixMilli()
			}
			s, dataRoot, err := g.openAdminStore(c.Context)
			if err != nil {
				return err
			}
			defer s.Close()
			if f.Repo, err = resolveRepo(c.Context, s, f.Repo); err != nil {
				return err
			}
			dry := c.Bool("dry-run")
			if !c.IsSet("keep") && !c.IsSet("older-than") {
				cfg, err := g.loadConfig(c.Context, dataRoot)
				if err != nil {
					return err
				}
				if f.Keep = cfg.KeepRuns; f.Keep <= 0 {
					hint := "nothing to do: pass --keep N or --older-than DURATION, or set keep_runs in config.lua"
					if c.Bool("json") {
						fmt.Fprintln(g.io.Stderr, hint)
						return writeJSON(g.io.Stdout, retention.GC{Filter: f, DryRun: dry})
					}
					fmt.Fprintln(g.io.Stdout, hint)
					return nil
				}
			}
			done, err := retention.Collect(c.Context, s, datadir.Root(dataRoot), f, dry, time.Now())
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return writeJSON(g.io.Stdout, done)
			}
			verb := "removed"
			if dry {
				verb = "would remove"
			}
			fmt.Fprintf(g.io.Stdout, "%s %d run%s (%s)\n", verb, done.Deleted.Runs, plural(done.Deleted.Runs, "", "s"), retention.Size(done.Deleted.Bytes))
			printLeftovers(g.io.Stdout, verb, done.Leftovers)
			return nil
		},
	}
}

// parseAge reads a Go duration, or a number of days such as 30d.
func parseAge(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if days, ok := strings.CutSuffix(s, "d"); ok && err != nil {
		n, nerr := strconv.ParseFloat(days, 64)
		if nerr == nil {
			d, err = time.Duration(n*24*float64(time.Hour)), nil
		}
	}
	if err != nil || d <= 0 {
		return 0, usageErr("--older-than %q: want a positive duration such as 720h or 30d", s)
	}
	return d, nil
}
