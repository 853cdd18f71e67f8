package proc

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// killPoll is how often the kill loops look again.
const killPoll = 5 * time.Millisecond

// KillTree kills every descendant of this process and reaps those that
// become its zombies, until none is left or timeout passes; it returns
// how many it signalled. Only a process whose children are all a run's
// (the hook, between jobs) may call it. As the child subreaper of its
// jobs' orphans, the hook finds everything they left running in its
// subtree, also processes that called setsid and cleared their
// environment. Killing the whole subtree in one pass stops forks
// everywhere at once; a pid is read from its parent's children list
// just before it is signalled, and pids are not reused that fast.
func KillTree(timeout time.Duration) int {
	self := os.Getpid()
	deadline := time.Now().Add(timeout)
	killed := make(map[int]bool)
	for {
		live := 0
		for _, pid := range descendants(self) {
			st, ok := readStat(pid)
			if !ok || st.Zombie() {
				continue
			}
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed[pid] = true
			}
			live++
		}
		ReapZombies()
		if live == 0 {
			if kids, _ := children(self); len(kids) == 0 {
				return len(killed)
			}
		}
		if time.Now().After(deadline) {
			return len(killed)
		}
		time.Sleep(killPoll)
	}
}

// descendants lists the processes below pid, breadth first.
func descendants(pid int) []int {
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		kids, _ := children(queue[0])
		queue = append(queue[1:], kids...)
		out = append(out, kids...)
	}
	return out
}

// KillMarked kills the members of the process groups groups and every
// process whose environment holds marker ("QUIRE_RUN_ID=<id>") as a
// whole entry, until none is alive or timeout passes, reaping those that
// are this process's children; it returns how many it signalled. It is
// the fallback where a run has no cgroup and the caller is not the
// subreaper of the run's processes (reconcile in another hook, a test
// binary running pipelines in process). A process that cleared its
// environment escapes it.
func KillMarked(marker []byte, groups []int, timeout time.Duration) int {
	for _, g := range groups {
		_ = syscall.Kill(-g, syscall.SIGKILL)
	}
	self := os.Getpid()
	known := make(map[int]bool) // found by marker; a zombie has lost it
	killed := make(map[int]bool)
	deadline := time.Now().Add(timeout)
	for {
		alive, zombies := 0, 0
		for _, p := range marked(marker, groups, known, self) {
			if !p.Zombie() {
				if syscall.Kill(p.PID, syscall.SIGKILL) == nil {
					killed[p.PID] = true
				}
				alive++
				continue
			}
			if p.PPID == self {
				var ws syscall.WaitStatus
				if n, _ := syscall.Wait4(p.PID, &ws, syscall.WNOHANG, nil); n != p.PID {
					zombies++
				}
			}
		}
		if alive+zombies == 0 || time.Now().After(deadline) {
			return len(killed)
		}
		time.Sleep(killPoll)
	}
}

// marked lists the processes other than self that belong to one of
// groups, or whose environment contains marker; those are added to
// known, which keeps finding them once they are zombies whose
// environment is gone.
func marked(marker []byte, groups []int, known map[int]bool, self int) []procStat {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var procs []procStat
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		st, ok := readStat(pid)
		if !ok {
			continue // gone
		}
		switch {
		case known[pid], slices.Contains(groups, st.PGRP):
		case !st.Zombie() && hasEnv(pid, marker):
			known[pid] = true
		default:
			continue
		}
		procs = append(procs, st)
	}
	return procs
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
