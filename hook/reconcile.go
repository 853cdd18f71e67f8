package hook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/quire-ci/quire-hook/pkg/store"
)

func reconcileCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "reconcile",
		Usage: "record runs whose hook process died as failed (orphaned)",
		Description: "A run left pending or active by a hook process that is gone (its owner_pid\n" +
			"is not alive on this host) becomes failed with failure_kind 'orphaned', and its\n" +
			"pending and active jobs aborted; what its jobs left running is killed. Runs of\n" +
			"live processes, or of other hosts, are left alone. Leftover directories of\n" +
			"an interrupted gc are removed too. Every post-receive and replay does this\n" +
			"first, printing only what it changed.",
		OnUsageError: usageHandler,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr("reconcile takes no arguments")
			}
			s, dataRoot, err := g.openAdminStore(c.Context)
			if err != nil {
				return err
			}
			defer s.Close()
			n, err := reconcile(c.Context, s, dataRoot, true, g.io.Stdout)
			if err != nil {
				return &exitError{code: ExitError, err: err}
			}
			if n == 0 {
				fmt.Fprintln(g.io.Stdout, "nothing to reconcile")
			}
			return nil
		},
	}
}

// reconcileQuietly is reconcile at the start of a hook: it prints, as a
// progress line on w, only what it changed, and a failure is a warning,
// since the push's own run matters more. It leaves the search for run
// directories without a row, whose cost grows with the history, to the
// reconcile and gc commands.
func reconcileQuietly(ctx context.Context, s *store.Store, dataRoot string, w io.Writer) {
	var out bytes.Buffer
	_, err := reconcile(ctx, s, dataRoot, false, &out)
	for _, l := range strings.SplitAfter(out.String(), "\n") {
		if l != "" {
			fmt.Fprintf(w, "quire: %s", l)
		}
	}
	if err != nil {
		fmt.Fprintf(w, "quire: warning: %v\n", err)
	}
}

// reconcile ends the runs of this host whose owner process is gone and
// sweeps what an interrupted gc left (with strays, run directories
// without a row too); it prints a line per change on w and returns how
// many changes there were.
func reconcile(ctx context.Context, s *store.Store, dataRoot string, strays bool, w io.Writer) (int, error) {
	host, err := os.Hostname()
	if err != nil {
		return 0, fmt.Errorf("reconcile: get host name: %w", err)
	}
	runs, err := s.ListUnfinished(ctx)
	if err != nil {
		return 0, fmt.Errorf("reconcile: %w", err)
	}
	n := 0
	for _, r := range runs {
		if !ownerGone(r, host) {
			continue
		}
		msg := fmt.Sprintf("the hook running it (pid %d on %s) died; recorded by reconcile", r.OwnerPID, host)
		aborted, ok, err := s.OrphanRun(ctx, r.ID, r.OwnerPID, host, msg, time.Now().UnixMilli())
		if err != nil {
			return n, fmt.Errorf("reconcile: %w", err)
		}
		if !ok {
			continue // it ended meanwhile
		}
		n++
		killed := killRunLeftovers(r.ID)
		fmt.Fprintf(w, "reconciled run %s (%s %s): %s -> failed (orphaned), owner pid %d gone; %d job(s) aborted, %d process(es) killed\n",
			r.ID, r.Repo, r.Ref, r.State, r.OwnerPID, aborted, killed)
	}
	swept, err := sweep(ctx, s, dataRoot, strays, time.Now())
	if err != nil {
		return n, fmt.Errorf("reconcile: %w", err)
	}
	if swept.runs > 0 {
		fmt.Fprintf(w, "removed %d leftover run director%s (%s)\n", swept.runs, plural(swept.runs, "y", "ies"), bytesString(swept.bytes))
		n += swept.runs
	}
	return n, nil
}

// startSlack is how much later than the run's queue time a live owner
// pid may have started before it counts as a new process reusing the
// pid: /proc's start times are only good to the second or so.
const startSlack = 5 * time.Second

// ownerGone reports whether run r belongs to host, this host, and its
// owner process is no longer running it.
func ownerGone(r store.Run, host string) bool {
	return r.OwnerHost != "" && r.OwnerHost == host && !ownerAlive(r)
}

// ownerAlive reports whether the process that owns run r may still be
// running it. Call it for runs of this host only. A run without an owner
// pid counts as alive: nothing says it is not. A pid that is a zombie, or
// that belongs to a process started after the run was queued (the pid
// was reused), is dead. Without /proc, a pid reused by another process
// is taken for the owner, and the run is left alone.
func ownerAlive(r store.Run) bool {
	if r.OwnerPID <= 0 {
		return true
	}
	if err := syscall.Kill(r.OwnerPID, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	state, started, ok := procStart(r.OwnerPID)
	if !ok {
		return true
	}
	if state == 'Z' || state == 'X' {
		return false
	}
	return started.Before(time.UnixMilli(r.QueuedAtMS).Add(startSlack))
}

// procStart reads a process's state and start time from /proc.
func procStart(pid int) (state byte, started time.Time, ok bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, time.Time{}, false
	}
	// The command name, field 2, is in parentheses and may hold spaces
	// and parentheses itself: fields are counted after the last ')'.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, time.Time{}, false
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 20 || len(fields[0]) != 1 {
		return 0, time.Time{}, false
	}
	ticks, err := strconv.ParseInt(fields[19], 10, 64) // field 22, starttime
	if err != nil {
		return 0, time.Time{}, false
	}
	boot, ok := bootTime()
	if !ok {
		return 0, time.Time{}, false
	}
	// starttime is in clock ticks since boot; USER_HZ is 100 on Linux.
	return fields[0][0], boot.Add(time.Duration(ticks) * (time.Second / 100)), true
}

// bootTime reads the system's boot time from /proc/stat.
func bootTime() (time.Time, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return time.Unix(sec, 0), err == nil
		}
	}
	return time.Time{}, false
}

// killRunLeftovers kills, on this host, the processes an orphaned run's
// jobs left running: those whose environment carries its QUIRE_RUN_ID
// (their hook, which would have killed them, is gone). It returns how
// many it signalled.
func killRunLeftovers(runID string) int {
	marker := []byte("QUIRE_RUN_ID=" + runID + "\x00")
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	self, n := os.Getpid(), 0
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == self {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", d.Name(), "environ"))
		if err != nil || !bytes.Contains(append([]byte{0}, env...), append([]byte{0}, marker...)) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
