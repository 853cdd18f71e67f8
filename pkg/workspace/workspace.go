// Package workspace materializes a commit's tree into a plain directory,
// reading the repository's object database directly: no git process, no
// work tree, no index and no .git in the result.
//
// # Reused workspaces
//
// A Cache keeps the last tree of each repository so that a push close to
// the previous one writes only what changed. The design, correctness
// first:
//
//   - The cached tree is never shared with a running job. A checkout
//     moves it (one rename) to the run's workspace; when the run ends its
//     workspace is moved back. There is no copy to make pristine again,
//     and no hard link a job could write through into the cache. (A
//     reflink copy would keep a separate pristine tree, but this machine's
//     ext4 has none and a plain copy costs as much as materializing.)
//   - What the job did to the tree is found by a stat index like git's,
//     taken as each file was written: mode, inode, link count, size,
//     mtime, ctime, owner and group. Writing, truncating, chmod, chown,
//     linking, replacing and setting an xattr or ACL all move ctime,
//     which no unprivileged process can set back, so an entry whose stat
//     differs in any field, or that has a second link, is removed and
//     rewritten; a path not in the index is removed. A directory must
//     still be a plain 0755 directory owned by the user and group that
//     own the workspace root as written (a root job's chown would
//     otherwise let that uid write into it later), and one whose ctime
//     moved (an entry added or removed in it, chown, setfattr, setfacl)
//     must have exactly the extended attributes, names and values, that
//     the workspace root had when the tree was written (none, but for
//     an SELinux label or a default ACL inherited from above the
//     workspace, which every directory made in it gets too; default and
//     access ACLs are xattrs), or it is removed with what is in it and
//     rebuilt. The root itself must pass the same checks, or the
//     checkout is a full materialize. An
//     entry changed within the same clock tick as it was written would
//     keep its ctime, so, as git does for "racily clean" entries, every
//     entry whose ctime is not before a stamp file made after the last
//     write is treated as changed.
//   - The verified tree is brought to the new commit by the tree diff:
//     subtrees whose hash is unchanged and that lost nothing are skipped
//     whole, so the cost is one stat per entry plus the changed files.
//   - Anything unsure means a full materialize: no index, an index whose
//     checksum fails (a checkout killed mid-write), any error while
//     verifying or updating, or the lock held by another checkout of the
//     same repository (two pushes at once: the second does not wait).
//     The index is removed before the tree is taken and written only
//     after it is put back, so a tree without an index is never trusted.
//
// A process a job left running after its run ended could still write
// into the tree after the next checkout verified it, so a workspace goes
// back (Lease.Return) only once every process of its run is known dead:
// the runner returns it only when its executor session is
// executor.Contained (a run cgroup killed and removed, bwrap's pid
// namespaces, a removed container), and removes it otherwise. Return
// also removes what the jobs added (build output, node_modules): only
// directories whose ctime moved are listed, so it costs one fstatat per
// directory, and such files do not sit in the cache until the next
// checkout or Prune. Reuse needs Linux (nanosecond ctime);
// elsewhere every checkout is a full materialize.
package workspace

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// Stats counts what Materialize wrote.
type Stats struct {
	// Files is the number of regular files, executable ones included.
	Files int
	// Dirs is the number of directories created for subtrees, not counting
	// the workspace itself or submodules.
	Dirs int
	// Symlinks is the number of symbolic links.
	Symlinks int
	// Submodules is the number of gitlink entries, each an empty directory.
	Submodules int
	// Bytes is the total size of the regular files.
	Bytes int64
	// Kept is the number of files, symlinks and submodules a Cache
	// checkout kept from the previous tree instead of writing them; 0
	// for a full materialize.
	Kept int
}

// add accumulates o into s.
func (s *Stats) add(o Stats) {
	s.Files += o.Files
	s.Dirs += o.Dirs
	s.Symlinks += o.Symlinks
	s.Submodules += o.Submodules
	s.Bytes += o.Bytes
	s.Kept += o.Kept
}

// cacheBytes bounds the delta base cache shared by one Materialize call.
const cacheBytes = 32 << 20

// workers is how many goroutines read blobs and write files. One more than
// the CPUs keeps them busy while another waits on the file system.
var workers = runtime.GOMAXPROCS(0) + 1

// Materialize writes the tree of the given commit into dir, which must not
// exist yet (it is created 0755) — or exist and be empty. It reads the
// objects of the bare (or .git) repository at gitDir.
//
// Regular files are written 0644, executable ones 0755; symlinks keep their
// stored target; submodules become empty directories. Entries named "",
// ".", "..", ".git" (in any case) or containing "/" are refused, as is a
// name used twice in one tree, and no entry is ever written through a
// symlink. Object hashes are not verified.
// On error the partly written dir is left for the caller to remove.
func Materialize(ctx context.Context, gitDir string, commit plumbing.Hash, dir string) (Stats, error) {
	var st Stats
	err := guard(func() (err error) {
		st, err = materialize(ctx, gitDir, commit, dir, true, nil)
		return err
	})
	if err != nil {
		return st, fmt.Errorf("materialize %s: %w", commit, err)
	}
	return st, nil
}

// materialize does the work of Materialize: a walker goroutine reads the
// trees and creates directories, workers write files and symlinks. Tests
// unset mapPacks to cover reading packs without mmap. With idx set, every
// entry written is recorded in it, files and symlinks with their stat;
// a sealed idx only gets the commit, its tree and the count.
func materialize(ctx context.Context, gitDir string, commit plumbing.Hash, dir string, mapPacks bool, idx *index) (Stats, error) {
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	db, err := openODB(gitDir, mapPacks)
	if err != nil {
		return Stats{}, err
	}
	defer db.close()
	cache := newBaseCache(cacheBytes)
	walker := newReader(db, cache)
	root, err := commitTree(walker, commit)
	if err != nil {
		return Stats{}, err
	}
	if err := prepareDir(dir); err != nil {
		return Stats{}, err
	}
	record := idx != nil && !idx.sealed
	recs := make([][]indexEntry, workers+1)

	// The first failure cancels everything else.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan job, 1024)
	stats := make([]Stats, workers+1)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			w := &writer{r: newReader(db, cache), root: dir, record: record}
			for j := range jobs {
				if ctx.Err() != nil {
					continue
				}
				if err := guard(func() error { return w.write(ctx, j, &stats[i]) }); err != nil {
					cancel(err)
				}
			}
			recs[i] = w.recs
		})
	}
	var walked *[]indexEntry
	if record {
		walked = &recs[workers]
	}
	if err := guard(func() error { return walk(ctx, walker, root, dir, jobs, &stats[workers], walked) }); err != nil {
		cancel(err)
	}
	close(jobs)
	wg.Wait()
	if ctx.Err() != nil {
		return Stats{}, context.Cause(ctx)
	}
	var total Stats
	for _, s := range stats {
		total.add(s)
	}
	switch {
	case record:
		idx.reset(commit, root)
		for _, rs := range recs {
			for _, e := range rs {
				idx.entries[e.path] = e
			}
		}
	case idx != nil:
		idx.commit, idx.tree = commit, root
		idx.count = total.Files + total.Symlinks + total.Submodules
	}
	return total, nil
}

// guard runs fn, turning a panic into an error: a crafted object that
// trips a decoder bug must fail the materialize, not kill the hook.
func guard(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("internal error: %v", v)
		}
	}()
	return fn()
}

// commitTree returns the root tree of commit.
func commitTree(r *reader, commit plumbing.Hash) (plumbing.Hash, error) {
	typ, data, err := r.read(commit)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read commit: %w", err)
	}
	if typ != plumbing.CommitObject {
		return plumbing.ZeroHash, fmt.Errorf("read commit: object is a %s", typ)
	}
	var tree plumbing.Hash
	line, _, _ := bytes.Cut(data, []byte{'\n'})
	text, ok := bytes.CutPrefix(line, []byte("tree "))
	if !ok || len(text) != 2*hashSize {
		return plumbing.ZeroHash, errors.New("read commit: no tree line")
	}
	if _, err := hex.Decode(tree[:], text); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read commit: bad tree line: %w", err)
	}
	return tree, nil
}

// job is one file or symlink for a worker to write.
type job struct {
	path string // slash-separated, relative to the workspace
	hash plumbing.Hash
	kind kind
}

// walk reads the trees below root depth first, creating directories
// itself and handing files and symlinks to the workers. A directory always
// exists before any job inside it is queued. With rec set, the directories
// and submodules are appended to it.
func walk(ctx context.Context, r *reader, root plumbing.Hash, dir string, jobs chan<- job, st *Stats, rec *[]indexEntry) error {
	type subtree struct {
		hash plumbing.Hash
		path string
	}
	stack := []subtree{{root, ""}}
	seen := make(map[string]struct{}) // readEntries's scratch
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		err := readEntries(r, t.hash, t.path, seen, func(name, path string, k kind, h plumbing.Hash) error {
			switch k {
			case kindDir, kindSubmodule:
				if k == kindDir {
					stack = append(stack, subtree{h, path})
					st.Dirs++
				} else {
					st.Submodules++
				}
				if rec != nil {
					*rec = append(*rec, indexEntry{path: path, kind: k, hash: h})
				}
				return makeDir(dir, path)
			}
			select {
			case jobs <- job{path: path, hash: h, kind: k}:
				return nil
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		})
		if err != nil {
			if errors.Is(err, errBadTree) {
				return fmt.Errorf("read tree %s (%s): %w", displayPath(t.path), t.hash, err)
			}
			return err
		}
	}
	return nil
}
