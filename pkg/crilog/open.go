package crilog

import (
	"fmt"
	"os"
	"syscall"
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
