package runner

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Bwrap runs each sh call inside bubblewrap. What it guarantees, also
// when the hook runs as root (SPEC 4, "What the sandboxes guarantee"): no
// capabilities, so nothing can be mounted, unmounted or remounted; the
// host file system read-only; the workspace read-write at its own path,
// and the operator's binds (Bind) read-only or, where they ask, read-write;
// a private /tmp, /dev and /proc; the data root, config.lua and secret
// files masked (Masks); the bare repository readable (GitDir); its own
// pid namespace; no network unless Network; and the sandbox dies with the
// hook. The rest of the host file system stays readable, and the kernel
// is shared.
type Bwrap struct {
	Path    string // the bwrap binary
	Network bool
	// GitDir is the bare repository, bound read-only so that git works in
	// a job even where it lies under /tmp or under a masked directory.
	GitDir string
	// Masks are the host paths a job must not read: the data root,
	// config.lua and secret files. A directory is covered by an empty
	// read-only tmpfs, anything else by /dev/null, which cannot be opened
	// on bwrap's nodev mounts. Symlinks are resolved, so their target is
	// masked; a path that does not exist, or that the hook itself cannot
	// reach, is skipped.
	Masks []string
	// DisableUserns stops jobs from creating user namespaces of their
	// own; bubblewrap has the option since 0.8.0.
	DisableUserns bool

	binds []bwrapMount // added by Bind
}

// NewBwrap finds bwrap on PATH. gitDir stays readable inside the
// sandbox; masks are hidden from it (see Bwrap).
func NewBwrap(network bool, gitDir string, masks []string) (*Bwrap, error) {
	path, err := exec.LookPath("bwrap")
	if err != nil {
		return nil, fmt.Errorf("executor bwrap: %w; install bubblewrap (apt-get install bubblewrap)", err)
	}
	help, err := exec.Command(path, "--help").Output()
	if err != nil {
		return nil, fmt.Errorf("executor bwrap: run %s --help: %w; check that bubblewrap works on this host", path, err)
	}
	return &Bwrap{
		Path: path, Network: network, GitDir: gitDir, Masks: slices.Clone(masks),
		DisableUserns: bytes.Contains(help, []byte("--disable-userns")),
	}, nil
}

// Bind mounts the host path p into the sandbox at the same path (its
// symlinks resolved), read-write if rw, else read-only: config.lua's
// binds, such as a shared build cache. p must exist, and must not be
// or lie inside a masked path, which jobs must not see.
func (b *Bwrap) Bind(p string, rw bool) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("bind %s: not an absolute path; give binds as absolute paths", p)
	}
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("bind %s does not exist; create it (mkdir -p %s) or remove it from binds in config.lua", p, p)
	}
	if err != nil {
		return fmt.Errorf("bind %s: %w; check that this user can reach it", p, err)
	}
	for _, m := range b.Masks {
		if m == "" {
			continue
		}
		if mr, err := filepath.EvalSymlinks(m); err == nil && within(mr, real) {
			return fmt.Errorf("bind %s is inside %s, which jobs must not see (the data root, config.lua or a secret file); bind another path", p, m)
		}
	}
	kind := mountBindRO
	if rw {
		kind = mountBindRW
	}
	b.binds = append(b.binds, bwrapMount{real, kind})
	return nil
}

// Command implements Executor.
func (b *Bwrap) Command(argv []string, dir, ws string) []string {
	cmd := []string{b.Path,
		// No capabilities, even as root: without them nothing can be
		// mounted, unmounted or remounted, so the read-only binds and the
		// masks below hold. The user namespace makes root inside it
		// powerless over the host's mounts should a capability survive.
		"--unshare-user", "--cap-drop", "ALL",
		"--unshare-pid", "--unshare-ipc", "--unshare-uts",
		"--die-with-parent",
		"--ro-bind", "/", "/",
	}
	if b.DisableUserns {
		cmd = append(cmd, "--disable-userns")
	}
	if !b.Network {
		cmd = append(cmd, "--unshare-net")
	}
	cmd = append(cmd, bwrapMounts(b.GitDir, ws, b.Masks, b.binds)...)
	cmd = append(cmd, "--chdir", dir, "--")
	return append(cmd, argv...)
}

// Exit implements Executor. bwrap reports a child killed by signal N as
// exit status 128+N, as a shell does; that is mapped back to -N, so a
// command that itself exits with 129-192 reads as killed by a signal.
func (b *Bwrap) Exit(ws syscall.WaitStatus) int {
	code := Host{}.Exit(ws)
	if code > 128 && code <= 128+64 {
		return -(code - 128)
	}
	return code
}

// startFailed implements startFailer: bwrap exits 1 after printing
// "bwrap: execvp <program>: <reason>" when the program cannot be run
// inside the sandbox (missing there, or not executable), where the host
// executor reads 127.
func (b *Bwrap) startFailed(exit int, stderr []byte) bool {
	if exit != 1 || len(stderr) > 4096 {
		return false
	}
	lines := strings.Split(strings.TrimRight(string(stderr), "\n"), "\n")
	return strings.HasPrefix(lines[len(lines)-1], "bwrap: execvp ")
}

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

type bwrapMount struct {
	path string // absolute, symlinks resolved
	kind mountKind
}

// bwrapMounts returns the bwrap options that mount, over the read-only
// host root, the private /dev, /proc and /tmp, the bare repository, the
// operator's binds, the masks and the workspace. A mount covers what earlier mounts put below
// its path, so they go outermost first. A mask inside a path already
// hidden is left out: bwrap would have to create its mount point there.
func bwrapMounts(gitDir, ws string, masks []string, binds []bwrapMount) []string {
	ms := []bwrapMount{{"/dev", mountPrivate}, {"/proc", mountPrivate}, {"/tmp", mountPrivate}}
	ms = append(ms, binds...)
	if gitDir != "" {
		ms = append(ms, bwrapMount{resolveOr(gitDir), mountReadOnly})
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
		ms = append(ms, bwrapMount{p, kind})
	}
	ms = append(ms, bwrapMount{resolveOr(ws), mountWritable})
	slices.SortFunc(ms, func(a, b bwrapMount) int {
		return cmp.Or(cmp.Compare(pathDepth(a.path), pathDepth(b.path)), cmp.Compare(a.kind, b.kind), cmp.Compare(a.path, b.path))
	})

	// Drop masks already hidden by the nearest mount above them.
	var kept []bwrapMount
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
func nearestAbove(ms []bwrapMount, p string) (bwrapMount, bool) {
	for i := len(ms) - 1; i >= 0; i-- {
		if within(ms[i].path, p) {
			return ms[i], true
		}
	}
	return bwrapMount{}, false
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
