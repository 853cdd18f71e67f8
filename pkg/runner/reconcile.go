package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/quire-ci/quire-hook/pkg/proc"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// OwnerGone reports whether run r belongs to host, this host, and its
// owner process is no longer running it: the pid is gone, a zombie, or
// reused by a process started after the run was queued. A run without
// an owner pid, or of another host, is never gone: nothing says it is.
func OwnerGone(r store.Run, host string) bool {
	return r.OwnerHost != "" && r.OwnerHost == host &&
		!proc.Owns(r.OwnerPID, time.UnixMilli(r.QueuedAtMS))
}

// Reconcile ends the runs of this host whose owner process died (SPEC
// §6, §11): each is recorded failed/orphaned with its unfinished jobs
// and sh calls closed, what it left running is killed (its cgroup, and
// processes carrying its marker) and its workspace removed. It calls
// report with a line per run it ended and returns how many it ended.
// Runs of live processes and of other hosts are never touched.
//
// Every run calls it once it holds its turn in the data root, before
// its first job, so that no process of a dead run runs beside it.
func Reconcile(ctx context.Context, s *store.Store, dataRoot string, report func(line string)) (int, error) {
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
		if !OwnerGone(r, host) {
			continue
		}
		msg := fmt.Sprintf("the hook running it (pid %d on %s) died; recorded by reconcile", r.OwnerPID, host)
		aborted, ok, err := s.OrphanRun(ctx, r.ID, r.OwnerPID, host, msg, time.Now().UnixMilli())
		if err != nil {
			return n, fmt.Errorf("reconcile: %w", err)
		}
		if !ok {
			continue // it ended or changed hands meanwhile
		}
		n++
		runDir := filepath.Join(dataRoot, "runs", r.ID)
		killed, kerr := killRun(r.ID, runDir)
		line := fmt.Sprintf("reconciled run %s (%s %s): %s -> failed (orphaned), owner pid %d gone; %d job(s) aborted, %d process(es) killed",
			r.ID, r.Repo, r.Ref, r.State, r.OwnerPID, aborted, killed)
		if kerr != nil {
			line += fmt.Sprintf(" (%v; kill what is left by hand)", kerr)
		}
		if err := os.RemoveAll(filepath.Join(runDir, "workspace")); err != nil {
			line += fmt.Sprintf("; its workspace could not be removed: %v", err)
		}
		if err := dropUnrecordedLogs(ctx, s, r.ID, runDir); err != nil {
			line += fmt.Sprintf("; %v", err)
		}
		report(line)
	}
	return n, nil
}

// dropUnrecordedLogs removes the sh-<n>.log files of a dead run that have
// no sh_events row. q.sh creates a call's log, then its row, then starts
// the process: a hook killed between the first two leaves an empty log
// of a call that never started. A log with content is kept.
func dropUnrecordedLogs(ctx context.Context, s *store.Store, runID, runDir string) error {
	events, err := s.ListShEvents(ctx, runID)
	if err != nil {
		return fmt.Errorf("list sh calls of run %s: %w", runID, err)
	}
	recorded := make(map[string]bool, len(events))
	for _, e := range events {
		recorded[filepath.Join(runDir, "jobs", e.JobID, fmt.Sprintf("sh-%d.log", e.Seq))] = true
	}
	logs, _ := filepath.Glob(filepath.Join(runDir, "jobs", "*", "sh-*.log"))
	mirror, _ := filepath.Glob(filepath.Join(runDir, "jobs", "*", "*", "sh-*.log")) // quire/mirror
	for _, l := range append(logs, mirror...) {
		if recorded[l] {
			continue
		}
		if fi, err := os.Stat(l); err == nil && fi.Size() == 0 {
			_ = os.Remove(l)
		}
	}
	return nil
}
