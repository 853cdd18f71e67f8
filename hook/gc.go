package hook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// trashDir, runs/.trash, holds the run directories gc is deleting.
// Moving runs/<id> to runs/.trash/<id> is the point of no return: a run
// whose directory is in the trash loses its row too, at the latest at the
// next hook, gc or reconcile, so that rows and directories never outlive
// each other. Being inside runs/ keeps the move on one file system, and
// being a directory of its own makes checking it cheap for every hook.
const trashDir = ".trash"

// strayAge is how old a run directory without a row must be before a
// sweep removes it, so as not to race a run being created.
const strayAge = time.Minute

func gcCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "gc",
		Usage: "delete old runs: their rows and their directories together",
		Description: "Deletes finished runs (never pending or active ones) with their jobs, sh calls\n" +
			"and runs/<id> directories. --keep N spares the N newest runs of each repo;\n" +
			"--older-than D selects runs finished more than D ago (a Go duration such as\n" +
			"720h, or days: 30d). With both, a run is deleted only if both select it. With\n" +
			"neither, keep_runs of config.lua applies if it is set. Directories left by an\n" +
			"interrupted gc, and run directories without a row, are removed as well.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "keep", Usage: "keep the `N` newest runs of each repo"},
			&cli.StringFlag{Name: "older-than", Usage: "delete runs finished more than `DURATION` ago (720h, 30d)"},
			&cli.StringFlag{Name: "repo", Usage: "only runs of this repo (runs.repo)"},
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
			if !c.IsSet("keep") && !c.IsSet("older-than") {
				cfg, err := g.loadConfig(c.Context, dataRoot)
				if err != nil {
					return err
				}
				if cfg.KeepRuns <= 0 {
					fmt.Fprintln(g.io.Stdout, "nothing to do: pass --keep N or --older-than DURATION, or set keep_runs in config.lua")
					return nil
				}
				f.Keep = cfg.KeepRuns
			}
			return runGC(c.Context, s, dataRoot, f, g.io.Stdout)
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

// runGC deletes the runs f selects, sweeps, and says what it removed.
func runGC(ctx context.Context, s *store.Store, dataRoot string, f store.ExpireFilter, w io.Writer) error {
	removed, err := expire(ctx, s, dataRoot, f)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	swept, err := sweep(ctx, s, dataRoot, true, time.Now())
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	fmt.Fprintf(w, "removed %d run%s (%s)\n", removed.runs, plural(removed.runs, "", "s"), bytesString(removed.bytes))
	if swept.runs > 0 {
		fmt.Fprintf(w, "removed %d leftover run director%s (%s)\n", swept.runs, plural(swept.runs, "y", "ies"), bytesString(swept.bytes))
	}
	return nil
}

// gcKeep deletes the finished runs of repo ("" for every repo) other
// than the keep newest of each repo, rows and directories together, and
// returns how many it deleted. keep <= 0 deletes nothing. It is the
// retention of config.lua's keep_runs, run after each run.
func gcKeep(ctx context.Context, s *store.Store, dataRoot string, keep int, repo string) (removed int, err error) {
	if keep <= 0 {
		return 0, nil
	}
	// Finish what an interrupted gc left first: it costs a look at an
	// empty directory.
	if _, err := sweep(ctx, s, dataRoot, false, time.Now()); err != nil {
		return 0, err
	}
	r, err := expire(ctx, s, dataRoot, store.ExpireFilter{Repo: repo, Keep: keep})
	return r.runs, err
}

// gcCount is what a gc removed.
type gcCount struct {
	runs  int
	bytes int64
}

// expire deletes the runs f selects, oldest first.
func expire(ctx context.Context, s *store.Store, dataRoot string, f store.ExpireFilter) (gcCount, error) {
	var c gcCount
	runs, err := s.ListExpired(ctx, f)
	if err != nil {
		return c, err
	}
	for _, r := range runs {
		n, err := deleteRun(ctx, s, dataRoot, r.ID)
		if err != nil {
			return c, err
		}
		c.runs++
		c.bytes += n
	}
	return c, nil
}

// deleteRun deletes a run's directory and row: it moves the directory to
// the trash, deletes the row, then empties the trash. Interrupted after
// the move, the next sweep finishes the job. It returns the bytes freed.
func deleteRun(ctx context.Context, s *store.Store, dataRoot, id string) (int64, error) {
	runs := filepath.Join(dataRoot, "runs")
	trash := filepath.Join(runs, trashDir, id)
	if err := os.MkdirAll(filepath.Dir(trash), 0o755); err != nil {
		return 0, fmt.Errorf("delete run %s: %w", id, err)
	}
	if err := os.Rename(filepath.Join(runs, id), trash); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("delete run %s: move its directory to the trash: %w", id, err)
	}
	if err := s.DeleteRun(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	return removeTree(trash)
}

// sweep removes what interrupted gcs left in the trash, deleting the rows
// of those runs if they are still there. With strays, it also removes run
// directories older than strayAge that have no row, which takes a look at
// every run directory and row.
func sweep(ctx context.Context, s *store.Store, dataRoot string, strays bool, now time.Time) (gcCount, error) {
	var c gcCount
	runs := filepath.Join(dataRoot, "runs")
	trash := filepath.Join(runs, trashDir)
	trashed, err := readDirNames(trash)
	if err != nil {
		return c, err
	}
	for _, id := range trashed {
		if uuid.Validate(id) != nil {
			continue // not ours
		}
		if err := s.DeleteRun(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return c, err
		}
		n, err := removeTree(filepath.Join(trash, id))
		if err != nil {
			return c, err
		}
		c.runs++
		c.bytes += n
	}
	if !strays {
		return c, nil
	}

	// List the directories before the rows: a run's row is written
	// before its directory, so every directory listed whose run exists
	// has its row in the list.
	names, err := readDirNames(runs)
	if err != nil {
		return c, err
	}
	states, err := s.RunStates(ctx)
	if err != nil {
		return c, err
	}
	for _, id := range names {
		if _, ok := states[id]; ok || uuid.Validate(id) != nil {
			continue
		}
		info, err := os.Lstat(filepath.Join(runs, id))
		if err != nil || !info.IsDir() || now.Sub(info.ModTime()) < strayAge {
			continue
		}
		n, err := deleteRun(ctx, s, dataRoot, id)
		if err != nil {
			return c, err
		}
		c.runs++
		c.bytes += n
	}
	return c, nil
}

// readDirNames lists a directory, which may not exist.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	return names, nil
}

// removeTree removes a directory tree and returns the bytes its files
// held; a tree that is not there is fine.
func removeTree(dir string) (int64, error) {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil {
		return n, fmt.Errorf("remove %s: %w", dir, err)
	}
	return n, nil
}

// bytesString renders a byte count for people: 512 B, 1.5 KiB, 3.2 MiB.
func bytesString(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
