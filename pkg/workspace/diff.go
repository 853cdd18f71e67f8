package workspace

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/pkg/datadir"
)

// treeEntry is one entry of a tree object.
type treeEntry struct {
	kind kind
	hash plumbing.Hash
}

// differ brings a directory holding exactly one tree to another by the
// diff of the two trees alone, reading no more of the disk than it
// writes: for sealed trees (index.sealed), which nothing but this
// package ever wrote.
type differ struct {
	r     *reader
	dir   string
	jobs  []job
	st    Stats
	count int // the files, symlinks and submodules on disk
	seen  map[string]struct{}
}

// full returns the disk path of the slash-separated rel.
func (d *differ) full(rel string) string {
	return d.dir + string(filepath.Separator) + filepath.FromSlash(rel)
}

// diff turns the subtree path, the tree old on disk (zero: an empty
// directory), into the tree new: unchanged entries and subtrees are
// skipped, changed ones removed and queued (directories made at once),
// entries new lacks removed.
func (d *differ) diff(ctx context.Context, old, new plumbing.Hash, path string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	had := make(map[string]treeEntry)
	if !old.IsZero() {
		err := readEntries(d.r, old, path, d.seen, func(name, _ string, k kind, h plumbing.Hash) error {
			had[name] = treeEntry{k, h}
			return nil
		})
		if err != nil {
			return fmt.Errorf("read cached tree: %w", err)
		}
	}
	type pair struct {
		old, new plumbing.Hash
		path     string
	}
	var subs []pair
	err := readEntries(d.r, new, path, d.seen, func(name, p string, k kind, h plumbing.Hash) error {
		o, ok := had[name]
		delete(had, name)
		switch {
		case ok && o.kind == k && (o.hash == h || k == kindSubmodule):
			return nil
		case ok && o.kind == kindDir && k == kindDir:
			subs = append(subs, pair{o.hash, h, p})
			return nil
		case ok:
			if err := d.remove(p, o); err != nil {
				return err
			}
		}
		switch k {
		case kindDir:
			d.st.Dirs++
			subs = append(subs, pair{plumbing.ZeroHash, h, p})
			return makeDir(d.dir, p)
		case kindSubmodule:
			d.st.Submodules++
			d.count++
			return makeDir(d.dir, p)
		}
		d.count++
		d.jobs = append(d.jobs, job{path: p, hash: h, kind: k})
		return nil
	})
	if err != nil {
		if errors.Is(err, errBadTree) {
			return fmt.Errorf("read tree %s (%s): %w", displayPath(path), new, err)
		}
		return err
	}
	for name, o := range had {
		if err := d.remove(joinPath(path, name), o); err != nil {
			return err
		}
	}
	for _, s := range subs {
		if err := d.diff(ctx, s.old, s.new, s.path); err != nil {
			return err
		}
	}
	return nil
}

// remove deletes the entry o at p from disk and from the count.
func (d *differ) remove(p string, o treeEntry) error {
	if o.kind == kindDir {
		n, err := countTree(d.r, o.hash, p)
		if err != nil {
			return fmt.Errorf("read cached tree: %w", err)
		}
		d.count -= n
	} else {
		d.count--
	}
	if err := datadir.RemoveAll(d.full(p)); err != nil {
		return fmt.Errorf("remove workspace entry %s: %w", p, err)
	}
	return nil
}

// countTree returns how many files, symlinks and submodules the tree
// hash at path holds, subtrees included.
func countTree(r *reader, hash plumbing.Hash, path string) (int, error) {
	n := 0
	var subs []treeEntry
	var paths []string
	err := readEntries(r, hash, path, make(map[string]struct{}), func(_, p string, k kind, h plumbing.Hash) error {
		if k == kindDir {
			subs, paths = append(subs, treeEntry{k, h}), append(paths, p)
		} else {
			n++
		}
		return nil
	})
	for i, s := range subs {
		if err != nil {
			break
		}
		var m int
		m, err = countTree(r, s.hash, paths[i])
		n += m
	}
	return n, err
}

// diffSync brings dir, which holds exactly old's sealed tree, to the
// tree of commit by the tree diff and returns the sealed index of the
// result; with stats set, the index also gets every entry with its
// stat, for the stat-index path to verify later (it is then not sealed).
func diffSync(ctx context.Context, gitDir string, commit plumbing.Hash, dir string, old *index, stats bool) (*index, Stats, error) {
	db, err := openODB(gitDir, true)
	if err != nil {
		return nil, Stats{}, err
	}
	defer db.close()
	cache := newBaseCache(cacheBytes)
	r := newReader(db, cache)
	root, err := commitTree(r, commit)
	if err != nil {
		return nil, Stats{}, err
	}
	d := &differ{r: r, dir: dir, count: old.count, seen: make(map[string]struct{})}
	if root != old.tree {
		if err := d.diff(ctx, old.tree, root, ""); err != nil {
			return nil, d.st, err
		}
	}
	if _, err := writeJobs(ctx, db, cache, dir, d.jobs, &d.st, false); err != nil {
		return nil, d.st, err
	}
	d.st.Kept = d.count - d.st.Files - d.st.Symlinks - d.st.Submodules
	idx := &index{commit: commit, tree: root, sealed: true, count: d.count}
	if stats {
		idx.sealed = false
		if idx.entries, err = statTree(ctx, r, root, dir); err != nil {
			return nil, d.st, err
		}
	}
	return idx, d.st, nil
}

// statTree returns the index entries of dir, which holds exactly the
// tree root: every entry with its hash, files and symlinks with their
// stat taken now.
func statTree(ctx context.Context, r *reader, root plumbing.Hash, dir string) (map[string]indexEntry, error) {
	entries := make(map[string]indexEntry, 1024)
	stack := []string{""}
	hashes := []plumbing.Hash{root}
	seen := make(map[string]struct{})
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		path, h := stack[len(stack)-1], hashes[len(hashes)-1]
		stack, hashes = stack[:len(stack)-1], hashes[:len(hashes)-1]
		err := readEntries(r, h, path, seen, func(_, p string, k kind, h plumbing.Hash) error {
			e := indexEntry{path: p, kind: k, hash: h}
			switch k {
			case kindDir:
				stack, hashes = append(stack, p), append(hashes, h)
			case kindSubmodule:
			default:
				st, err := lstatPath(dir + string(filepath.Separator) + filepath.FromSlash(p))
				if err != nil {
					return err
				}
				e.st = st
			}
			entries[p] = e
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return entries, nil
}
