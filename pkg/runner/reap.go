package runner

import "github.com/quire-ci/quire-hook/pkg/executor/host"

// killRun kills, on this host, what the run whose hook died left
// running: its cgroup, if it had one, then the processes that still
// carry its marker. It returns how many processes it killed.
func killRun(runID, runDir string) (int, error) { return host.KillRun(runID, runDir) }
