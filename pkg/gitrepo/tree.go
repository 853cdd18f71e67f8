package gitrepo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// Trees are read here rather than through go-git's object.Tree, whose
// lookups and diffs refuse entry names such as "..", ".git" or "a/b"
// ("directory not found") and whose decoder refuses an empty name. A push
// of such a tree must still get its run, which then fails in package
// workspace naming the entry; so nothing here checks names.

// maxTreeObject bounds one tree object read into memory: 64 MiB is over
// a million entries.
const maxTreeObject = 64 << 20

// maxTreeVisits bounds the tree objects one FilesChanged reads. A crafted
// tree whose entries share subtrees holds exponentially many paths, most
// of them directories without files, which the path limit does not cut.
const maxTreeVisits = 200_000

// maxParsedEntries bounds the tree entries one FilesChanged keeps parsed
// for reuse.
const maxParsedEntries = 1 << 20

// Tree entry modes, as git stores them.
const (
	modeDir     = 0o040000
	modeSymlink = 0o120000
	modeTypeBit = 0o170000
	modeRegular = 0o100000
)

// treeEntry is one entry of a tree object as stored, its name unchecked.
type treeEntry struct {
	name string
	mode uint32
	hash plumbing.Hash
}

func (e treeEntry) isDir() bool { return e.mode == modeDir }

// isFile reports a regular file, executable or not.
func (e treeEntry) isFile() bool { return e.mode&modeTypeBit == modeRegular }

// readTree reads the tree object h. A missing object, or one that is
// not a tree, wraps plumbing.ErrObjectNotFound.
func (r *Repo) readTree(h plumbing.Hash) ([]treeEntry, error) {
	obj, err := r.r.Storer.EncodedObject(plumbing.TreeObject, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	if obj.Size() > maxTreeObject {
		return nil, fmt.Errorf("read tree %s: %d bytes, over the %d-byte limit", h, obj.Size(), maxTreeObject)
	}
	rd, err := obj.Reader()
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	defer rd.Close()
	data, err := io.ReadAll(io.LimitReader(rd, maxTreeObject+1))
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	entries, err := parseTree(data)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	return entries, nil
}

// errMalformedTree marks tree data that does not parse.
var errMalformedTree = errors.New("malformed tree object")

// parseTree splits raw tree data into its entries, in stored order.
func parseTree(data []byte) ([]treeEntry, error) {
	var entries []treeEntry
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 || sp > 7 {
			return nil, fmt.Errorf("%w: bad mode after %d entries", errMalformedTree, len(entries))
		}
		var mode uint32
		for _, c := range data[:sp] {
			if c < '0' || c > '7' {
				return nil, fmt.Errorf("%w: bad mode %q", errMalformedTree, data[:sp])
			}
			mode = mode<<3 | uint32(c-'0')
		}
		data = data[sp+1:]
		nul := bytes.IndexByte(data, 0)
		if nul < 0 || len(data) < nul+1+len(plumbing.ZeroHash) {
			return nil, fmt.Errorf("%w: truncated entry after %d entries", errMalformedTree, len(entries))
		}
		e := treeEntry{name: string(data[:nul]), mode: mode}
		copy(e.hash[:], data[nul+1:])
		data = data[nul+1+len(e.hash):]
		entries = append(entries, e)
	}
	return entries, nil
}

// commitTree returns the hash of commit's root tree.
func (r *Repo) commitTree(commit plumbing.Hash) (plumbing.Hash, error) {
	c, err := r.Commit(commit)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return c.TreeHash, nil
}

// lookup finds the entry at the slash-separated path below the tree
// root. Each directory on the way is the entry of that name that is a
// directory, and the last element is preferably a regular file, so a
// name used twice (a file and a directory) does not hide the one the
// path means. found is false when there is no such entry.
func (r *Repo) lookup(root plumbing.Hash, path string) (e treeEntry, found bool, err error) {
	dir := root
	parts := strings.Split(path, "/")
	for i, part := range parts {
		entries, err := r.readTree(dir)
		if errors.Is(err, plumbing.ErrObjectNotFound) && i > 0 {
			return e, false, nil // a directory entry that names no tree
		}
		if err != nil {
			return e, false, err
		}
		last := i == len(parts)-1
		found = false
		for _, c := range entries {
			if c.name != part {
				continue
			}
			if last {
				if c.isFile() {
					e, found = c, true
					break
				}
				if !found {
					e, found = c, true
				}
			} else if c.isDir() {
				e, found = c, true
				break
			}
		}
		if !found {
			return e, false, nil
		}
		dir = e.hash
	}
	return e, found, nil
}

// diffTrees lists the paths of the files (and of any other non-directory
// entries) that differ between the trees from and to; a zero hash is an
// empty tree. A subtree that cannot be read counts as one changed path.
// It stops after MaxFilesChanged paths or maxTreeVisits trees.
func (r *Repo) diffTrees(from, to plumbing.Hash) ([]string, error) {
	type pair struct {
		from, to plumbing.Hash
		path     string
	}
	var paths []string
	seen := make(map[string]bool)
	add := func(p string) {
		if p != "" && !seen[p] && len(paths) < MaxFilesChanged {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	// Subtrees shared by many paths are read and parsed once.
	parsed := make(map[plumbing.Hash][]treeEntry)
	held := 0
	read := func(h plumbing.Hash) ([]treeEntry, error) {
		if h.IsZero() {
			return nil, nil
		}
		if entries, ok := parsed[h]; ok {
			return entries, nil
		}
		entries, err := r.readTree(h)
		if err == nil && held < maxParsedEntries {
			parsed[h] = entries
			held += len(entries) + 1
		}
		return entries, err
	}
	stack := []pair{{from, to, ""}}
	for visits := 0; len(stack) > 0 && len(paths) < MaxFilesChanged && visits < maxTreeVisits; visits++ {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		cur, err := read(p.to)
		if err != nil && p.path == "" {
			return nil, err
		}
		// An unreadable previous root tree counts as empty; an
		// unreadable subtree on either side is one changed path.
		old, oerr := read(p.from)
		if err != nil || oerr != nil && p.path != "" {
			add(p.path)
			continue
		}
		var subs []pair
		for _, c := range compareEntries(old, cur) {
			path := joinPath(p.path, c.name)
			if c.dir {
				subs = append(subs, pair{c.from, c.to, path})
			} else {
				add(path)
			}
		}
		// Reversed, so that the walk takes them in name order.
		for i := len(subs) - 1; i >= 0; i-- {
			stack = append(stack, subs[i])
		}
	}
	sort.Strings(paths)
	return paths, nil
}

// change is one name whose entry differs between two trees: a directory
// on both sides (or one side) to walk, or anything else to report.
type change struct {
	name     string
	dir      bool
	from, to plumbing.Hash // zero when the side has no such entry
}

// compareEntries pairs the entries of two trees by name and kind (a file
// and a directory of one name are different entries) and returns those
// that differ, in name order.
func compareEntries(old, cur []treeEntry) []change {
	if len(old) == 0 || len(cur) == 0 {
		return oneSided(old, cur)
	}
	type key struct {
		name string
		dir  bool
	}
	type sides struct {
		from, to *treeEntry
	}
	byKey := make(map[key]*sides, len(cur))
	var keys []key
	note := func(e *treeEntry, isOld bool) {
		k := key{e.name, e.isDir()}
		s := byKey[k]
		if s == nil {
			s = new(sides)
			byKey[k] = s
			keys = append(keys, k)
		}
		if isOld {
			s.from = e
		} else {
			s.to = e
		}
	}
	for i := range old {
		note(&old[i], true)
	}
	for i := range cur {
		note(&cur[i], false)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].name != keys[j].name {
			return keys[i].name < keys[j].name
		}
		return !keys[i].dir && keys[j].dir
	})
	var out []change
	for _, k := range keys {
		s := byKey[k]
		if s.from != nil && s.to != nil && s.from.hash == s.to.hash && s.from.mode == s.to.mode {
			continue
		}
		c := change{name: k.name, dir: k.dir}
		if s.from != nil {
			c.from = s.from.hash
		}
		if s.to != nil {
			c.to = s.to.hash
		}
		out = append(out, c)
	}
	return out
}

// oneSided lists the entries of a tree whose counterpart is empty or
// missing, in stored order: everything in it changed.
func oneSided(old, cur []treeEntry) []change {
	entries, isOld := cur, false
	if len(old) > 0 {
		entries, isOld = old, true
	}
	out := make([]change, len(entries))
	for i, e := range entries {
		out[i] = change{name: e.name, dir: e.isDir()}
		if isOld {
			out[i].from = e.hash
		} else {
			out[i].to = e.hash
		}
	}
	return out
}

// joinPath joins a slash-separated path and an entry name.
func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "/" + name
}
