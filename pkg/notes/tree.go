package notes

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// writer rewrites the path of one note in a notes tree.
type writer struct {
	s      storer.EncodedObjectStorer
	line   string
	gitDir string
	shared sharedMode // core.sharedRepository
}

// put returns the tree that is tree (zero: empty) with line appended to
// the note of name, the part of the object id below this tree. Only the
// trees on the note's path are read and written.
//
// The layout is git's: a note is stored flat (the rest of the id as the
// file name) or under a fan-out directory named by the next two hex
// digits, which git adds as notes grow. An existing note is found either
// way and stays where it is; a new note goes under the fan-out
// directories the tree already has, else flat, and a flat level that
// has grown dense enough by git's rule is fanned out.
func (w *writer) put(tree plumbing.Hash, name string) (plumbing.Hash, error) {
	entries, err := w.entries(tree)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	// The note, flat at this level.
	if i := find(entries, name, false); i >= 0 {
		old, err := w.blob(entries[i].Hash)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if old != "" && !strings.HasSuffix(old, "\n") {
			old += "\n"
		}
		if entries[i].Hash, err = w.storeBlob(old + w.line + "\n"); err != nil {
			return plumbing.ZeroHash, err
		}
		return w.storeTree(entries)
	}
	// Below, in this level's fan-out directory for it.
	fanned := false
	for _, e := range entries {
		fanned = fanned || isFanout(e)
	}
	if len(name) > 2 {
		if i := find(entries, name[:2], true); i >= 0 {
			if entries[i].Hash, err = w.put(entries[i].Hash, name[2:]); err != nil {
				return plumbing.ZeroHash, err
			}
			return w.storeTree(entries)
		}
		if fanned {
			sub, err := w.put(plumbing.ZeroHash, name[2:])
			if err != nil {
				return plumbing.ZeroHash, err
			}
			entries = append(entries, object.TreeEntry{Name: name[:2], Mode: filemode.Dir, Hash: sub})
			return w.storeTree(entries)
		}
	}
	// A new note, flat here.
	blob, err := w.storeBlob(w.line + "\n")
	if err != nil {
		return plumbing.ZeroHash, err
	}
	entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: blob})
	if len(name) > 2 && dense(entries, len(name)) {
		return w.fanOut(entries, len(name))
	}
	return w.storeTree(entries)
}

// dense reports git's rule for adding a fan-out level (notes.c,
// determine_fanout): every one of the 16 first hex digits starts at
// least two of this level's notes.
func dense(entries []object.TreeEntry, nameLen int) bool {
	var n [16]int
	for _, e := range entries {
		if isNote(e, nameLen) {
			n[unhex(e.Name[0])]++
		}
	}
	for _, c := range n {
		if c < 2 {
			return false
		}
	}
	return true
}

// fanOut stores a tree where this level's notes (names of nameLen hex
// digits) move into fan-out directories of their first two digits, each
// fanned out again if it is dense itself; other entries stay.
func (w *writer) fanOut(entries []object.TreeEntry, nameLen int) (plumbing.Hash, error) {
	var kept []object.TreeEntry
	groups := map[string][]object.TreeEntry{}
	for _, e := range entries {
		if !isNote(e, nameLen) {
			kept = append(kept, e)
			continue
		}
		groups[e.Name[:2]] = append(groups[e.Name[:2]], object.TreeEntry{Name: e.Name[2:], Mode: e.Mode, Hash: e.Hash})
	}
	for dir, sub := range groups {
		var h plumbing.Hash
		var err error
		if nameLen-2 > 2 && dense(sub, nameLen-2) {
			h, err = w.fanOut(sub, nameLen-2)
		} else {
			h, err = w.storeTree(sub)
		}
		if err != nil {
			return plumbing.ZeroHash, err
		}
		kept = append(kept, object.TreeEntry{Name: dir, Mode: filemode.Dir, Hash: h})
	}
	return w.storeTree(kept)
}

// find returns the index of the entry called name, a directory or not,
// or -1.
func find(entries []object.TreeEntry, name string, dir bool) int {
	for i, e := range entries {
		if e.Name == name && (e.Mode == filemode.Dir) == dir {
			return i
		}
	}
	return -1
}

// isFanout reports whether e is a fan-out directory: two hex digits.
func isFanout(e object.TreeEntry) bool {
	return e.Mode == filemode.Dir && len(e.Name) == 2 && isHex(e.Name)
}

// isNote reports whether e is a note of this level: a file named by
// nameLen hex digits.
func isNote(e object.TreeEntry, nameLen int) bool {
	return e.Mode != filemode.Dir && len(e.Name) == nameLen && isHex(e.Name)
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if unhex(s[i]) < 0 {
			return false
		}
	}
	return true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

// entries reads a tree's entries; the zero hash is the empty tree.
func (w *writer) entries(h plumbing.Hash) ([]object.TreeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	t, err := object.GetTree(w.s, h)
	if err != nil {
		return nil, fmt.Errorf("read notes tree %s: %w", h, err)
	}
	return t.Entries, nil
}

func (w *writer) blob(h plumbing.Hash) (string, error) {
	o, err := w.s.EncodedObject(plumbing.BlobObject, h)
	if err != nil {
		return "", fmt.Errorf("read note %s: %w", h, err)
	}
	r, err := o.Reader()
	if err != nil {
		return "", fmt.Errorf("read note %s: %w", h, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("read note %s: %w", h, err)
	}
	return string(b), nil
}

func (w *writer) storeBlob(content string) (plumbing.Hash, error) {
	o := w.s.NewEncodedObject()
	o.SetType(plumbing.BlobObject)
	o.SetSize(int64(len(content)))
	wr, err := o.Writer()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write note: %w", err)
	}
	if _, err := io.WriteString(wr, content); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write note: %w", err)
	}
	if err := wr.Close(); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write note: %w", err)
	}
	return w.storeObject(o)
}

// storeTree writes a tree of entries in git's order.
func (w *writer) storeTree(entries []object.TreeEntry) (plumbing.Hash, error) {
	sort.Sort(object.TreeEntrySorter(entries))
	t := &object.Tree{Entries: entries}
	o := w.s.NewEncodedObject()
	if err := t.Encode(o); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write notes tree: %w", err)
	}
	return w.storeObject(o)
}

func (w *writer) store(c *object.Commit) (plumbing.Hash, error) {
	o := w.s.NewEncodedObject()
	if err := c.Encode(o); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write notes commit: %w", err)
	}
	return w.storeObject(o)
}

func (w *writer) storeObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	h, err := storeLoose(w.gitDir, o, w.shared)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("write %s object: %w", o.Type(), err)
	}
	return h, nil
}
