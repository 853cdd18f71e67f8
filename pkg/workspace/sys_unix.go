//go:build unix

package workspace

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// mapFile maps f read-only, or returns nil when it cannot be mapped; the
// caller then reads with ReadAt. Packs are never rewritten in place (git
// writes a new pack and renames it), so the mapping stays valid.
func mapFile(f *os.File, size int64) []byte {
	if size <= 0 || int64(int(size)) != size {
		return nil
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	return data
}

// unmapFile releases a mapping made by mapFile.
func unmapFile(data []byte) {
	if data != nil {
		syscall.Munmap(data)
	}
}

// rawFile is a file written with plain system calls: an *os.File costs
// two fcntl calls, a poller registration attempt and a finalizer per file,
// which adds up over tens of thousands of small files.
type rawFile struct {
	fd   int
	path string
}

// createExcl creates path with perm, failing if anything exists there,
// a symlink included (O_EXCL never follows one).
func createExcl(path string, perm fs.FileMode) (*rawFile, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, uint32(perm))
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "create", Path: path, Err: err}
		}
		return &rawFile{fd: fd, path: path}, nil
	}
}

// Write writes all of b.
func (f *rawFile) Write(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := syscall.Write(f.fd, b[n:])
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return n, &fs.PathError{Op: "write", Path: f.path, Err: err}
		}
		if m == 0 {
			return n, &fs.PathError{Op: "write", Path: f.path, Err: syscall.EIO}
		}
		n += m
	}
	return n, nil
}

// Chmod sets the file's mode bits.
func (f *rawFile) Chmod(perm fs.FileMode) error {
	if err := syscall.Fchmod(f.fd, uint32(perm)); err != nil {
		return &fs.PathError{Op: "chmod", Path: f.path, Err: err}
	}
	return nil
}

// Close closes the file.
func (f *rawFile) Close() error {
	if err := syscall.Close(f.fd); err != nil {
		return &fs.PathError{Op: "close", Path: f.path, Err: err}
	}
	return nil
}
