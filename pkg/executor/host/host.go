// Package host is the executor that runs sh calls as plain child
// processes of the hook (SPEC §4, "Executors"; the default): each call
// in its own process group, in the job's cgroup where the hook may
// create one, killed with everything it left behind when its job ends.
// It protects nothing. Other executors that start a host process of
// their own (bwrap) run it through a host Job.
package host

import (
	"context"
	"os"
	"strconv"
	"sync"

	"github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/proc"
)

// Executor runs sh calls on the host. The zero value is ready to use.
type Executor struct {
	// OwnsChildren says that every child of this process is the
	// executor's: after each job a run without a cgroup has the
	// process's whole subtree killed (also what left its process group
	// and cleared its environment), and exited children are reaped. Set
	// it only in a process that starts no children of its own while
	// jobs run: the hook, not a test binary.
	OwnsChildren bool
	// NoCgroup tracks a run's processes by process group and run marker
	// only, as where the hook may not create cgroups (tests).
	NoCgroup bool
}

// Name implements executor.Executor.
func (*Executor) Name() string { return "host" }

// Start implements executor.Executor. It makes this process the
// subreaper of what jobs orphan, and gives the run a cgroup of its own
// where it may create one; its path is written to spec.Dir first, so a
// hook killed in between leaves nothing that KillRun cannot find.
func (e *Executor) Start(_ context.Context, spec executor.RunSpec) (executor.Session, error) {
	proc.BecomeSubreaper()
	s := &Session{ex: e, marker: runMarker(spec.RunID)}
	if !e.NoCgroup {
		s.cgroup = openCgroup(spec)
	}
	s.inCgroup = s.cgroup != nil
	return s, nil
}

// openCgroup creates the run's cgroup, or returns nil where it cannot:
// the run's processes are then tracked as the hook's subtree or by their
// marker.
func openCgroup(spec executor.RunSpec) *proc.Cgroup {
	path, ok := proc.CgroupPath(spec.RunID)
	if !ok {
		return nil
	}
	file := spec.Dir.CgroupFile()
	if err := os.WriteFile(file, []byte(path+"\n"), 0o644); err != nil {
		return nil
	}
	cg, err := proc.NewCgroup(path)
	if err != nil {
		_ = os.Remove(file)
		return nil
	}
	return cg
}

// Session is one run's processes on the host.
type Session struct {
	ex     *Executor
	marker []byte

	mu     sync.Mutex
	cgroup *proc.Cgroup // the run's, or nil
	jobs   int          // job cgroups made so far
	closed bool
	// inCgroup: every job so far ran in a cgroup of the run's.
	inCgroup bool
	// contained: Close killed and removed the run's cgroup with every
	// job's process in it (Contained).
	contained bool
}

// Job implements executor.Session: a fresh cgroup under the run's,
// when the run has one and it can be made.
func (s *Session) Job(context.Context, string) (executor.Job, error) {
	return s.OpenJob(), nil
}

// OpenJob is Job with its concrete type, for executors that run their
// processes through the host's.
func (s *Session) OpenJob() *Job {
	j := &Job{s: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cgroup != nil && !s.closed {
		s.jobs++
		if cg, err := s.cgroup.Child("job-" + strconv.Itoa(s.jobs)); err == nil {
			j.cgroup = cg
		}
	}
	if j.cgroup == nil {
		s.inCgroup = false
	}
	return j
}

// Contained implements executor.Contained: true once Close killed and
// removed the run's cgroup, every job's processes having started in it
// (cgroup.kill, and an empty cgroup to rmdir, leave none alive). A run
// tracked by process group and marker only is never contained: a
// process that left the hook's subtree and cleared its environment
// survives it.
func (s *Session) Contained() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed && s.contained
}

// Close implements executor.Session: it kills what the run left
// running (its cgroup, removed; else the hook's subtree when the hook
// owns its children; else the processes carrying the run's marker) and
// reaps it. A second call does nothing.
func (s *Session) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var err error
	switch {
	case s.cgroup != nil:
		_, err = s.cgroup.Remove(leftoverTimeout)
		s.cgroup = nil
		s.contained = err == nil && s.inCgroup
	case s.ex.OwnsChildren:
		proc.KillTree(leftoverTimeout)
	default:
		proc.KillMarked(s.marker, nil, leftoverTimeout)
	}
	if s.ex.OwnsChildren {
		proc.ReapZombies()
	}
	return err
}

// Job runs one job's sh calls on the host.
type Job struct {
	s      *Session
	mu     sync.Mutex
	groups []int        // process groups that outlived their call
	cgroup *proc.Cgroup // the job's, or nil
}

// Exec implements executor.Job.
func (j *Job) Exec(ctx context.Context, p executor.Proc) (executor.Result, error) {
	return run(ctx, p, j, nil)
}

// ExecFiles is Exec with files passed to the process as descriptors 3,
// 4 and so on: an executor that wraps the call in a program of its own
// (bwrap) talks to that program through them.
func (j *Job) ExecFiles(ctx context.Context, p executor.Proc, files []*os.File) (executor.Result, error) {
	return run(ctx, p, j, files)
}

// Close implements executor.Job: it kills everything the job left
// running and returns once none of it is alive, or after
// leftoverTimeout: the job's cgroup when it has one (removed with it,
// as no process may start in a cgroup that was killed); else, when the
// hook owns its children, its whole subtree (it is the subreaper of
// everything a job orphans); else the job's process groups and the
// processes carrying the run's marker.
func (j *Job) Close() error {
	j.mu.Lock()
	groups, cg := j.groups, j.cgroup
	j.groups, j.cgroup = nil, nil
	j.mu.Unlock()
	var err error
	switch {
	case cg != nil:
		// The groups are in it; killing them first would leave their
		// orphaned members unseen, and unreaped.
		_, err = cg.Remove(leftoverTimeout)
	case j.s.ex.OwnsChildren:
		for _, g := range groups {
			_ = syscallKillGroup(g)
		}
		proc.KillTree(leftoverTimeout)
	default:
		proc.KillMarked(j.s.marker, groups, leftoverTimeout)
	}
	if j.s.ex.OwnsChildren {
		proc.ReapZombies()
	}
	return err
}

// addGroup remembers a process group that outlived its call, so that
// what it left behind is killed when the job ends.
func (j *Job) addGroup(pgid int) {
	j.mu.Lock()
	j.groups = append(j.groups, pgid)
	j.mu.Unlock()
}

// jobCgroup is the cgroup the job's processes start in, or nil.
func (j *Job) jobCgroup() *proc.Cgroup {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cgroup
}
