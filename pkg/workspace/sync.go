package workspace

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/pkg/datadir"
)

// tree state while a reused workspace is brought to a new commit.
type syncer struct {
	dir  string
	idx  *index // the previous tree's; entries are kept only once verified
	good map[string]indexEntry
	// children lists the verified entries of each directory by name.
	children map[string][]string
	// dirty holds the directories in which something of the previous
	// tree is missing: their tree hash no longer describes the disk.
	dirty map[string]bool
}

// full returns the workspace path of the slash-separated rel.
func (s *syncer) full(rel string) string {
	if rel == "" {
		return s.dir
	}
	return s.dir + string(filepath.Separator) + filepath.FromSlash(rel)
}

// verify walks the disk below s.dir and keeps in s.good the entries of
// the index that are still exactly as written; everything else — changed,
// chmodded, replaced, or not in the index at all — is removed. Directories
// are read by several goroutines: the cost is one stat per entry, which
// on a virtual machine is mostly system call overhead.
func (s *syncer) verify(ctx context.Context) error {
	s.good = make(map[string]indexEntry, len(s.idx.entries))
	s.children = make(map[string][]string, 1024)
	st, err := lstatPath(s.dir)
	if err != nil {
		return err
	}
	if !s.idx.dirOK(st) {
		return fmt.Errorf("workspace %s is not a 0755 directory owned as written", s.dir)
	}
	root, err := openDir(s.dir)
	if err != nil {
		return err
	}
	defer closeDir(root)
	if s.idx.dirChanged(st) && !s.sameXattrs(root, "") {
		return fmt.Errorf("workspace %s has extended attributes it was not written with", s.dir)
	}

	var (
		mu       sync.Mutex
		cond     = sync.NewCond(&mu)
		stack    = []string{""}
		busy     int
		firstErr error
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			buf := make([]byte, 32<<10)
			var good []indexEntry
			mu.Lock()
			defer mu.Unlock()
			for {
				for len(stack) == 0 && busy > 0 && firstErr == nil {
					cond.Wait()
				}
				if len(stack) == 0 || firstErr != nil {
					cond.Broadcast()
					return
				}
				rel := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				busy++
				mu.Unlock()
				good = good[:0]
				err := ctx.Err()
				if err == nil {
					good, err = s.verifyDir(root, rel, buf, good)
				}
				mu.Lock()
				busy--
				kids := make([]string, 0, len(good))
				for _, e := range good {
					s.good[e.path] = e
					kids = append(kids, baseName(e.path))
					if e.kind == kindDir || e.kind == kindSubmodule {
						stack = append(stack, e.path)
					}
				}
				s.children[rel] = kids
				if err != nil && firstErr == nil {
					firstErr = err
				}
				cond.Broadcast()
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	s.dirty = make(map[string]bool)
	for p := range s.idx.entries {
		if _, ok := s.good[p]; ok {
			continue
		}
		for d := parentPath(p); ; d = parentPath(d) {
			if s.dirty[d] {
				break
			}
			s.dirty[d] = true
			if d == "" {
				break
			}
		}
	}
	return nil
}

// verifyDir lists the directory rel, appends its pristine entries to
// good and removes the others.
func (s *syncer) verifyDir(root int, rel string, buf []byte, good []indexEntry) ([]indexEntry, error) {
	names, stats, err := listDir(root, rel, buf)
	if err != nil {
		return good, fmt.Errorf("read workspace directory %s: %w", displayPath(rel), err)
	}
	for i, name := range names {
		p := joinPath(rel, name)
		e, ok := s.idx.entries[p]
		isDir := e.kind == kindDir || e.kind == kindSubmodule
		if ok && s.idx.pristine(e, stats[i]) && (!isDir || !s.idx.dirChanged(stats[i]) || s.sameXattrs(root, p)) {
			good = append(good, e)
			continue
		}
		if err := datadir.RemoveAll(s.full(p)); err != nil {
			return good, fmt.Errorf("remove changed workspace entry %s: %w", p, err)
		}
	}
	return good, nil
}

// sameXattrs reports whether the directory rel has exactly the xattrs
// the workspace root was written with.
func (s *syncer) sameXattrs(root int, rel string) bool {
	x, ok := xattrsOf(root, rel)
	return ok && x == s.idx.xattrs
}

// baseName returns the last element of a slash-separated path.
func baseName(p string) string {
	return p[strings.LastIndexByte(p, '/')+1:]
}

// parentPath returns the directory of a slash-separated path, "" for the
// workspace root.
func parentPath(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return ""
}

// remove deletes rel from disk and it and everything below it from s.good.
func (s *syncer) remove(rel string) error {
	if err := datadir.RemoveAll(s.full(rel)); err != nil {
		return fmt.Errorf("remove workspace entry %s: %w", rel, err)
	}
	var drop func(p string)
	drop = func(p string) {
		delete(s.good, p)
		for _, name := range s.children[p] {
			drop(joinPath(p, name))
		}
		delete(s.children, p)
	}
	drop(rel)
	return nil
}

// update brings the verified tree to the tree root of the new commit by
// the tree diff: subtrees whose hash did not change and that lost
// nothing are skipped whole, changed entries are removed and queued,
// entries the new tree lacks are removed. It returns the files and
// symlinks to write; directories exist when it returns.
func (s *syncer) update(ctx context.Context, r *reader, root plumbing.Hash, st *Stats) ([]job, error) {
	type subtree struct {
		hash plumbing.Hash
		path string
	}
	var jobs []job
	stack := []subtree{{root, ""}}
	if root == s.idx.tree && !s.dirty[""] {
		stack = nil
	}
	seen := make(map[string]struct{})
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		err := readEntries(r, t.hash, t.path, seen, func(name, path string, k kind, h plumbing.Hash) error {
			old, had := s.good[path]
			switch {
			case had && old.kind == k && k == kindDir:
				if old.hash != h || s.dirty[path] {
					stack = append(stack, subtree{h, path})
					old.hash = h
					s.good[path] = old
				}
				return nil
			case had && old.kind == k && (old.hash == h || k == kindSubmodule):
				st.Kept++
				return nil
			}
			if had {
				if err := s.remove(path); err != nil {
					return err
				}
			}
			switch k {
			case kindDir, kindSubmodule:
				if k == kindDir {
					stack = append(stack, subtree{h, path})
					st.Dirs++
				} else {
					st.Submodules++
				}
				s.good[path] = indexEntry{path: path, kind: k, hash: h}
				if !had {
					s.children[t.path] = append(s.children[t.path], name)
				}
				return makeDir(s.dir, path)
			}
			jobs = append(jobs, job{path: path, hash: h, kind: k})
			return nil
		})
		if err != nil {
			if errors.Is(err, errBadTree) {
				return nil, fmt.Errorf("read tree %s (%s): %w", displayPath(t.path), t.hash, err)
			}
			return nil, err
		}
		// What the new tree no longer has goes.
		kids := s.children[t.path]
		kept := kids[:0]
		for _, name := range kids {
			if _, ok := seen[name]; ok {
				kept = append(kept, name)
				continue
			}
			p := joinPath(t.path, name)
			if _, ok := s.good[p]; !ok {
				continue // replaced above
			}
			if err := s.remove(p); err != nil {
				return nil, err
			}
		}
		s.children[t.path] = kept
	}
	return jobs, nil
}

// writeJobs writes the queued files and symlinks, recording each in
// s.good.
func (s *syncer) writeJobs(ctx context.Context, db *odb, cache *baseCache, jobs []job, st *Stats) error {
	recs, err := writeJobs(ctx, db, cache, s.dir, jobs, st, true)
	for _, e := range recs {
		s.good[e.path] = e
	}
	return err
}

// writeJobs writes jobs below root, in parallel when there are enough
// of them to pay for it; with record set it returns each entry written
// with its stat.
func writeJobs(ctx context.Context, db *odb, cache *baseCache, root string, jobs []job, st *Stats, record bool) ([]indexEntry, error) {
	n := min(workers, (len(jobs)+63)/64)
	if n == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stats := make([]Stats, n)
	writers := make([]*writer, n)
	var wg sync.WaitGroup
	for i := range n {
		w := &writer{r: newReader(db, cache), root: root, record: record}
		writers[i] = w
		wg.Go(func() {
			for k := i; k < len(jobs); k += n {
				if ctx.Err() != nil {
					return
				}
				if err := guard(func() error { return w.write(ctx, jobs[k], &stats[i]) }); err != nil {
					cancel(err)
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	var recs []indexEntry
	for i, w := range writers {
		st.add(stats[i])
		recs = append(recs, w.recs...)
	}
	return recs, nil
}

// syncTree brings dir, which held old's tree (as far as verify can tell),
// to the tree of commit and returns the new index.
func syncTree(ctx context.Context, gitDir string, commit plumbing.Hash, dir string, old *index) (*index, Stats, error) {
	var st Stats
	db, err := openODB(gitDir, true)
	if err != nil {
		return nil, st, err
	}
	defer db.close()
	cache := newBaseCache(cacheBytes)
	r := newReader(db, cache)
	root, err := commitTree(r, commit)
	if err != nil {
		return nil, st, err
	}
	s := &syncer{dir: dir, idx: old}
	if err := s.verify(ctx); err != nil {
		return nil, st, err
	}
	jobs, err := s.update(ctx, r, root, &st)
	if err != nil {
		return nil, st, err
	}
	if err := s.writeJobs(ctx, db, cache, jobs, &st); err != nil {
		return nil, st, err
	}
	return &index{commit: commit, tree: root, entries: s.good}, st, nil
}
