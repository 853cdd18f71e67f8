package datadir

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Mount is one line of /proc/self/mountinfo: a mount point of this
// process's mount namespace.
type Mount struct {
	Point   string // where it is mounted, unescaped
	FSType  string // "overlay", "tmpfs", ...
	Options string // the super block's options, unescaped: for an overlay, "rw,lowerdir=...,upperdir=...,workdir=..."
}

// Mounts lists the mounts of this process's mount namespace; none
// where there is no /proc/self/mountinfo (not Linux, no /proc): nothing
// can have been mounted there by quire-hook either.
func Mounts() ([]Mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list mounts: %w", err)
	}
	defer f.Close()
	return parseMountinfo(f)
}

// parseMountinfo parses the format of proc(5)'s mountinfo. Fields are
// split on single spaces, as the kernel writes them: it escapes only
// space, tab, newline and backslash, so a mount point may hold other
// white space ('\r', '\v', U+00A0) that strings.Fields would cut at, and
// an empty source is an empty field. A line that still does not parse
// is skipped rather than failing the table: one odd mount anywhere must
// not stop every removal of a run directory.
func parseMountinfo(r io.Reader) ([]Mount, error) {
	var mounts []Mount
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		// id parent major:minor root point options [tags...] - type source super
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields, tail := strings.Split(pre, " "), strings.Split(post, " ")
		if !ok || len(fields) < 6 || len(tail) < 3 {
			continue
		}
		mounts = append(mounts, Mount{Point: unescape(fields[4]), FSType: unescape(tail[0]), Options: unescape(tail[2])})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("list mounts: %w", err)
	}
	return mounts, nil
}

// unescape undoes the kernel's octal escapes (\040 for a space, \054 for
// a comma in an overlay's options, ...).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// below reports whether path is dir or inside it.
func below(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// realPath resolves the symlinks of path's parent, as mountinfo shows
// mount points by their real path; path itself is not followed (a
// symlink there is what RemoveAll removes, not where it points).
func realPath(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if dir, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		return filepath.Join(dir, filepath.Base(abs))
	}
	return abs
}

// Detach detaches every mount at or below path, deepest first, lazily
// (MNT_DETACH: a process still using one keeps it, but it is gone from
// the tree), so that removing path never deletes through a mount into
// what the mount shows — a workspace overlay (pkg/workspace) left by a
// killed hook, or anything a job mounted. It does nothing where nothing
// is mounted, which one read of /proc/self/mountinfo tells.
func Detach(path string) error {
	mounts, err := Mounts()
	if err != nil {
		return fmt.Errorf("detach mounts below %s: %w", path, err)
	}
	real := realPath(path)
	var points []string
	for _, m := range mounts {
		if below(m.Point, real) {
			points = append(points, m.Point)
		}
	}
	// Deepest first; a point mounted twice is listed twice.
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, p := range points {
		if err := detach(p); err != nil {
			errs = append(errs, fmt.Errorf("detach mount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// RemoveDetached detaches every mount at or below path (Detach), then
// removes path as RemoveAll does. Everything that removes a run
// directory or a workspace uses it: a hook killed while its jobs ran
// leaves <run>/workspace mounted.
func RemoveDetached(path string) error {
	if err := Detach(path); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return RemoveAll(path)
}
