//go:build !linux

package workspace

import (
	"errors"
	"os"
)

// reuseSupported reports whether a Cache can reuse trees here: not
// without Linux's nanosecond inode change times, so every checkout is a
// full materialize.
const reuseSupported = false

// errNoReuse is what the stat helpers return where reuse is unsupported.
var errNoReuse = errors.New("workspace reuse is not supported on this system")

// stat is unsupported here.
func (f *rawFile) stat() (fileStat, error) { return fileStat{}, errNoReuse }

// lstatPath is unsupported here.
func lstatPath(string) (fileStat, error) { return fileStat{}, errNoReuse }

// openDir is unsupported here.
func openDir(string) (int, error) { return -1, errNoReuse }

// closeDir does nothing here.
func closeDir(int) {}

// listDir is unsupported here.
func listDir(int, string, []byte) ([]string, []fileStat, error) { return nil, nil, errNoReuse }

// xattrsOf is unsupported here.
func xattrsOf(int, string) (string, bool) { return "", false }

// dirCtime is never called here.
func dirCtime(int, string) (int64, bool) { return 0, false }

// newStamp is unsupported here.
func newStamp(string) (int64, error) { return 0, errNoReuse }

// tryLock is unsupported here.
func tryLock(*os.File) (bool, error) { return false, errNoReuse }

// sameFile is unsupported here.
func sameFile(*os.File, string) bool { return false }
