package host

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/proc"
)

// leftoverTimeout bounds how long the end of a job or run waits for what
// it left running to die.
const leftoverTimeout = 2 * time.Second

// runMarker is the environment entry every sh process of a run carries
// (the runner puts the CI variables in Proc.Env).
func runMarker(runID string) []byte { return []byte("QUIRE_RUN_ID=" + runID) }

func syscallKillGroup(pgid int) error { return syscall.Kill(-pgid, syscall.SIGKILL) }

// KillRun kills, on this host, what the run whose hook died left
// running: its cgroup, if runDir records one, then the processes that
// still carry its marker. It returns how many processes it killed.
func KillRun(runID, runDir string) (int, error) {
	n, err := removeRunCgroup(runID, datadir.RunDir(runDir))
	return n + proc.KillMarked(runMarker(runID), nil, leftoverTimeout), err
}

// removeRunCgroup kills and removes the cgroup recorded in dir.
func removeRunCgroup(runID string, dir datadir.RunDir) (int, error) {
	data, err := os.ReadFile(dir.CgroupFile())
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
