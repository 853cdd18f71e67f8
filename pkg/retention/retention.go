// Package retention deletes old runs, rows and directories together and
// never one without the other (SPEC §10): what `quire-hook gc` and
// config.lua's keep_runs do, and the cleanup every hook and reconcile
// start with.
//
// # The trash protocol
//
// Delete removes a run in three steps: it moves runs/<id> to
// runs/.trash/<id>, deletes the run's row (its jobs and sh calls go with
// it), then removes the trashed tree. The move is the point of no return:
// one rename within runs/, so on one file system and atomic, after which
// the run is being deleted whatever happens next. Before the move nothing
// has changed; after it the row may still be there, and the tree may be
// half removed, but the directory is no longer where readers look for it.
//
// A gc interrupted after the move (killed, a full disk, a lost database
// connection) leaves its run in the trash, with or without its row. Sweep
// finishes it: it deletes the row if it is still there and removes the
// tree. Every hook sweeps before its run (one look at a directory that is
// almost always empty), and so do gc, reconcile and Keep, so a trashed run
// loses its row at the latest at the next of those.
//
// Run directories that have no row at all never come from this protocol;
// Leftovers removes them with the trash (gc and reconcile do, not hooks:
// it reads every row and every run directory).
//
// Pending and active runs are never selected for deletion; a run's row is
// written before its directory, which is how a directory without a row
// is told from a run being created (and StrayAge guards the rest).
package retention

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// StrayAge is how old a run directory without a row must be before
// Leftovers removes it, so as not to race a run being created.
const StrayAge = time.Minute

// Removed is one run directory that retention removed (or, in a dry
// run, would remove), with its row where it had one.
type Removed struct {
	ID    string `json:"id"`
	Repo  string `json:"repo,omitempty"` // runs.repo; "" for a leftover (Sweep, Leftovers)
	Bytes int64  `json:"bytes"`          // what the directory's files held
}

// Count is what one retention step removed, or would remove: Expired
// and FindLeftovers count without removing, for `gc --dry-run`.
type Count struct {
	Runs    int
	Bytes   int64
	Removed []Removed // in the order removed; nil for none
}

// Add counts r.
func (c *Count) Add(r Removed) {
	c.Runs++
	c.Bytes += r.Bytes
	c.Removed = append(c.Removed, r)
}

// Keep deletes the finished runs of repo ("" for every repo) other than
// the keep newest of each repo: config.lua's keep_runs, applied after
// each run, and `gc --keep`. It first finishes what an interrupted gc
// left in the trash. keep <= 0 deletes nothing.
func Keep(ctx context.Context, s *store.Store, root datadir.Root, keep int, repo string) (Count, error) {
	if keep <= 0 {
		return Count{}, nil
	}
	if _, err := Sweep(ctx, s, root); err != nil {
		return Count{}, err
	}
	return Expire(ctx, s, root, store.ExpireFilter{Repo: repo, Keep: keep})
}

// Expire deletes the runs f selects, oldest first. Pending and active
// runs are never selected.
func Expire(ctx context.Context, s *store.Store, root datadir.Root, f store.ExpireFilter) (Count, error) {
	var c Count
	runs, err := s.ListExpired(ctx, f)
	if err != nil {
		return c, err
	}
	for _, r := range runs {
		n, err := Delete(ctx, s, root, r.ID)
		if err != nil {
			return c, err
		}
		c.Add(Removed{ID: r.ID, Repo: r.Repo, Bytes: n})
	}
	return c, nil
}

// Delete deletes run id, its directory and its row, by the trash
// protocol, and returns the bytes its files held. A run without a
// directory, or without a row, is deleted all the same.
func Delete(ctx context.Context, s *store.Store, root datadir.Root, id string) (int64, error) {
	if err := os.MkdirAll(root.Trash(), 0o755); err != nil {
		return 0, fmt.Errorf("delete run %s: %w", id, err)
	}
	err := os.Rename(string(root.Run(id)), root.TrashRun(id))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("delete run %s: move its directory to the trash: %w", id, err)
	}
	if err := s.DeleteRun(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	n, err := removeTree(root.TrashRun(id))
	if err != nil {
		return n, fmt.Errorf("delete run %s: %w", id, err)
	}
	return n, nil
}

// Sweep finishes the deletes that interrupted gcs left in the trash:
// it deletes the rows of the trashed runs that still have one and
// removes their directories. Entries of the trash that are not named
// like a run are left alone.
func Sweep(ctx context.Context, s *store.Store, root datadir.Root) (Count, error) {
	var c Count
	ids, err := trashed(root)
	if err != nil {
		return c, err
	}
	for _, id := range ids {
		if err := s.DeleteRun(ctx, id); err != nil && !errors.Is(err, store.ErrNotFound) {
			return c, err
		}
		n, err := removeTree(root.TrashRun(id))
		if err != nil {
			return c, fmt.Errorf("finish deleting run %s: %w", id, err)
		}
		c.Add(Removed{ID: id, Bytes: n})
	}
	return c, nil
}

// Leftovers removes what Sweep removes, then the run directories that
// have no row and were last modified StrayAge or more before now. It
// reads every run directory and every row, so hooks leave it to gc and
// reconcile.
func Leftovers(ctx context.Context, s *store.Store, root datadir.Root, now time.Time) (Count, error) {
	c, err := Sweep(ctx, s, root)
	if err != nil {
		return c, err
	}
	ids, err := strays(ctx, s, root, now)
	if err != nil {
		return c, err
	}
	for _, id := range ids {
		n, err := Delete(ctx, s, root, id)
		if err != nil {
			return c, err
		}
		c.Add(Removed{ID: id, Bytes: n})
	}
	return c, nil
}

// Expired counts what Expire would delete, deleting nothing.
func Expired(ctx context.Context, s *store.Store, root datadir.Root, f store.ExpireFilter) (Count, error) {
	var c Count
	runs, err := s.ListExpired(ctx, f)
	for _, r := range runs {
		c.Add(Removed{ID: r.ID, Repo: r.Repo, Bytes: treeSize(string(root.Run(r.ID)))})
	}
	return c, err
}

// FindLeftovers counts what Leftovers would remove, removing nothing.
func FindLeftovers(ctx context.Context, s *store.Store, root datadir.Root, now time.Time) (Count, error) {
	var c Count
	ids, err := trashed(root)
	if err != nil {
		return c, err
	}
	for _, id := range ids {
		c.Add(Removed{ID: id, Bytes: treeSize(root.TrashRun(id))})
	}
	if ids, err = strays(ctx, s, root, now); err != nil {
		return c, err
	}
	for _, id := range ids {
		c.Add(Removed{ID: id, Bytes: treeSize(string(root.Run(id)))})
	}
	return c, nil
}

// trashed lists the runs in the trash.
func trashed(root datadir.Root) ([]string, error) {
	names, err := readDirNames(root.Trash())
	return slices.DeleteFunc(names, func(id string) bool { return uuid.Validate(id) != nil }), err
}

// strays lists the run directories that have no row and were last
// modified StrayAge or more before now.
func strays(ctx context.Context, s *store.Store, root datadir.Root, now time.Time) ([]string, error) {
	// The directories before the rows: a run's row is written before its
	// directory, so every directory listed whose run exists has its row
	// in the list.
	names, err := readDirNames(root.Runs())
	if err != nil {
		return nil, err
	}
	states, err := s.RunStates(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(names, func(id string) bool {
		if _, ok := states[id]; ok || uuid.Validate(id) != nil {
			return true
		}
		info, err := os.Lstat(string(root.Run(id)))
		return err != nil || !info.IsDir() || now.Sub(info.ModTime()) < StrayAge
	}), nil
}

// readDirNames lists a directory, which may not exist.
func readDirNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// removeTree removes a directory tree and returns the bytes its files
// held; a tree that is not there is fine. An error names the file that
// could not be removed. A run's workspace that a killed hook left
// mounted (an overlay) is detached first, never deleted through.
func removeTree(dir string) (int64, error) {
	if err := datadir.Detach(dir); err != nil {
		return 0, err
	}
	n := treeSize(dir)
	return n, datadir.RemoveAll(dir)
}

// treeSize is the bytes the regular files under dir hold, as far as
// they can be read.
func treeSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
