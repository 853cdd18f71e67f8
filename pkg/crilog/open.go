package crilog

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// OpenLog opens the log file at path for reading, refusing what a log
// never is: a symbolic link (a job that can write its run's directory
// could otherwise point its log at /etc/shadow for a reader running as
// root, such as quire-hook serve) and anything but a regular file (a
// FIFO would block the reader forever). Writer creates logs with O_EXCL,
// which never follows a link, so real logs always pass.
func OpenLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if pe, ok := err.(*os.PathError); ok && pe.Err == syscall.ELOOP {
			return nil, fmt.Errorf("open log %s: it is a symbolic link, which no log written by quire-hook is", path)
		}
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	return regular(f, path)
}

// regular returns f if it is a regular file, else closes it and says
// what it is.
func regular(f *os.File, path string) (*os.File, error) {
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("open log %s: it is a %s, not a regular file", path, fileKind(fi.Mode()))
	}
	return f, nil
}

// fileKind names the type of a file that is not regular.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&os.ModeNamedPipe != 0:
		return "FIFO"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// OpenLogBelow is OpenLog for a log that must lie below root: path,
// which must be inside root, is opened relative to root with no symbolic
// link followed in any component (openat2 RESOLVE_BENEATH and
// RESOLVE_NO_SYMLINKS), in one system call, so that a directory swapped
// for a link between a check and the open cannot lead elsewhere. A
// kernel without openat2 (before Linux 5.6) gets OpenLog.
func OpenLogBelow(root, path string) (*os.File, error) {
	rel, err := filepath.Rel(root, path)
	if err != nil || !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("open log %s: not below %s", path, root)
	}
	dir, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open log %s: open %s: %w", path, root, err)
	}
	defer unix.Close(dir)
	fd, err := unix.Openat2(dir, rel, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS,
	})
	switch {
	case err == unix.ENOSYS:
		return OpenLog(path)
	case err == unix.ELOOP || err == unix.EXDEV:
		return nil, fmt.Errorf("open log %s: a symbolic link is on its way from %s, which no log written by quire-hook has", path, root)
	case err != nil:
		return nil, fmt.Errorf("open log %s: %w", path, &os.PathError{Op: "open", Path: path, Err: err})
	}
	f := os.NewFile(uintptr(fd), path)
	return regular(f, path)
}

// FollowFile is FollowAt for a log already open as f (see OpenLogBelow);
// the Follower owns f from then on, and closes it even on error.
func FollowFile(f *os.File, off int64) (*Follower, error) {
	if off < 0 {
		f.Close()
		return nil, fmt.Errorf("follow log %s: negative offset %d", f.Name(), off)
	}
	fl, err := followAt(f.Name(), f, off)
	if err != nil {
		f.Close()
		return nil, err
	}
	return fl, nil
}
