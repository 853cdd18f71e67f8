package notes

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// The ref is read and updated with git's own files-backend protocol,
// not go-git's: go-git's compare-and-swap locks the ref file with flock
// and rewrites it in place, which git does not honour (git renames a
// <ref>.lock file over the ref, so go-git would write to the replaced
// file and the update would vanish), and a reader sees the file empty
// in between. Taking <ref>.lock with O_EXCL excludes git and every
// other quire-hook alike, and the rename makes the new value appear at
// once.

// errChanged is updateRef's error when the ref no longer holds the
// value the caller built on.
var errChanged = errors.New("the ref changed")

// lockedError is updateRef's error when another writer holds the ref's
// lock file.
type lockedError struct{ path string }

func (e *lockedError) Error() string {
	return fmt.Sprintf("%s exists: another process is updating the ref; if none is, remove that file", e.path)
}

// readRef returns the commit ref names in the repository at gitDir:
// its loose file, else its line in packed-refs; the zero hash when
// there is neither.
func readRef(gitDir, ref string) (plumbing.Hash, error) {
	data, err := os.ReadFile(filepath.Join(gitDir, filepath.FromSlash(ref)))
	switch {
	case err == nil:
		s := strings.TrimSpace(string(data))
		if strings.HasPrefix(s, "ref:") {
			return plumbing.ZeroHash, fmt.Errorf("ref %s is symbolic (%s); notes need a plain ref", ref, s)
		}
		if !plumbing.IsHash(s) {
			return plumbing.ZeroHash, fmt.Errorf("ref %s holds %q, not a commit id", ref, s)
		}
		return plumbing.NewHash(s), nil
	case errors.Is(err, fs.ErrNotExist), isNotDir(err):
		return packedRef(gitDir, ref)
	default:
		return plumbing.ZeroHash, fmt.Errorf("read ref %s: %w", ref, err)
	}
}

// isNotDir reports whether err says a parent of the path is a file.
func isNotDir(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "not a directory")
}

// packedRef finds ref in gitDir's packed-refs file.
func packedRef(gitDir, ref string) (plumbing.Hash, error) {
	f, err := os.Open(filepath.Join(gitDir, "packed-refs"))
	if errors.Is(err, fs.ErrNotExist) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read packed-refs: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || line[0] == '^' {
			continue
		}
		hash, name, ok := strings.Cut(line, " ")
		if ok && name == ref && plumbing.IsHash(hash) {
			return plumbing.NewHash(hash), nil
		}
	}
	if err := sc.Err(); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read packed-refs: %w", err)
	}
	return plumbing.ZeroHash, nil
}

// updateRef sets ref to next if it still holds old (the zero hash: if
// it does not exist), as git does: it creates <ref>.lock exclusively,
// checks the current value, writes the new one into the lock file and
// renames it over the ref. It fails with errChanged when the ref moved,
// and with a *lockedError while another writer holds the lock.
func updateRef(gitDir, ref string, old, next plumbing.Hash, shared sharedMode) (err error) {
	if _, err := os.Stat(filepath.Join(gitDir, "reftable")); err == nil {
		return fmt.Errorf("update ref %s: the repository keeps its refs in a reftable, which quire-hook cannot update", ref)
	}
	path := filepath.Join(gitDir, filepath.FromSlash(ref))
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		return fmt.Errorf("update ref %s: %w", ref, err)
	}
	for dir := filepath.Dir(path); shared != 0 && strings.HasPrefix(dir, filepath.Join(gitDir, "refs")+"/"); dir = filepath.Dir(dir) {
		if err := shared.adjust(dir); err != nil {
			return fmt.Errorf("update ref %s: %w", ref, err)
		}
	}
	lock := path + ".lock"
	f, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if errors.Is(err, fs.ErrExist) {
		return &lockedError{path: lock}
	}
	if err != nil {
		return fmt.Errorf("lock ref %s: %w", ref, err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(lock)
		}
	}()

	cur, err := readRef(gitDir, ref)
	if err != nil {
		return err
	}
	if cur != old {
		return errChanged
	}
	if _, err := f.WriteString(next.String() + "\n"); err != nil {
		return fmt.Errorf("write %s: %w", lock, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", lock, err)
	}
	if err := shared.adjust(lock); err != nil {
		return fmt.Errorf("write %s: %w", lock, err)
	}
	if err := os.Rename(lock, path); err != nil {
		return fmt.Errorf("update ref %s: %w", ref, err)
	}
	committed = true
	return nil
}
