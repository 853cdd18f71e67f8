package bwrap

import (
	"cmp"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// mountKind is what bwrap mounts over one path. Of mounts at one depth,
// the bare repository goes before the masks, so a bare repository that
// is itself a masked path stays masked, and the workspace goes last.
type mountKind int

const (
	mountPrivate  mountKind = iota // /dev, /proc, /tmp: the sandbox's own
	mountReadOnly                  // bound read-only: the bare repository
	mountBindRO                    // an operator's bind, read-only
	mountBindRW                    // an operator's bind, read-write
	mountMaskDir                   // an empty tmpfs, remounted read-only
	mountMaskFile                  // /dev/null bound read-only
	mountWritable                  // bound read-write: the workspace
)

// hides reports whether the mount hides what the host has below it.
func (k mountKind) hides() bool {
	return k == mountPrivate || k == mountMaskDir || k == mountMaskFile
}

type mount struct {
	path string // absolute, symlinks resolved
	kind mountKind
}

// mounts returns the bwrap options that mount, over the read-only
// host root, the private /dev, /proc and /tmp, the bare repository, the
// operator's binds, the masks and the workspace. A mount covers what earlier mounts put below
// its path, so they go outermost first. A mask inside a path already
// hidden is left out: bwrap would have to create its mount point there.
func mounts(gitDir, ws string, masks []string, binds []mount) []string {
	ms := []mount{{"/dev", mountPrivate}, {"/proc", mountPrivate}, {"/tmp", mountPrivate}}
	ms = append(ms, binds...)
	if gitDir != "" {
		ms = append(ms, mount{resolveOr(gitDir), mountReadOnly})
	}
	for _, m := range masks {
		if m == "" {
			continue
		}
		p, err := filepath.EvalSymlinks(m)
		if err != nil {
			continue // missing, or unreachable by this user and so by the job
		}
		p, err = filepath.Abs(p)
		if err != nil {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		kind := mountMaskFile
		if fi.IsDir() {
			kind = mountMaskDir
		}
		ms = append(ms, mount{p, kind})
	}
	ms = append(ms, mount{resolveOr(ws), mountWritable})
	slices.SortFunc(ms, func(a, b mount) int {
		return cmp.Or(cmp.Compare(pathDepth(a.path), pathDepth(b.path)), cmp.Compare(a.kind, b.kind), cmp.Compare(a.path, b.path))
	})

	// Drop masks already hidden by the nearest mount above them.
	var kept []mount
	for _, m := range ms {
		if m.kind == mountMaskDir || m.kind == mountMaskFile {
			if above, ok := nearestAbove(kept, m.path); ok && above.kind.hides() {
				continue
			}
		}
		kept = append(kept, m)
	}

	var args, remount []string
	for _, m := range kept {
		switch m.kind {
		case mountPrivate:
			switch m.path {
			case "/dev":
				args = append(args, "--dev", m.path)
			case "/proc":
				args = append(args, "--proc", m.path)
			default:
				args = append(args, "--tmpfs", m.path)
			}
		case mountReadOnly, mountBindRO:
			args = append(args, "--ro-bind", m.path, m.path)
		case mountMaskDir:
			// Read-only once everything below it is mounted, so a job
			// cannot write there either.
			args = append(args, "--tmpfs", m.path)
			remount = append(remount, "--remount-ro", m.path)
		case mountMaskFile:
			args = append(args, "--ro-bind", "/dev/null", m.path)
		case mountWritable, mountBindRW:
			args = append(args, "--bind", m.path, m.path)
		}
	}
	return append(args, remount...)
}

// nearestAbove returns the deepest of ms (sorted outermost first) whose
// path is p or one of its ancestors.
func nearestAbove(ms []mount, p string) (mount, bool) {
	for i := len(ms) - 1; i >= 0; i-- {
		if within(ms[i].path, p) {
			return ms[i], true
		}
	}
	return mount{}, false
}

// within reports whether p is dir or below it.
func within(dir, p string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// pathDepth counts the elements of a clean absolute path.
func pathDepth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

// resolveOr returns p absolute with its symlinks resolved, or cleaned
// when that fails; bwrap then reports what is wrong with it.
func resolveOr(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}
