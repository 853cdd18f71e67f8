package workspace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/pkg/datadir"
)

// Overlay workspaces.
//
// Where the hook may mount (root, or CAP_SYS_ADMIN), a Cache checkout
// leaves the cached tree where it is, <Dir>/<key>/tree, and mounts an
// overlay of it at the workspace: lowerdir the tree, upperdir and
// workdir fresh directories <Dir>/<key>/upper-<n> and work-<n>. Jobs
// then never write to the tree: overlayfs copies a file up before any
// change and records a removal as a whiteout in the upper dir. So the
// tree needs no stat to be trusted at the next checkout — it is brought
// to the new commit by the tree diff alone (diffSync), and its index
// (sealed) holds no entries. What could still change it at rest is a
// process that can write the data root itself, which could as well
// rewrite the database, the logs or a stat index: the same trust the
// stat-index path places in its index.
//
// The index is written as soon as the tree is at its commit, before the
// mount: a hook killed during the run leaves a tree the next checkout
// can reuse, and a mount that outlives it (at <run>/workspace, in the
// host's mount namespace) whose upper and work dirs the next holder of
// the lock detaches and removes (detachStale), and that everything
// removing a run directory detaches first (datadir.RemoveDetached).

// mountFn mounts an overlay; tests replace it to make mounting fail.
var mountFn = mountOverlay

// overlayFailed is set once a mount failed in this process: later
// checkouts take the stat-index path without trying again.
var overlayFailed atomic.Bool

// overlayPathOK reports whether dir can be named in overlay's option
// string, which takes ',' and ':' for separators and '\' for an escape.
// Such paths are refused rather than escaped.
func overlayPathOK(dir string) bool {
	return filepath.IsAbs(dir) && !strings.ContainsAny(dir, ",:\\")
}

// mountsListed reports whether /proc/self/mountinfo can be read: without
// it a mount left by a killed hook could not be found and detached
// before its run directory is removed, so no overlay is mounted.
var mountsListed = sync.OnceValue(func() bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	f.Close()
	return true
})

// useOverlay reports whether a checkout of c mounts an overlay, and the
// cache directory's real path to name in the mount options.
func (c Cache) useOverlay() (string, bool) {
	if c.NoOverlay || !canMount() || overlayFailed.Load() || !mountsListed() {
		return "", false
	}
	dir, err := filepath.Abs(c.Dir)
	if err == nil {
		dir, err = filepath.EvalSymlinks(dir)
	}
	return dir, err == nil && overlayPathOK(dir)
}

// syncLower brings the cached tree to commit and writes its sealed
// index: by the tree diff when the tree is sealed, by verify and diff
// (syncTree) when it comes back from the stat-index path, in full
// otherwise.
func (l *Lease) syncLower(ctx context.Context, gitDir string, commit plumbing.Hash, tree string, old *index, reusable bool) (*index, Stats, error) {
	if reusable {
		var idx *index
		var st Stats
		err := guard(func() (err error) {
			if old.sealed {
				idx, st, err = diffSync(ctx, gitDir, commit, tree, old, false)
				return err
			}
			// Jobs wrote in this tree (keep_workspace, or a process
			// that could not mount): verified once, it is sealed from
			// now on, as no job will see it again.
			full, st2, err := syncTree(ctx, gitDir, commit, tree, old)
			if err == nil {
				st = st2
				idx = &index{commit: full.commit, tree: full.tree, sealed: true, count: countEntries(full)}
			}
			return err
		})
		if err == nil {
			err = l.seal(idx)
		}
		if err == nil || ctx.Err() != nil {
			return idx, st, err
		}
		// Anything unsure (a cached tree whose objects were pruned, a
		// removal that failed): start afresh.
	}
	if err := datadir.RemoveAll(tree); err != nil {
		return nil, Stats{}, fmt.Errorf("remove cached tree: %w", err)
	}
	idx := &index{sealed: true}
	var st Stats
	err := guard(func() (err error) {
		st, err = materialize(ctx, gitDir, commit, tree, true, idx)
		return err
	})
	if err == nil {
		err = l.seal(idx)
	}
	return idx, st, err
}

// countEntries counts the files, symlinks and submodules of idx.
func countEntries(idx *index) int {
	n := 0
	for _, e := range idx.entries {
		if e.kind != kindDir {
			n++
		}
	}
	return n
}

// seal writes the sealed index of the tree, which is complete and will
// never be shown to a job.
func (l *Lease) seal(idx *index) error {
	idx.boot = bootID()
	if err := writeIndex(l.ent, idx); err != nil {
		return err
	}
	l.idx = idx
	return nil
}

// writeIndex writes idx as ent's index, atomically.
func writeIndex(ent string, idx *index) error {
	tmp := filepath.Join(ent, "index.tmp")
	err := os.WriteFile(tmp, idx.encode(), 0o644)
	if err == nil {
		err = os.Rename(tmp, filepath.Join(ent, "index"))
	}
	if err != nil {
		return fmt.Errorf("write workspace cache index: %w", err)
	}
	return nil
}

// mount mounts the overlay of tree at the workspace, with fresh upper
// and work dirs: those of a killed run's mount may still be in use by
// it, and overlayfs refuses an upper dir another mount uses.
func (l *Lease) mount(tree string) error {
	n := time.Now().UnixNano()
	upper := filepath.Join(l.ent, fmt.Sprintf("upper-%d", n))
	work := filepath.Join(l.ent, fmt.Sprintf("work-%d", n))
	err := os.Mkdir(upper, 0o755)
	if err == nil && chmodNeeded() {
		err = os.Chmod(upper, 0o755) // the workspace root's mode
	}
	if err == nil {
		err = os.Mkdir(work, 0o755)
	}
	if err == nil {
		err = prepareDir(l.dir)
	}
	if err == nil {
		if err = mountFn(tree, upper, work, l.dir); err != nil {
			// No overlay here (a file system overlayfs refuses, a
			// kernel without it, a denied mount): not tried again by
			// this process.
			overlayFailed.Store(true)
		}
	}
	if err != nil {
		_ = os.Remove(upper)
		_ = os.Remove(work)
		return fmt.Errorf("mount overlay workspace %s: %w", l.dir, err)
	}
	l.overlay, l.upper, l.work = true, upper, work
	return nil
}

// unmount takes the overlay off the workspace (lazily with lazy set, or
// when a process still uses it), removes what the jobs wrote (the upper
// and work dirs) and the empty mount point. The tree and its index stay
// in the cache: the overlay never wrote to them.
func (l *Lease) unmount(lazy bool) error {
	l.overlay = false
	if err := unmountOverlay(l.dir, lazy); err != nil {
		return fmt.Errorf("unmount workspace %s: %w", l.dir, err)
	}
	err := datadir.RemoveAll(l.upper)
	if werr := datadir.RemoveAll(l.work); err == nil {
		err = werr
	}
	if rerr := os.Remove(l.dir); err == nil {
		err = rerr
	}
	if err != nil {
		return fmt.Errorf("remove overlay workspace: %w", err)
	}
	return nil
}

// detachStale detaches the overlays of ent that a killed hook left
// mounted (their upper dir is in ent, or their lower dir is its tree),
// before their upper and work dirs are removed or the entry pruned. The
// caller holds ent's lock, so none of them is a live run's.
func detachStale(ent string) {
	if !canMount() {
		return // nothing here can have mounted one, nor can detach it
	}
	ent, err := filepath.Abs(ent)
	if err == nil {
		ent, err = filepath.EvalSymlinks(ent) // as the mount options name it
	}
	if err != nil {
		return
	}
	mounts, err := datadir.Mounts()
	if err != nil {
		return
	}
	// Only mount points inside the data root (<root>/cache/workspaces/
	// <key> is ent): where a hook mounts workspaces, and never a mount
	// above it that merely names ent in its options.
	root := filepath.Dir(filepath.Dir(filepath.Dir(ent)))
	for _, m := range mounts {
		opts := "," + m.Options + ","
		inside := strings.HasPrefix(m.Point, root+"/")
		if inside && m.FSType == "overlay" && (strings.Contains(opts, ",upperdir="+ent+"/") || strings.Contains(opts, ",lowerdir="+ent+"/tree,")) {
			_ = datadir.Detach(m.Point)
		}
	}
}
