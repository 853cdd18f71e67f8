package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/pkg/datadir"
)

// Cache keeps the last tree materialized for each key (a repository),
// so that the next checkout of a nearby commit only writes what changed.
// Its zero value is unusable: set Dir. Dir must be on the same file
// system as the workspaces, as trees move between them by rename.
//
// Where the process may mount (root, CAP_SYS_ADMIN) and NoOverlay is
// not set, a workspace is an overlay mount of the cached tree, which
// stays in the cache and is never written by jobs (see overlay.go);
// elsewhere the tree is moved into the workspace and checked against a
// stat index when it comes back.
//
// Layout, for each key:
//
//	<Dir>/<key>.lock     flock held from Checkout to Return or Release
//	<Dir>/<key>/tree     the pristine tree (an overlay's lower dir)
//	<Dir>/<key>/index    its commit and stat index (or, sealed, just its
//	                     tree), written after tree
//	<Dir>/<key>/stamp    marks the file system clock after each checkout
//	<Dir>/<key>/upper-<n>, work-<n>   an overlay workspace's other dirs
//
// Anything else in <Dir>/<key> is a leftover of a killed process and is
// removed by the next holder of the lock.
type Cache struct {
	Dir string
	// NoOverlay keeps workspaces plain directories (the stat-index
	// path) even where the process could mount: for keep_workspace,
	// whose workspace the operator must find after the run, and for
	// tests of that path.
	NoOverlay bool
}

// Lease is a checked-out workspace of a Cache. Exactly one of Return or
// Release must be called once the workspace's jobs are done; a nil
// *Lease (the checkout did not use the cache) accepts both.
type Lease struct {
	lock *os.File
	ent  string
	dir  string
	idx  *index
	// overlay is set while dir is an overlay mount of ent's tree with
	// upper and work as its other dirs.
	overlay     bool
	upper, work string
}

// checkKey refuses a key that is not one plain file name.
func checkKey(key string) error {
	if key == "" || key == "." || key == ".." || strings.ContainsAny(key, `/\`) || strings.HasSuffix(key, ".lock") {
		return fmt.Errorf("bad workspace cache key %q", key)
	}
	return nil
}

// lock takes the lock of key, or returns nil when another process holds
// it or the cache cannot be used.
func (c Cache) lock(key string) *os.File {
	if !reuseSupported || checkKey(key) != nil || c.Dir == "" {
		return nil
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil
	}
	path := filepath.Join(c.Dir, key+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil
	}
	// Prune removes a lock file only while holding it: a lock on a file
	// no longer at path locks nothing.
	if ok, err := tryLock(f); err != nil || !ok || !sameFile(f, path) {
		f.Close()
		return nil
	}
	return f
}

// Checkout writes the tree of commit into dir, as Materialize does, with
// the same result byte for byte and mode for mode. When the cache holds
// a tree for key, it is brought to commit by the tree diff, so the cost
// grows with what changed: as the lower dir of an overlay mounted at
// dir, when the process may mount (the tree never saw a job, so the
// diff alone is enough), else moved to dir after every entry is checked
// against the stat index taken when it was written (anything changed,
// added, chmodded or replaced since is removed). Without a usable
// cached tree — none, a torn index, the lock held by another checkout,
// any doubt — it materializes in full.
//
// The returned Lease is nil when the cache was not used (the lock was
// busy, or reuse is unsupported here). On error the partly written dir
// is left for the caller to remove, nothing is mounted there, and no
// Lease is returned.
func (c Cache) Checkout(ctx context.Context, key, gitDir string, commit plumbing.Hash, dir string) (*Lease, Stats, error) {
	lock := c.lock(key)
	if lock == nil {
		st, err := Materialize(ctx, gitDir, commit, dir)
		return nil, st, err
	}
	base, overlay := c.useOverlay()
	if !overlay {
		base = c.Dir
	}
	l := &Lease{lock: lock, ent: filepath.Join(base, key), dir: dir}
	st, err := l.checkout(ctx, gitDir, commit, overlay)
	if err != nil {
		l.Release()
		return nil, st, fmt.Errorf("materialize %s: %w", commit, err)
	}
	return l, st, nil
}

// checkout does the work of Checkout holding the lock.
func (l *Lease) checkout(ctx context.Context, gitDir string, commit plumbing.Hash, overlay bool) (Stats, error) {
	tree := filepath.Join(l.ent, "tree")
	old, reusable := l.take(tree)
	var synced Stats
	if overlay {
		idx, st, err := l.syncLower(ctx, gitDir, commit, tree, old, reusable)
		if err != nil {
			return st, err
		}
		if l.mount(tree) == nil {
			return st, nil
		}
		// No overlay after all (the mount, or making its directories,
		// failed). The tree is exact; the stat-index path takes it
		// from here, writing nothing more.
		old, reusable, synced = idx, true, st
		if err := os.Remove(filepath.Join(l.ent, "index")); err != nil {
			return st, fmt.Errorf("remove workspace cache index: %w", err)
		}
	}
	if reusable {
		if err := os.MkdirAll(filepath.Dir(l.dir), 0o755); err == nil && os.Rename(tree, l.dir) == nil {
			var idx *index
			var st Stats
			err := guard(func() (err error) {
				if old.sealed {
					// Never shown to a job: no verify, only the diff
					// and a stat of every entry for the index.
					idx, st, err = diffSync(ctx, gitDir, commit, l.dir, old, true)
				} else {
					idx, st, err = syncTree(ctx, gitDir, commit, l.dir, old)
				}
				return err
			})
			if overlay {
				st = synced
			}
			if err == nil {
				err = l.finish(idx)
			}
			if err == nil || ctx.Err() != nil {
				return st, err
			}
			// Anything unsure: put the tree aside and start afresh.
			trash := filepath.Join(l.ent, fmt.Sprintf("trash-%d", time.Now().UnixNano()))
			if os.Rename(l.dir, trash) != nil {
				if err := datadir.RemoveAll(l.dir); err != nil {
					return Stats{}, fmt.Errorf("remove unusable reused workspace: %w", err)
				}
			}
			_ = datadir.RemoveAll(trash)
		}
	}
	_ = datadir.RemoveAll(tree)
	idx := &index{}
	var st Stats
	err := guard(func() (err error) {
		st, err = materialize(ctx, gitDir, commit, l.dir, true, idx)
		return err
	})
	if err == nil {
		err = l.finish(idx)
	}
	return st, err
}

// take reads the entry's index and clears everything else out of the
// entry but its tree, detaching first any overlay a killed run left
// mounted on it. It reports whether the tree is there with an index to
// check it against.
func (l *Lease) take(tree string) (*index, bool) {
	if err := os.MkdirAll(l.ent, 0o755); err != nil {
		return nil, false
	}
	detachStale(l.ent)
	idxPath := filepath.Join(l.ent, "index")
	idx, err := readIndex(idxPath)
	// The index goes first: a tree without one is never reused.
	if rerr := os.Remove(idxPath); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = rerr
	}
	names, _ := readNames(l.ent)
	for _, name := range names {
		if name != "tree" {
			_ = datadir.RemoveAll(filepath.Join(l.ent, name))
		}
	}
	if err != nil {
		return nil, false
	}
	fi, err := os.Lstat(tree)
	return idx, err == nil && fi.IsDir()
}

// finish stamps the just written tree: from now on, any change to an
// entry moves its ctime to the stamp or past it.
func (l *Lease) finish(idx *index) error {
	stamp, err := newStamp(filepath.Join(l.ent, "stamp"))
	if err != nil {
		return fmt.Errorf("stamp workspace cache: %w", err)
	}
	root, err := lstatPath(l.dir)
	if err != nil {
		return fmt.Errorf("stat workspace: %w", err)
	}
	idx.stamp, idx.uid, idx.gid = stamp, root.uid, root.gid
	// A directory made in the workspace gets the root's xattrs (an
	// SELinux label, an inherited ACL); unreadable ones match nothing.
	idx.xattrs = "\x00unreadable"
	if fd, err := openDir(l.dir); err == nil {
		if x, ok := xattrsOf(fd, ""); ok {
			idx.xattrs = x
		}
		closeDir(fd)
	}
	l.idx = idx
	return nil
}

// Return gives the workspace back to the cache once its jobs are done
// and every process they started is dead (one still running could write
// into the tree after the next Checkout verified it): it removes what
// the jobs added (strip), moves the tree into the cache, with the index
// of what was written, for the next Checkout to verify and reuse, and
// releases the lock. On error the workspace is left where it was for the
// caller to remove.
//
// An overlay workspace is unmounted instead, and what the jobs wrote
// (its upper and work dirs) removed; the tree stays in the cache with
// the index written at checkout.
func (l *Lease) Return() error {
	if l == nil || l.lock == nil {
		return nil
	}
	defer l.Release()
	if l.overlay {
		return l.unmount(false)
	}
	l.strip()
	tree := filepath.Join(l.ent, "tree")
	if err := datadir.RemoveAll(tree); err != nil {
		return fmt.Errorf("return workspace to cache: %w", err)
	}
	if err := os.Rename(l.dir, tree); err != nil {
		return fmt.Errorf("return workspace to cache: %w", err)
	}
	// Without an index the tree is never reused; the next holder
	// removes it.
	return writeIndex(l.ent, l.idx)
}

// strip removes from the workspace what is not in the index — build
// artifacts, node_modules, anything a job wrote — so that it does not
// sit in the cache for as long as the tree does. Adding, removing or
// renaming an entry moves its directory's ctime, so only directories
// whose ctime is not before the stamp are listed: one fstatat per
// directory of the index, a listing (opened without following symlinks)
// per directory the jobs wrote in.
// Changed files are left to the next Checkout's verify, which removes
// anything not pristine; strip is hygiene, never what reuse relies on,
// so what it cannot do (a directory replaced by a symlink, a removal that
// fails) is left to verify too. Nothing of the run runs any more (Return
// requires it), so the paths it removes by are stable.
func (l *Lease) strip() {
	root, err := openDir(l.dir)
	if err != nil {
		return
	}
	defer closeDir(root)
	buf := make([]byte, 32<<10)
	dirs := []string{""}
	for p, e := range l.idx.entries {
		if e.kind == kindDir || e.kind == kindSubmodule {
			dirs = append(dirs, p)
		}
	}
	// The stats are system call overhead, so split over the workers.
	n := min(workers, (len(dirs)+255)/256)
	moved := make([][]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			for k := i; k < len(dirs); k += n {
				if ctime, ok := dirCtime(root, dirs[k]); ok && ctime >= l.idx.stamp {
					moved[i] = append(moved[i], dirs[k])
				}
			}
		})
	}
	wg.Wait()
	for _, rels := range moved {
		for _, rel := range rels {
			names, _, err := listDir(root, rel, buf)
			if err != nil {
				continue
			}
			for _, name := range names {
				p := joinPath(rel, name)
				if _, ok := l.idx.entries[p]; !ok {
					_ = datadir.RemoveAll(filepath.Join(l.dir, filepath.FromSlash(p)))
				}
			}
		}
	}
}

// Release lets go of the lease without giving the workspace back: the
// cache stays empty for key until a later checkout fills it. For
// keep_workspace, and for runs whose workspace is not to be reused.
//
// An overlay workspace is detached (lazily: a process of the run that
// lives on keeps its view, but cannot block the unmount) and its upper
// and work dirs and the empty mount point removed; the tree stays in
// the cache, as nothing the run did, nor will do, writes to it.
func (l *Lease) Release() {
	if l == nil || l.lock == nil {
		return
	}
	if l.overlay {
		_ = l.unmount(true)
	}
	l.lock.Close()
	l.lock = nil
}
