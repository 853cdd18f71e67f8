package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/executor"
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

// Orphan is a run that reconcile ended because its hook died.
type Orphan struct {
	Run         store.Run // the row as it was before: pending or active
	JobsAborted int       // its pending and active jobs, now aborted
	Killed      int       // processes it left running, now killed
	Removed     int       // what executors removed for it: containers
	// What could not be cleaned up; the run is recorded all the same.
	KillErr      error // some processes may be left: kill them by hand
	ReapErr      error // a container may be left: remove it by hand
	WorkspaceErr error // the workspace is still there
	LogsErr      error // empty logs of unrecorded sh calls may be left
}

// String is the line reconcile prints for o.
func (o Orphan) String() string {
	line := fmt.Sprintf("reconciled run %s (%s %s): %s -> failed (orphaned), owner pid %d gone; %d job(s) aborted, %d process(es) killed",
		o.Run.ID, o.Run.Repo, o.Run.Ref, o.Run.State, o.Run.OwnerPID, o.JobsAborted, o.Killed)
	if o.KillErr != nil {
		line += fmt.Sprintf(" (%v; kill what is left by hand)", o.KillErr)
	}
	if o.Removed > 0 {
		line += fmt.Sprintf("; %d container(s) removed", o.Removed)
	}
	if o.ReapErr != nil {
		line += fmt.Sprintf("; %v (remove it by hand)", o.ReapErr)
	}
	if o.WorkspaceErr != nil {
		line += fmt.Sprintf("; its workspace could not be removed: %v", o.WorkspaceErr)
	}
	if o.LogsErr != nil {
		line += fmt.Sprintf("; %v", o.LogsErr)
	}
	return line
}

// MarshalJSON writes o as `reconcile --json` prints it: the run as it
// was, what was done, and what could not be cleaned up ("errors").
func (o Orphan) MarshalJSON() ([]byte, error) {
	errs := []string{}
	for _, err := range []error{o.KillErr, o.ReapErr, o.WorkspaceErr, o.LogsErr} {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	return json.Marshal(struct {
		ID            string         `json:"id"`
		Repo          string         `json:"repo"`
		Ref           string         `json:"ref_name"`
		PreviousState store.RunState `json:"previous_state"`
		OwnerPID      int            `json:"owner_pid"`
		OwnerHost     string         `json:"owner_host"`
		JobsAborted   int            `json:"jobs_aborted"`
		Killed        int            `json:"killed"`
		Removed       int            `json:"containers_removed"`
		Errors        []string       `json:"errors"`
	}{o.Run.ID, o.Run.Repo, o.Run.Ref, o.Run.State, o.Run.OwnerPID, o.Run.OwnerHost, o.JobsAborted, o.Killed, o.Removed, errs})
}

// Reconcile ends the runs of this host whose owner process died (SPEC
// §6, §11), as EndOrphans does. It calls report with a line per run it
// ended and returns how many it ended.
//
// Every run calls it once it holds its turn in the data root, before
// its first job, so that no process of a dead run runs beside it.
func Reconcile(ctx context.Context, s *store.Store, dataRoot string, report func(line string)) (int, error) {
	orphans, err := EndOrphans(ctx, s, datadir.Root(dataRoot))
	for _, o := range orphans {
		report(o.String())
	}
	return len(orphans), err
}

// EndOrphans ends the runs of this host whose owner process died: each
// is recorded failed/orphaned with its unfinished jobs and sh calls
// closed, what it left running is killed (its cgroup, and processes
// carrying its marker) and its workspace removed. Runs of live
// processes and of other hosts are never touched. It returns the runs
// it ended, those ended before an error included.
func EndOrphans(ctx context.Context, s *store.Store, root datadir.Root) ([]Orphan, error) {
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("reconcile: get host name: %w", err)
	}
	runs, err := s.ListUnfinished(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	var orphans []Orphan
	for _, r := range runs {
		if !OwnerGone(r, host) {
			continue
		}
		msg := fmt.Sprintf("the hook running it (pid %d on %s) died; recorded by reconcile", r.OwnerPID, host)
		aborted, ok, err := s.OrphanRun(ctx, r.ID, r.OwnerPID, host, msg, time.Now().UnixMilli())
		if err != nil {
			return orphans, fmt.Errorf("reconcile: %w", err)
		}
		if !ok {
			continue // it ended or changed hands meanwhile
		}
		o := Orphan{Run: r, JobsAborted: aborted}
		runDir := root.Run(r.ID)
		o.Killed, o.KillErr = killRun(r.ID, string(runDir))
		for _, reap := range executor.Reapers() {
			n, err := reap(ctx, runDir, r.ID)
			o.Removed += n
			o.ReapErr = errors.Join(o.ReapErr, err)
		}
		// Its workspace may still be an overlay mount: detached first.
		o.WorkspaceErr = datadir.RemoveDetached(runDir.Workspace())
		o.LogsErr = dropUnrecordedLogs(ctx, s, r.ID, runDir)
		orphans = append(orphans, o)
	}
	return orphans, nil
}

// dropUnrecordedLogs removes the sh-<n>.log files of a dead run that have
// no sh_events row. q.sh creates a call's log, then its row, then starts
// the process: a hook killed between the first two leaves an empty log
// of a call that never started. A log with content is kept.
func dropUnrecordedLogs(ctx context.Context, s *store.Store, runID string, runDir datadir.RunDir) error {
	events, err := s.ListShEvents(ctx, runID)
	if err != nil {
		return fmt.Errorf("list sh calls of run %s: %w", runID, err)
	}
	recorded := make(map[string]bool, len(events))
	for _, e := range events {
		recorded[runDir.Job(e.JobID).ShLog(e.Seq)] = true
	}
	for _, glob := range runDir.ShLogGlobs() {
		logs, _ := filepath.Glob(glob)
		for _, l := range logs {
			if recorded[l] {
				continue
			}
			if fi, err := os.Stat(l); err == nil && fi.Size() == 0 {
				_ = os.Remove(l)
			}
		}
	}
	return nil
}
