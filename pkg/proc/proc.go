// Package proc finds, signals and reaps the processes of a run: the one
// place that reads /proc and kills processes. A run's processes are
// tracked three ways, strongest first: a cgroup v2 per run where the hook
// may create one (every process a job starts is placed in it at fork and
// cannot leave without privileges, so killing the cgroup kills them all,
// also after the hook itself died); the hook's subtree, since the hook is
// the child subreaper of everything its jobs orphan; and the run's
// QUIRE_RUN_ID marker in a process's environment, which a process can
// shed (env -i) and is therefore a last resort.
package proc

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// prSetChildSubreaper is prctl(2)'s PR_SET_CHILD_SUBREAPER.
const prSetChildSubreaper = 36

var subreaperOnce sync.Once

// BecomeSubreaper makes processes orphaned by a job (a daemon that
// double-forked, a setsid child) re-parent to this process instead of
// init, so that they stay in its subtree, can be found and are reaped.
// It applies to the whole process and is done once.
func BecomeSubreaper() {
	subreaperOnce.Do(func() {
		_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	})
}

// procStat is what /proc/<pid>/stat says of a process that matters here.
type procStat struct {
	PID, PPID, PGRP int
	State           byte // R, S, D, Z, T, ...
	StartTicks      int64
}

// Zombie reports whether the process has exited and waits to be reaped.
func (s procStat) Zombie() bool { return s.State == 'Z' || s.State == 'X' }

// readStat parses /proc/<pid>/stat: "pid (comm) state ppid pgrp ...",
// where comm may hold spaces and parentheses, so fields are counted
// after the last ')'. ok is false when the process is gone.
func readStat(pid int) (procStat, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := bytes.Fields(data[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	start, err3 := strconv.ParseInt(string(f[19]), 10, 64) // field 22, starttime
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, false
	}
	return procStat{PID: pid, PPID: ppid, PGRP: pgrp, State: f[0][0], StartTicks: start}, true
}

// alive reports whether pid is a running process (not a zombie).
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	st, ok := readStat(pid)
	return ok && !st.Zombie()
}

// startSlack is how much later than the given time a live pid may have
// started before it counts as a new process reusing the pid: /proc's
// start times are only good to the second or so.
const startSlack = 5 * time.Second

// Owns reports whether pid may still be the process that took a run at
// the time since: it is alive, and it started before since (plus a
// slack), so the pid was not reused. Without /proc, a live pid counts.
func Owns(pid int, since time.Time) bool {
	if pid <= 0 {
		return true // nothing says it is not
	}
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	st, ok := readStat(pid)
	if !ok {
		return true
	}
	if st.Zombie() {
		return false
	}
	boot, ok := bootTime()
	if !ok {
		return true
	}
	// starttime is in clock ticks since boot; USER_HZ is 100 on Linux.
	started := boot.Add(time.Duration(st.StartTicks) * (time.Second / 100))
	return started.Before(since.Add(startSlack))
}

// bootTime reads the system's boot time from /proc/stat.
func bootTime() (time.Time, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for line := range bytes.SplitSeq(data, []byte{'\n'}) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			sec, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			return time.Unix(sec, 0), err == nil
		}
	}
	return time.Time{}, false
}

// children lists the child processes of pid (all its threads'); ok is
// false when the kernel has no /proc/<pid>/task/<tid>/children.
func children(pid int) (pids []int, ok bool) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, false
	}
	for _, t := range tasks {
		data, err := os.ReadFile(filepath.Join(dir, t.Name(), "children"))
		if os.IsNotExist(err) && t.Name() != strconv.Itoa(pid) {
			continue // a thread that just exited; the main thread tells whether the file exists
		}
		if err != nil {
			return nil, false
		}
		for f := range bytes.FieldsSeq(data) {
			if c, err := strconv.Atoi(string(f)); err == nil {
				pids = append(pids, c)
			}
		}
	}
	return pids, true
}

// ReapZombies waits for every child of this process that has exited:
// as a subreaper the hook inherits orphans, and nothing else waits for
// them. Only a process that starts no children of its own elsewhere may
// call it while others run: it would steal their exit status.
func ReapZombies() {
	pids, _ := children(os.Getpid())
	for _, pid := range pids {
		if st, ok := readStat(pid); ok && st.Zombie() {
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(pid, &ws, syscall.WNOHANG, nil)
		}
	}
}
