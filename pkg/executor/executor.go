// Package executor is the seam between the runner and the places an sh
// call's process can run (SPEC §4, "Executors"): the host, a bubblewrap
// sandbox, a docker container. Each executor is a sibling package
// (executor/host, executor/bwrap, executor/docker) that implements
// Executor; config.lua's executor key picks one (pkg/config), and the
// runner drives it without knowing which it is.
//
// The lifecycle, for one run:
//
//	s, err := ex.Start(ctx, spec)  // once, after the workspace exists
//	defer s.Close(ctx)             // on every path, exactly once
//	for each job:
//	    j, err := s.Job(ctx, jobID)
//	    res, err := j.Exec(ctx, proc)  // once per q.sh, one at a time
//	    j.Close()                      // kills what the job left running
//
// The contract every executor keeps, checked for each by the one table
// of tests in executor/executortest:
//   - the process gets exactly Proc.Env (the runner builds it: the
//     hook's environment minus GIT_*, the CI variables, opts.env),
//     except that PWD may be set to its working directory, as bwrap
//     and a shell set it; Proc.Dir is its working directory; its
//     program is looked up in the PATH of Proc.Env;
//   - standard input is Proc.Stdin, or /dev/null when it is "";
//   - stdout and stderr are two separate streams, written to Proc.Stdout
//     and Proc.Stderr as the bytes arrive (each Write is one read), never
//     held whole in memory;
//   - Exec returns when the process has exited and its pipes closed, or
//     at most PipeGrace after the process exited if something it left in
//     the background still holds them;
//   - Result.Exit is the exit status, -N for a death by signal N, 127
//     with Result.StartErr set when the program could not be started;
//   - Proc.Timeout ends the call: its processes are killed and
//     Result.TimedOut is set; ctx ending does the same but Exec then
//     returns context.Cause(ctx) as its error;
//   - Job.Close kills everything the job's calls left running, including
//     processes that left their process group or cleared their
//     environment, and returns once none is alive (or after a bound);
//     Session.Close does the same for the whole run and frees what Start
//     made (a container is removed);
//   - no secret is ever in the argv or environment of a process the
//     executor starts on its own (bwrap's command line, docker's API
//     calls): secrets reach a job only through Proc.Env when the
//     pipeline passed them there.
package executor

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
)

// PipeGrace is how long an sh call waits, after its process exited, for
// its output pipes to close; a background child holding them open
// cannot hang the job for longer (SPEC §4, q.sh).
const PipeGrace = time.Second

// Executor starts one Session per run.
type Executor interface {
	// Name is the executor's name as config.lua writes it: "host",
	// "bwrap", "docker".
	Name() string
	// Start opens the run's session: nothing to do for host and bwrap,
	// a container for docker. An error fails the run before any job
	// starts (failure_kind 'executor' where the schema has it) and must
	// say what to do, e.g. which image could not be pulled and why.
	Start(ctx context.Context, spec RunSpec) (Session, error)
}

// RunSpec is what an executor knows of the run it serves.
type RunSpec struct {
	RunID string
	Repo  string // runs.repo
	// Dir is the run's directory; Dir.Workspace() exists and is the
	// working directory of every call (or a directory under it).
	Dir datadir.RunDir
	// GitDir is the bare repository; jobs may read it (QUIRE_GIT_DIR).
	GitDir string
	// Image is the pipeline's ci.image, "" when it named none.
	Image string
}

// Session is one run's place to run processes.
type Session interface {
	// Job opens the scope of one job; jobs do not overlap.
	Job(ctx context.Context, jobID string) (Job, error)
	// Close kills whatever still runs and frees what Start made. It is
	// called once on every path, also when ctx has ended (callers pass
	// a context that outlives the run's), and is safe after a failed
	// Job or Exec.
	Close(ctx context.Context) error
}

// Job runs one job's sh calls.
type Job interface {
	// Exec runs p to its end (see the package contract). Its error is
	// context.Cause(ctx) when ctx ended before the process did, or an
	// executor fault (e.g. the engine went away); a program that cannot
	// start is not an error but Result.StartErr.
	Exec(ctx context.Context, p Proc) (Result, error)
	// Close kills what the job's calls left running and returns once
	// none of it is alive, or after a bound. Called once per Job.
	Close() error
}

// Proc is one process to run for an sh call.
type Proc struct {
	Argv    []string // non-empty; Argv[0] is looked up in Env's PATH
	Dir     string   // absolute; the workspace or a directory in it
	Env     []string // NAME=value, the whole environment
	Stdin   string   // "" means /dev/null
	Timeout time.Duration
	Stdout  io.Writer
	Stderr  io.Writer
}

// Result is how an sh call's process ended.
type Result struct {
	// Exit is the exit status, -N for a process killed by signal N, and
	// 127 when the program could not be started.
	Exit     int
	TimedOut bool
	// StartErr is set when the program could not be started at all.
	StartErr error
}

// Container is implemented by a Session whose processes run in a
// container: the runner records it in runs.container_id and
// runs.image_tag while the run lives.
type Container interface {
	Container() (id, image string)
}

// Contained is implemented by a Session that can vouch, once its Close
// has returned, that every process it started, and everything those
// started, is dead: nothing of the run can still write into its
// workspace. The runner gives a workspace back to the reuse cache
// (pkg/workspace Cache) only then; otherwise it is removed, as a process
// left running could change the tree after the next run verified it.
// Contained reports false before Close, and after a Close that could not
// make sure (an error, or processes tracked only by group and marker).
type Contained interface {
	Contained() bool
}

// ErrNoImage is wrapped by Start's error when the executor needs the
// pipeline's image (ci.image) and the pipeline named none; the run is
// recorded as a pipeline failure, with the executor's message saying to
// add it.
var ErrNoImage = errors.New("the pipeline names no image")

// Reaper removes what a run whose hook died left behind in one
// executor (a container), and returns how many things it removed. It
// must cost nothing for a run the executor never served, as reconcile
// calls every Reaper for every run it ends, whatever executor ran it.
// What a run left running as processes of this host is killed by
// reconcile itself (pkg/executor/host), for every executor.
type Reaper func(ctx context.Context, dir datadir.RunDir, runID string) (int, error)

var (
	reapersMu sync.Mutex
	reapers   []Reaper
)

// RegisterReaper adds r to the Reapers; an executor package that leaves
// something beyond processes behind registers one in its init.
func RegisterReaper(r Reaper) {
	reapersMu.Lock()
	defer reapersMu.Unlock()
	reapers = append(reapers, r)
}

// Reapers returns the registered Reapers.
func Reapers() []Reaper {
	reapersMu.Lock()
	defer reapersMu.Unlock()
	return append([]Reaper(nil), reapers...)
}
