package gitrepo

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// maxTreeFile bounds one file read through a TreeFS; pipeline files are
// small, and a huge one should not be read into memory.
const maxTreeFile = 8 << 20

// TreeFS returns a read-only file system over commit's tree. Only
// regular files can be read: a symlink is refused, so a pipeline file
// cannot point outside the commit.
func (r *Repo) TreeFS(commit plumbing.Hash) (fs.FS, error) {
	root, err := r.commitTree(commit)
	if err != nil {
		return nil, err
	}
	return treeFS{r: r, root: root}, nil
}

type treeFS struct {
	r    *Repo
	root plumbing.Hash
}

// ReadFile implements fs.ReadFileFS.
func (f treeFS) ReadFile(name string) ([]byte, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	e, found, err := f.r.lookup(f.root, name)
	switch {
	case err != nil:
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	case !found:
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	case e.mode == modeSymlink:
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("is a symlink; pipeline files must be regular files")}
	case !e.isFile():
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("not a regular file")}
	}
	blob, err := object.GetBlob(f.r.r.Storer, e.hash)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	if blob.Size > maxTreeFile {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fmt.Errorf("file is %d bytes, over the %d-byte limit", blob.Size, maxTreeFile)}
	}
	rd, err := blob.Reader()
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	defer rd.Close()
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return data, nil
}

// Open implements fs.FS for regular files.
func (f treeFS) Open(name string) (fs.File, error) {
	data, err := f.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return &memFile{Reader: bytes.NewReader(data), name: name, size: int64(len(data))}, nil
}

type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func (m *memFile) Stat() (fs.FileInfo, error) { return m, nil }
func (m *memFile) Close() error               { return nil }
func (m *memFile) Name() string               { return m.name }
func (m *memFile) Size() int64                { return m.size }
func (m *memFile) Mode() fs.FileMode          { return 0o444 }
func (m *memFile) ModTime() time.Time         { return time.Time{} }
func (m *memFile) IsDir() bool                { return false }
func (m *memFile) Sys() any                   { return nil }
