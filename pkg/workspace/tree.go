package workspace

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// kind is what a tree entry becomes in the workspace.
type kind uint8

const (
	kindDir kind = iota + 1
	kindFile
	kindExec
	kindSymlink
	kindSubmodule
)

// kindOf classifies a tree entry mode the way git checks it out: any
// regular-file mode with the owner execute bit set is executable.
func kindOf(mode uint32) (kind, bool) {
	switch {
	case mode == 0o040000:
		return kindDir, true
	case mode&0o170000 == 0o100000 && mode&0o100 != 0:
		return kindExec, true
	case mode&0o170000 == 0o100000:
		return kindFile, true
	case mode == 0o120000:
		return kindSymlink, true
	case mode == 0o160000:
		return kindSubmodule, true
	}
	return 0, false
}

// errBadTree marks a tree object that does not parse.
var errBadTree = errors.New("malformed tree")

// parseTree calls fn for each entry of the raw tree object data, in order.
// The name passed to fn aliases data.
func parseTree(data []byte, fn func(name []byte, mode uint32, h plumbing.Hash) error) error {
	for len(data) > 0 {
		sp := bytes.IndexByte(data, ' ')
		if sp <= 0 || sp > 7 {
			return fmt.Errorf("%w: bad mode", errBadTree)
		}
		var mode uint32
		for _, c := range data[:sp] {
			if c < '0' || c > '7' {
				return fmt.Errorf("%w: bad mode %q", errBadTree, data[:sp])
			}
			mode = mode<<3 | uint32(c-'0')
		}
		data = data[sp+1:]
		nul := bytes.IndexByte(data, 0)
		if nul < 0 || len(data) < nul+1+hashSize {
			return fmt.Errorf("%w: truncated entry", errBadTree)
		}
		name := data[:nul]
		var h plumbing.Hash
		copy(h[:], data[nul+1:])
		data = data[nul+1+hashSize:]
		if err := fn(name, mode, h); err != nil {
			return err
		}
	}
	return nil
}

// checkName refuses entry names that could write outside their directory
// or into a repository: empty, ".", "..", containing "/" or NUL, or ".git"
// in any case. The error names the entry's full path.
func checkName(parent string, name []byte) error {
	var why string
	switch {
	case len(name) == 0:
		why = "empty name"
	case string(name) == "." || string(name) == "..":
		why = "relative name"
	case bytes.IndexByte(name, '/') >= 0:
		why = "name contains a slash"
	case bytes.IndexByte(name, 0) >= 0:
		why = "name contains a NUL byte"
	case bytes.EqualFold(name, []byte(".git")):
		why = "name is .git"
	default:
		return nil
	}
	return fmt.Errorf("refuse tree entry %q: %s; push a commit without it", joinPath(parent, string(name)), why)
}

// joinPath joins a slash-separated workspace path and an entry name.
func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "/" + name
}

// displayPath names a workspace path in errors, the root as ".".
func displayPath(path string) string {
	if path == "" {
		return "."
	}
	return path
}

// readEntries reads the tree object hash at path and calls fn for each
// of its entries with the entry's name, path and kind, after the checks every
// walk makes: the object is a tree, names are safe (checkName), no name
// is used twice (a file and a directory, say: refused here, before the
// second entry is written, rather than left to whichever write happens
// to fail), and the mode is one git checks out. seen is scratch space
// the caller keeps across calls.
func readEntries(r *reader, hash plumbing.Hash, path string, seen map[string]struct{}, fn func(name, path string, k kind, h plumbing.Hash) error) error {
	typ, data, err := r.read(hash)
	if err != nil {
		return fmt.Errorf("read tree %s (%s): %w", displayPath(path), hash, err)
	}
	if typ != plumbing.TreeObject {
		return fmt.Errorf("read tree %s (%s): object is a %s", displayPath(path), hash, typ)
	}
	clear(seen)
	return parseTree(data, func(name []byte, mode uint32, h plumbing.Hash) error {
		if err := checkName(path, name); err != nil {
			return err
		}
		if _, dup := seen[string(name)]; dup {
			return fmt.Errorf("refuse tree entry %q: two entries of one name; push a commit without one of them", joinPath(path, string(name)))
		}
		seen[string(name)] = struct{}{}
		entry := joinPath(path, string(name))
		k, ok := kindOf(mode)
		if !ok {
			return fmt.Errorf("tree entry %q: unsupported mode %o", entry, mode)
		}
		return fn(string(name), entry, k, h)
	})
}
