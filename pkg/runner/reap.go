package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quire-ci/quire-hook/pkg/proc"
)

// leftoverTimeout bounds how long the end of a job waits for what it
// left running to die.
const leftoverTimeout = 2 * time.Second

// cgroupFile, in a run's directory, holds the path of the run's cgroup,
// so that reconcile finds it after the hook died.
const cgroupFile = "cgroup"

// openCgroup gives the run a cgroup of its own where the hook may create
// one; nil elsewhere, and the run's processes are then tracked as the
// hook's subtree or by their marker. The path is written to the run's
// directory before the cgroup exists, so a hook killed in between
// leaves nothing that reconcile cannot find.
func (r *Runner) openCgroup(runID, runDir string) *proc.Cgroup {
	if r.noCgroup {
		return nil
	}
	path, ok := proc.CgroupPath(runID)
	if !ok {
		return nil
	}
	if err := os.WriteFile(filepath.Join(runDir, cgroupFile), []byte(path+"\n"), 0o644); err != nil {
		return nil
	}
	cg, err := proc.NewCgroup(path)
	if err != nil {
		_ = os.Remove(filepath.Join(runDir, cgroupFile))
		return nil
	}
	return cg
}

// jobCgroup gives a job a fresh cgroup under the run's, or nil when the
// run has none or it cannot be made.
func (e *execution) jobCgroup() *proc.Cgroup {
	if e.cgroup == nil {
		return nil
	}
	e.jobs++
	cg, err := e.cgroup.Child("job-" + strconv.Itoa(e.jobs))
	if err != nil {
		return nil
	}
	return cg
}

// killLeftovers kills everything a job left running, and returns once
// none of it is alive, or after leftoverTimeout: the job's cgroup when
// it has one (removed with it, as no process may start in a cgroup that
// was killed); else, in the hook, the hook's whole subtree (it is the
// subreaper of everything a job orphans, and starts no child of its own
// while jobs run); else the job's process groups and the processes
// carrying the run's marker.
func (e *execution) killLeftovers(pg *pgroups) {
	groups := pg.take()
	switch {
	case pg.cgroup != nil:
		// The groups are in it; killing them first would leave their
		// orphaned members unseen, and unreaped.
		_, _ = pg.cgroup.Remove(leftoverTimeout)
		pg.cgroup = nil
	case e.runner.OwnsChildren:
		for _, g := range groups {
			_ = syscall.Kill(-g, syscall.SIGKILL)
		}
		proc.KillTree(leftoverTimeout)
	default:
		proc.KillMarked(runMarker(e.run.RunID), groups, leftoverTimeout)
	}
	if e.runner.OwnsChildren {
		proc.ReapZombies()
	}
}

// runMarker is the environment entry every sh process of a run carries.
func runMarker(runID string) []byte { return []byte("QUIRE_RUN_ID=" + runID) }

// killRun kills, on this host, what the run whose hook died left
// running: its cgroup, if it had one, then the processes that still
// carry its marker. It returns how many processes it killed.
func killRun(runID, runDir string) (int, error) {
	n, err := removeRunCgroup(runID, runDir)
	return n + proc.KillMarked(runMarker(runID), nil, leftoverTimeout), err
}

// removeRunCgroup kills and removes the cgroup recorded in runDir.
func removeRunCgroup(runID, runDir string) (int, error) {
	data, err := os.ReadFile(filepath.Join(runDir, cgroupFile))
	if os.IsNotExist(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read cgroup of run %s: %w", runID, err)
	}
	path := strings.TrimSuffix(string(data), "\n")
	if filepath.Base(path) != "quire-"+runID {
		return 0, fmt.Errorf("cgroup of run %s: %q is not its cgroup", runID, path)
	}
	return proc.RemoveCgroup(path, leftoverTimeout)
}

// pgroups remembers the process groups a job started that outlived
// their sh call, so that what they left behind can be killed when the
// job ends, and the job's cgroup, in which its sh processes start.
type pgroups struct {
	mu     sync.Mutex
	ids    []int
	cgroup *proc.Cgroup
}

func (g *pgroups) add(pgid int) {
	g.mu.Lock()
	g.ids = append(g.ids, pgid)
	g.mu.Unlock()
}

// take returns the groups and forgets them.
func (g *pgroups) take() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	ids := g.ids
	g.ids = nil
	return ids
}
