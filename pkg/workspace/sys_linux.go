//go:build linux

package workspace

import (
	"errors"
	"io/fs"
	"os"
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

// listDir returns the names in the directory at path and the stat of each,
// opening it without following a symlink and looking each name up
// relative to it, so no link on the way is followed either.
func listDir(path string) ([]string, []fileStat, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, nil, err
	}
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	stats := make([]fileStat, len(names))
	var serr error
	err = sc.Control(func(fd uintptr) {
		var st unix.Stat_t
		for i, name := range names {
			for {
				serr = unix.Fstatat(int(fd), name, &st, unix.AT_SYMLINK_NOFOLLOW)
				if !errors.Is(serr, syscall.EINTR) {
					break
				}
			}
			if serr != nil {
				serr = &fs.PathError{Op: "lstat", Path: path + "/" + name, Err: serr}
				return
			}
			stats[i] = fileStat{
				mode:  st.Mode,
				ino:   st.Ino,
				nlink: uint64(st.Nlink),
				size:  st.Size,
				mtime: st.Mtim.Nano(),
				ctime: st.Ctim.Nano(),
			}
		}
	})
	if err == nil {
		err = serr
	}
	return names, stats, err
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
