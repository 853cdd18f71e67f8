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

// Cgroup is a run's own cgroup v2, a child of the hook's cgroup. Every
// process an sh call starts is placed in it at fork (clone3 with
// CLONE_INTO_CGROUP), so a process cannot slip out between its start and
// being moved, and only a privileged process can leave it: killing the
// cgroup kills everything the run started, daemons that called setsid
// and cleared their environment included, and works from another
// process after the hook died.
type Cgroup struct {
	dir string
	fd  int // the directory, open for SysProcAttr.CgroupFD
}

// cgroupPrefix starts the name of every cgroup quire-hook creates.
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

// Dir is the cgroup's directory.
func (c *Cgroup) Dir() string { return c.dir }

// SysProcAttr places a process started with attr in the cgroup.
func (c *Cgroup) SysProcAttr(attr *syscall.SysProcAttr) {
	attr.UseCgroupFD = true
	attr.CgroupFD = c.fd
}

// Kill kills every process in the cgroup and waits, at most timeout, for
// the cgroup to be empty. It returns how many processes it held.
func (c *Cgroup) Kill(timeout time.Duration) int {
	return killCgroup(c.dir, timeout)
}

// Remove kills what is left in the cgroup and removes it. It is safe to
// call more than once.
func (c *Cgroup) Remove(timeout time.Duration) error {
	if c.fd >= 0 {
		syscall.Close(c.fd)
		c.fd = -1
	}
	_, err := RemoveCgroup(c.dir, timeout)
	return err
}

// RemoveCgroup kills the processes of the cgroup at dir, waits for it
// to be empty and removes it; reconcile calls it for the cgroup of a run
// whose hook died. dir must be a cgroup quire-hook created: a directory
// named quire-* in a cgroup v2 hierarchy. A cgroup already gone is not
// an error. It returns how many processes the cgroup held.
func RemoveCgroup(dir string, timeout time.Duration) (int, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if !strings.HasPrefix(filepath.Base(dir), cgroupPrefix) || !isCgroup2(dir) {
		return 0, fmt.Errorf("remove cgroup %s: not a cgroup of quire-hook", dir)
	}
	n := killCgroup(dir, timeout)
	for deadline := time.Now().Add(timeout); ; time.Sleep(killPoll) {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return n, nil
		}
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			return n, fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
	}
}

// killCgroup kills the members of the cgroup at dir: all at once through
// cgroup.kill (Linux 5.14), else one by one from cgroup.procs, again and
// again as a fork could add one meanwhile. Once the cgroup is empty (or
// timeout passed) it reaps those of them that were orphaned to this
// process, and no other child, whose exit status may be someone else's.
// It returns how many members it saw.
func killCgroup(dir string, timeout time.Duration) int {
	procs := cgroupProcs(dir)
	if len(procs) == 0 {
		return 0
	}
	seen := make(map[int]bool)
	useKill := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0) == nil
	for deadline := time.Now().Add(timeout); len(procs) > 0 && time.Now().Before(deadline); procs = cgroupProcs(dir) {
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
			st, ok := ReadStat(pid)
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
			if st, ok := ReadStat(pid); ok && !st.Zombie() {
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
