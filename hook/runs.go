package hook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/report"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// runStates are the states a run can be in (runs.state).
var runStates = []string{
	string(store.RunPending), string(store.RunActive), string(store.RunComplete),
	string(store.RunFailed), string(store.RunSuperseded),
}

func runsCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "runs",
		Usage: "list recorded runs, newest first",
		Description: "Lists the runs of the data root (every repo sharing it unless --repo).\n" +
			"--ref takes a full ref name or a branch or tag name (main = refs/heads/main).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "repo", Usage: "only runs of this repo: runs.repo (team1/tools.git) or a unique suffix of it (tools)"},
			&cli.StringFlag{Name: "ref", Usage: "only runs of this ref: refs/heads/main, or main"},
			&cli.StringFlag{Name: "state", Usage: "only runs in this state: " + strings.Join(runStates, ", ")},
			&cli.IntFlag{Name: "limit", Value: 20, Usage: "at most this many runs; 0 for all"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array (keys as in docs/SCHEMA.md)"},
		},
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("runs takes no arguments; filter with --repo, --ref, --state")
			}
			f := store.RunFilter{Repo: c.String("repo"), Ref: c.String("ref"), State: store.RunState(c.String("state")), Limit: c.Int("limit")}
			if f.State != "" && !slices.Contains(runStates, string(f.State)) {
				return usageErr("unknown state %q; use one of %s", f.State, strings.Join(runStates, ", "))
			}
			if f.Limit < 0 {
				return usageErr("--limit must be 0 (all) or more, not %d", f.Limit)
			}
			s, dataRoot, err := g.openAdminStore(c.Context)
			if err != nil {
				return err
			}
			defer s.Close()
			if f.Repo, err = resolveRepo(c.Context, s, f.Repo); err != nil {
				return err
			}
			runs, err := report.ListRuns(c.Context, s, f)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				out := make([]report.RunJSON, 0, len(runs))
				for _, r := range runs {
					out = append(out, report.NewRunJSON(r, datadir.Root(dataRoot)))
				}
				return writeJSON(g.io.Stdout, out)
			}
			if len(runs) == 0 {
				// A mistyped --ref or --repo should not read as "nothing
				// ran yet".
				line, err := noRuns(c.Context, s, f)
				if err != nil {
					return err
				}
				fmt.Fprintln(g.io.Stdout, line)
				return nil
			}
			report.PrintRuns(g.io.Stdout, runs)
			return nil
		},
	}
}

// noRuns is the line runs prints when f matched no run: when the repo
// or ref it names has no runs at all, it says so and names those that
// have some.
func noRuns(ctx context.Context, s *store.Store, f store.RunFilter) (string, error) {
	repos, err := s.RepoNames(ctx)
	if err != nil || len(repos) == 0 {
		return "no runs", err
	}
	if f.Repo != "" && !slices.Contains(repos, f.Repo) {
		return "no runs of repo " + report.Printable(f.Repo) + "; the repos with runs: " + someNames(repos), nil
	}
	if f.Ref == "" {
		return "no runs", nil
	}
	latest, err := s.LatestPerRef(ctx, f.Repo, 0)
	if err != nil {
		return "", err
	}
	named := []string{f.Ref}
	if !strings.HasPrefix(f.Ref, "refs/") {
		named = append(named, "refs/heads/"+f.Ref, "refs/tags/"+f.Ref) // as report.ListRuns reads it
	}
	var refs []string
	for _, r := range latest {
		if slices.Contains(named, r.Ref) {
			return "no runs", nil // the other filters left none
		}
		refs = append(refs, r.Ref)
	}
	slices.Sort(refs)
	refs = slices.Compact(refs)
	where := ""
	if f.Repo != "" {
		where = " in " + report.Printable(f.Repo)
	}
	return "no runs of ref " + report.Printable(f.Ref) + where + "; the refs with runs: " + someNames(refs), nil
}

// someNames lists names for a message, the first few of them.
func someNames(names []string) string {
	const most = 8
	shown := make([]string, 0, most)
	for _, n := range names[:min(len(names), most)] {
		shown = append(shown, report.Printable(n))
	}
	list := strings.Join(shown, ", ")
	if len(names) > most {
		list += fmt.Sprintf(" and %d more", len(names)-most)
	}
	return list
}

// resolveRepo is report.ResolveRepo for runs, gc and the run
// selection of show, logs and cancel.
var resolveRepo = report.ResolveRepo

// adminDataRoot is the data root the operating commands read: --data-dir
// or $QUIRE_DATA_DIR need no repository, otherwise it is the
// repository's (--git-dir, $GIT_DIR or the current directory).
func (g *globals) adminDataRoot() (string, error) {
	if g.dataDir != "" {
		return g.abs(g.dataDir), nil
	}
	if d := g.io.Getenv("QUIRE_DATA_DIR"); d != "" {
		return g.abs(d), nil
	}
	r, err := g.openRepo(g.gitDir, g.io.Getenv("GIT_DIR"))
	if err != nil {
		return "", err
	}
	return g.dataRoot(r), nil
}

// openAdminStore opens the database of adminDataRoot. It creates
// nothing: the commands that read or administer records have nothing
// to do where no run was ever recorded, and a mistyped --data-dir must
// not leave an empty database behind.
func (g *globals) openAdminStore(ctx context.Context) (*store.Store, string, error) {
	dataRoot, err := g.adminDataRoot()
	if err != nil {
		return nil, "", err
	}
	db := datadir.Root(dataRoot).DB()
	if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
		return nil, "", usageErr("no database at %s: no run was ever recorded there; check --git-dir and --data-dir (or QUIRE_DATA_DIR)", db)
	}
	s, err := store.OpenRoot(ctx, dataRoot)
	if err != nil {
		return nil, "", err
	}
	return s, dataRoot, nil
}

// trailingFlags returns the command's arguments with the flags named in
// names, and the global flags, that follow them ("logs <run> --follow",
// "show <run> --git-dir X") applied: urfave/cli stops parsing flags at
// the first argument. A name ending in "=" is a flag with a value
// ("--ref main" or "--ref=main"); the others are boolean.
func (g *globals) trailingFlags(c *cli.Context, names ...string) ([]string, error) {
	names = append(names, "git-dir=", "data-dir=", "config=", "quiet", "q", "verbose", "v")
	defer g.read(c)
	var args []string
	rest := c.Args().Slice()
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			return append(args, rest[i+1:]...), nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			args = append(args, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch {
		case slices.Contains(names, name+"="):
			if !hasValue {
				if i+1 == len(rest) {
					return nil, usageErr("flag %s needs a value; see --help", a)
				}
				i++
				value = rest[i]
			}
		case slices.Contains(names, name) && !hasValue:
			value = "true"
		default:
			return nil, usageErr("unknown flag %s; see --help", a)
		}
		if err := c.Set(name, value); err != nil {
			return nil, usageErr("set %s: %v", a, err)
		}
	}
	return args, nil
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}
