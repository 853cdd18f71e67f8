package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Cgroup is a cgroup v2 of quire-hook's: a run's, a child of the hook's
// cgroup named quire-<run id>, and in it one child per job, the leaf its
// sh processes start in. Every such process is placed in the job's
// cgroup at fork (clone3 with CLONE_INTO_CGROUP), so none can slip out
// between its start and being moved, and only a privileged process can
// leave it: killing the cgroup kills everything the job started, daemons
// that called setsid and cleared their environment included, and works
// from another process after the hook died (reconcile kills the run's
// cgroup, children included).
//
// A job's cgroup is removed when the job ends, never reused: Linux kills
// a process cloned into a cgroup that was killed through cgroup.kill
// before (its kill sequence number differs from the parent's), so the
// next job's processes must start in a fresh one.
type Cgroup struct {
	dir string
	fd  int // the directory, open for SysProcAttr.CgroupFD
}

// cgroupPrefix starts the name of every run cgroup quire-hook creates.
const cgroupPrefix = "quire-"

// CgroupPath returns the path the cgroup of run would have: a child of
// this process's cgroup v2 named quire-<run>. ok is false when there is
// no cgroup v2 hierarchy.
func CgroupPath(run string) (string, bool) {
	mount, ok := cgroup2Mount()
	if !ok {
		return "", false
	}
	own, ok := ownCgroup()
	if !ok {
		return "", false
	}
	return filepath.Join(mount, own, cgroupPrefix+run), true
}

// NewCgroup creates the cgroup at path (from CgroupPath). It fails where
// the hook may not create cgroups (no cgroup v2, not root and not
// delegated); the caller then falls back to tracking the subtree.
func NewCgroup(path string) (*Cgroup, error) {
	if err := os.Mkdir(path, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("create cgroup %s: %w", path, err)
	}
	fd, err := syscall.Open(path, syscall.O_DIRECTORY|syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		_ = syscall.Rmdir(path)
		return nil, fmt.Errorf("open cgroup %s: %w", path, err)
	}
	return &Cgroup{dir: path, fd: fd}, nil
}

// Child creates the child cgroup name of c, for one job.
func (c *Cgroup) Child(name string) (*Cgroup, error) {
	return NewCgroup(filepath.Join(c.dir, name))
}

// SysProcAttr places a process started with attr in the cgroup.
func (c *Cgroup) SysProcAttr(attr *syscall.SysProcAttr) {
	attr.UseCgroupFD = true
	attr.CgroupFD = c.fd
}

// Remove kills what is left in the cgroup and its children, waits, at
// most timeout, for them to be empty and removes them. It returns how
// many processes they held. It is safe to call more than once.
func (c *Cgroup) Remove(timeout time.Duration) (int, error) {
	if c.fd >= 0 {
		syscall.Close(c.fd)
		c.fd = -1
	}
	return removeTree(c.dir, timeout)
}

// RemoveCgroup is Remove for the run cgroup at dir, from a process that
// knows only its path: reconcile, after the hook that made it died. dir
// must be a cgroup quire-hook created: a directory named quire-* in a
// cgroup v2 hierarchy. A cgroup already gone is not an error.
func RemoveCgroup(dir string, timeout time.Duration) (int, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if !strings.HasPrefix(filepath.Base(dir), cgroupPrefix) || !isCgroup2(dir) {
		return 0, fmt.Errorf("remove cgroup %s: not a cgroup of quire-hook", dir)
	}
	return removeTree(dir, timeout)
}

// removeTree kills the processes of the cgroup at dir and of its
// children, then removes the children and dir, deepest first.
func removeTree(dir string, timeout time.Duration) (int, error) {
	n := killCgroup(dir, timeout)
	var dirs []string
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	deadline := time.Now().Add(timeout)
	for i := len(dirs) - 1; i >= 0; i-- {
		for {
			err := syscall.Rmdir(dirs[i])
			if err == nil || errors.Is(err, syscall.ENOENT) {
				break
			}
			if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
				return n, fmt.Errorf("remove cgroup %s: %w", dirs[i], err)
			}
			time.Sleep(killPoll)
		}
	}
	return n, nil
}

// killCgroup kills the members of the cgroup at dir and of its
// children: all at once through cgroup.kill (Linux 5.14), else one by
// one from cgroup.procs, again and again as a fork could add one
// meanwhile. Once they are gone (or timeout passed) it reaps those of
// them that were orphaned to this process, and no other child, whose
// exit status may be someone else's. It returns how many it saw.
func killCgroup(dir string, timeout time.Duration) int {
	procs := treeProcs(dir)
	if len(procs) == 0 {
		return 0
	}
	seen := make(map[int]bool)
	useKill := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0) == nil
	for deadline := time.Now().Add(timeout); len(procs) > 0 && time.Now().Before(deadline); procs = treeProcs(dir) {
		for _, pid := range procs {
			seen[pid] = true
			if !useKill {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(killPoll)
	}
	// A process leaves cgroup.procs a moment before it turns zombie.
	n := len(seen)
	self := os.Getpid()
	for deadline := time.Now().Add(timeout); len(seen) > 0; time.Sleep(killPoll) {
		for pid := range seen {
			st, ok := readStat(pid)
			if !ok || st.PPID != self {
				delete(seen, pid)
				continue
			}
			var ws syscall.WaitStatus
			if got, _ := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); got == pid {
				delete(seen, pid)
			}
		}
		if time.Now().After(deadline) {
			break
		}
	}
	return n
}

// treeProcs lists the live members of the cgroup at dir and its children.
func treeProcs(dir string) []int {
	var pids []int
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			pids = append(pids, cgroupProcs(path)...)
		}
		return nil
	})
	return pids
}

// cgroupProcs lists the live members of the cgroup at dir.
func cgroupProcs(dir string) []int {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	for f := range bytes.FieldsSeq(data) {
		var pid int
		if _, err := fmt.Sscan(string(f), &pid); err == nil {
			if st, ok := readStat(pid); ok && !st.Zombie() {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// cgroup2Mount returns where the cgroup v2 hierarchy is mounted
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid system).
func cgroup2Mount() (string, bool) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "id parent major:minor root mountpoint options ... - fstype source superopts"
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(pre)
		if !ok || len(fields) < 5 || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		return fields[4], true
	}
	return "", false
}

// ownCgroup returns this process's cgroup v2 path ("0::/path").
func ownCgroup() (string, bool) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", false
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok && strings.HasPrefix(p, "/") {
			return p, true
		}
	}
	return "", false
}

// isCgroup2 reports whether dir is on a cgroup v2 file system.
func isCgroup2(dir string) bool {
	var st syscall.Statfs_t
	const cgroup2SuperMagic = 0x63677270
	return syscall.Statfs(dir, &st) == nil && st.Type == cgroup2SuperMagic
}
