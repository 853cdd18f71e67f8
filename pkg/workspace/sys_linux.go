//go:build linux

package workspace

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// reuseSupported reports whether a Cache can reuse trees here: it needs
// the inode change time, which Linux reports in nanoseconds.
const reuseSupported = true

// statOf converts a stat buffer.
func statOf(st *syscall.Stat_t) fileStat {
	return fileStat{
		mode:  st.Mode,
		ino:   st.Ino,
		nlink: uint64(st.Nlink),
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
		uid:   st.Uid,
		gid:   st.Gid,
	}
}

// stat returns the stat of the open file.
func (f *rawFile) stat() (fileStat, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(f.fd, &st); err != nil {
		return fileStat{}, &fs.PathError{Op: "stat", Path: f.path, Err: err}
	}
	return statOf(&st), nil
}

// lstatPath returns the stat of path, not following a final symlink.
func lstatPath(path string) (fileStat, error) {
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return fileStat{}, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	return statOf(&st), nil
}

// openDir opens the directory at path for listDir, not following a
// final symlink.
func openDir(path string) (int, error) {
	for {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: path, Err: err}
		}
		return fd, nil
	}
}

// closeDir closes what openDir opened.
func closeDir(fd int) { unix.Close(fd) }

// noOpenat2 is set once openat2 turns out to be missing (before Linux
// 5.6); plain openat with O_NOFOLLOW is used then.
var noOpenat2 atomic.Bool

// listDir returns the names in the directory rel below the directory
// open as root, and the stat of each. Neither the directory nor any
// entry is reached through a symlink: the directory is opened with
// RESOLVE_NO_SYMLINKS where the kernel has it (and O_NOFOLLOW always),
// each name looked up relative to it. buf is scratch space for getdents.
func listDir(root int, rel string, buf []byte) ([]string, []fileStat, error) {
	fd, err := openBelow(root, rel)
	if err != nil {
		return nil, nil, err
	}
	defer unix.Close(fd)
	var names []string
	for {
		n, err := unix.Getdents(fd, buf)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, nil, &fs.PathError{Op: "getdents", Path: rel, Err: err}
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	stats := make([]fileStat, len(names))
	var st unix.Stat_t
	for i, name := range names {
		for {
			err = unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
			if !errors.Is(err, syscall.EINTR) {
				break
			}
		}
		if err != nil {
			return nil, nil, &fs.PathError{Op: "lstat", Path: joinPath(rel, name), Err: err}
		}
		stats[i] = fileStat{
			mode:  st.Mode,
			ino:   st.Ino,
			nlink: uint64(st.Nlink),
			size:  st.Size,
			mtime: st.Mtim.Nano(),
			ctime: st.Ctim.Nano(),
			uid:   st.Uid,
			gid:   st.Gid,
		}
	}
	return names, stats, nil
}

// dirCtime returns the change time of the directory rel below root
// ("" for root itself); ok is false when it is not a directory. One
// fstatat: a symlink in rel's parents is followed, which only reads
// metadata; whoever then acts on rel must open it with openBelow.
func dirCtime(root int, rel string) (ctime int64, ok bool) {
	if rel == "" {
		rel = "."
	}
	var st unix.Stat_t
	for {
		err := unix.Fstatat(root, rel, &st, unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return 0, false
		}
		return st.Ctim.Nano(), true
	}
}

// xattrsOf returns the extended attributes of the directory rel below
// root (an ACL is one too) as one comparable string: names sorted, each
// with its value. ok is false when they could not be read whole.
func xattrsOf(root int, rel string) (x string, ok bool) {
	fd, err := openBelow(root, rel)
	if err != nil {
		return "", false
	}
	defer unix.Close(fd)
	n, err := retry(func() (int, error) { return unix.Flistxattr(fd, nil) })
	if errors.Is(err, syscall.ENOTSUP) {
		return "", true // a file system without xattrs
	}
	if err != nil {
		return "", false
	}
	if n == 0 {
		return "", true
	}
	list := make([]byte, n)
	if n, err = retry(func() (int, error) { return unix.Flistxattr(fd, list) }); err != nil {
		return "", false
	}
	names := strings.Split(strings.TrimSuffix(string(list[:n]), "\x00"), "\x00")
	sort.Strings(names)
	var b []byte
	for _, name := range names {
		size, err := retry(func() (int, error) { return unix.Fgetxattr(fd, name, nil) })
		if err != nil {
			return "", false
		}
		val := make([]byte, size)
		if size, err = retry(func() (int, error) { return unix.Fgetxattr(fd, name, val) }); err != nil {
			return "", false
		}
		b = binary.AppendUvarint(b, uint64(len(name)))
		b = append(b, name...)
		b = binary.AppendUvarint(b, uint64(size))
		b = append(b, val[:size]...)
	}
	return string(b), true
}

// retry calls f until it is not interrupted.
func retry(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if !errors.Is(err, syscall.EINTR) {
			return n, err
		}
	}
}

// openBelow opens the directory rel below root ("" for root itself).
func openBelow(root int, rel string) (int, error) {
	if rel == "" {
		rel = "."
	}
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	for {
		var fd int
		var err error
		if !noOpenat2.Load() {
			fd, err = unix.Openat2(root, rel, &unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH})
			if errors.Is(err, syscall.ENOSYS) {
				noOpenat2.Store(true)
				continue
			}
		} else {
			fd, err = unix.Openat(root, rel, flags, 0)
		}
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: rel, Err: err}
		}
		return fd, nil
	}
}

// newStamp creates a fresh file at path and returns its change time: the
// file system's clock just now, as it stamps the files written before.
func newStamp(path string) (int64, error) {
	_ = os.Remove(path)
	f, err := createExcl(path, 0o644)
	if err != nil {
		return 0, err
	}
	st, err := f.stat()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return st.ctime, err
}

// tryLock takes an exclusive flock on f without waiting; false means
// another process holds it.
func tryLock(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case !errors.Is(err, syscall.EINTR):
			return false, err
		}
	}
}

// sameFile reports whether the open file f is still the file at path, so
// a lock taken on a file that was removed meanwhile is not trusted.
func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}
