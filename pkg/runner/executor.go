package runner

import "syscall"

// Executor decides where an sh call's process runs (SPEC 4,
// "Executors"). It is consulted once per call, before the process starts;
// the runner still starts the returned command in its own process group,
// streams its pipes and kills the group when the call or job ends.
type Executor interface {
	// Command returns the host command line that runs argv with working
	// directory dir inside the run's workspace ws.
	Command(argv []string, dir, ws string) []string
	// Exit turns the host process's wait status into the sh call's exit:
	// the status, or -N for a process killed by signal N.
	Exit(ws syscall.WaitStatus) int
}

// Host runs sh calls as plain child processes: the default executor.
type Host struct{}

// Command implements Executor: argv itself.
func (Host) Command(argv []string, _, _ string) []string { return argv }

// Exit implements Executor.
func (Host) Exit(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return -int(ws.Signal())
	}
	return ws.ExitStatus()
}
