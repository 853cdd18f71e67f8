package runner

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// prSetChildSubreaper is prctl(2)'s PR_SET_CHILD_SUBREAPER.
const prSetChildSubreaper = 36

// leftoverTimeout bounds how long the end of a job waits for what it
// left running to die.
const leftoverTimeout = 2 * time.Second

var subreaperOnce sync.Once

// becomeSubreaper makes processes orphaned by a job (a daemon that
// double-forked, a setsid child) re-parent to this process instead of
// init, so that they can be found and reaped. It applies to the whole
// process and is done once.
func becomeSubreaper() {
	subreaperOnce.Do(func() {
		_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	})
}

// killLeftovers kills everything a job left running: the members of the
// process groups of its sh calls, and every process whose environment
// carries marker (the QUIRE_RUN_ID of the run; its jobs run one at a
// time), wherever it is in the process tree: it left the job's process
// group, perhaps its session, but it cannot shed the environment it
// inherited without exec'ing with a new one. Those re-parented to us,
// their subreaper, are reaped; the others by their own parents. It
// returns once none is alive, or after leftoverTimeout.
func killLeftovers(marker []byte, groups []int) {
	for _, g := range groups {
		_ = syscall.Kill(-g, syscall.SIGKILL)
	}
	self := os.Getpid()
	// The common case, a job that left nothing behind, costs one small
	// read instead of a scan of every process: as their subreaper, the
	// top of whatever a job left running is a child of ours.
	if len(groups) == 0 && !hasChildren(self) {
		return
	}
	known := make(map[int]bool) // found by marker; a zombie has lost it
	deadline := time.Now().Add(leftoverTimeout)
	for {
		alive, zombies := 0, 0
		for _, p := range leftovers(marker, groups, known, self) {
			if p.state != 'Z' {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
				alive++
				continue
			}
			if p.ppid == self {
				var ws syscall.WaitStatus
				if n, _ := syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil); n != p.pid {
					zombies++
				}
			}
		}
		if alive+zombies == 0 || time.Now().After(deadline) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hasChildren reports whether process self has child processes, or
// true when the kernel cannot tell, so that the caller scans.
func hasChildren(self int) bool {
	pids, ok := children(self)
	return !ok || len(pids) > 0
}

// children lists the child processes of self (all its threads'); ok is
// false when the kernel has no /proc/<pid>/task/<tid>/children.
func children(self int) (pids []int, ok bool) {
	dir := filepath.Join("/proc", strconv.Itoa(self), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, false
	}
	for _, t := range tasks {
		data, err := os.ReadFile(filepath.Join(dir, t.Name(), "children"))
		if os.IsNotExist(err) && t.Name() != strconv.Itoa(self) {
			continue // a thread that just exited; the main thread tells whether the file exists
		}
		if err != nil {
			return nil, false
		}
		for _, f := range bytes.Fields(data) {
			if pid, err := strconv.Atoi(string(f)); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids, true
}

// ReapOrphans waits for every child of this process that has exited:
// as a subreaper the hook inherits orphans that end on their own, and
// nothing else waits for them. Only the hook may call it, between jobs:
// it would steal the exit status of a child some other code still
// waits for.
func ReapOrphans() {
	self := os.Getpid()
	pids, _ := children(self)
	for _, pid := range pids {
		if p, ok := readStat(pid); ok && p.state == 'Z' {
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		}
	}
}

// proc is what killLeftovers needs to know of a process.
type proc struct {
	pid, ppid, pgrp int
	state           byte
}

// leftovers lists the processes other than self that belong to one of
// groups, or whose environment contains marker as a whole NUL-separated
// entry; those are added to known, which keeps finding them once they
// are zombies whose environment is gone.
func leftovers(marker []byte, groups []int, known map[int]bool, self int) []proc {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var procs []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		p, ok := readStat(pid)
		if !ok {
			continue // gone
		}
		switch {
		case known[pid], slices.Contains(groups, p.pgrp):
		case p.state != 'Z' && hasEnv(pid, marker):
			known[pid] = true
		default:
			continue
		}
		procs = append(procs, p)
	}
	return procs
}

// readStat parses the state, parent and process group of pid from
// /proc/<pid>/stat: "pid (comm) state ppid pgrp ...", where comm may
// hold spaces and parentheses.
func readStat(pid int) (proc, bool) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return proc{}, false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return proc{}, false
	}
	f := bytes.Fields(data[i+1:])
	if len(f) < 3 || len(f[0]) != 1 {
		return proc{}, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	if err1 != nil || err2 != nil {
		return proc{}, false
	}
	return proc{pid: pid, ppid: ppid, pgrp: pgrp, state: f[0][0]}, true
}

// hasEnv reports whether the environment of pid holds marker.
func hasEnv(pid int, marker []byte) bool {
	env, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		return false // gone, or a kernel thread
	}
	for kv := range bytes.SplitSeq(env, []byte{0}) {
		if bytes.Equal(kv, marker) {
			return true
		}
	}
	return false
}
