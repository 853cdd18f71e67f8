// Package bwrap is the executor that runs each sh call inside
// bubblewrap (SPEC §4, "Executors"): a host process, run by the host
// executor, whose command line is bwrap's with the call's argv at its
// end.
//
// What it guarantees, also when the hook runs as root (SPEC §4, "What
// the sandboxes guarantee"): no capabilities, so nothing can be
// mounted, unmounted or remounted; the host file system read-only; the
// workspace read-write at its own path, and the operator's binds (Bind)
// read-only or, where they ask, read-write; a private /tmp, /dev and
// /proc; the data root, config.lua and secret files masked (Masks); the
// bare repository readable (GitDir); its own pid namespace, so what a
// call leaves in the background dies with it; no network unless
// Network; and the sandbox dies with the hook. The rest of the host
// file system stays readable, and the kernel is shared.
package bwrap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/executor/host"
)

// Executor runs sh calls inside bubblewrap.
type Executor struct {
	Path    string // the bwrap binary
	Network bool
	// GitDir is the bare repository, bound read-only so that git works in
	// a job even where it lies under /tmp or under a masked directory.
	GitDir string
	// Masks are the host paths a job must not read: the data root,
	// config.lua and secret files. A directory is covered by an empty
	// read-only tmpfs, anything else by /dev/null, which cannot be opened
	// on bwrap's nodev mounts. Symlinks are resolved, so their target is
	// masked; a path that does not exist, or that the hook itself cannot
	// reach, is skipped.
	Masks []string
	// DisableUserns stops jobs from creating user namespaces of their
	// own; bubblewrap has the option since 0.8.0.
	DisableUserns bool
	// StatusFd is bwrap's --json-status-fd, by which Job.Exec knows
	// whether the call's command started; without it (before bubblewrap
	// 0.5.0) a call whose sandbox setup lost setupRace is not started
	// again.
	StatusFd bool
	// Host runs the bwrap processes and kills what they leave.
	Host host.Executor

	binds []mount // added by Bind
}

// New finds bwrap on PATH. gitDir stays readable inside the sandbox;
// masks are hidden from it (see Executor).
func New(network bool, gitDir string, masks []string) (*Executor, error) {
	path, err := exec.LookPath("bwrap")
	if err != nil {
		return nil, fmt.Errorf("executor bwrap: %w; install bubblewrap (apt-get install bubblewrap)", err)
	}
	help, err := exec.Command(path, "--help").Output()
	if err != nil {
		return nil, fmt.Errorf("executor bwrap: run %s --help: %w; check that bubblewrap works on this host", path, err)
	}
	return &Executor{
		Path: path, Network: network, GitDir: gitDir, Masks: slices.Clone(masks),
		DisableUserns: bytes.Contains(help, []byte("--disable-userns")),
		StatusFd:      bytes.Contains(help, []byte("--json-status-fd")),
	}, nil
}

// Bind mounts the host path p into the sandbox at the same path (its
// symlinks resolved), read-write if rw, else read-only: config.lua's
// binds, such as a shared build cache. p must exist, and must not be
// or lie inside a masked path, which jobs must not see.
func (b *Executor) Bind(p string, rw bool) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("bind %s: not an absolute path; give binds as absolute paths", p)
	}
	real, err := filepath.EvalSymlinks(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("bind %s does not exist; create it (mkdir -p %s) or remove it from binds in config.lua", p, p)
	}
	if err != nil {
		return fmt.Errorf("bind %s: %w; check that this user can reach it", p, err)
	}
	for _, m := range b.Masks {
		if m == "" {
			continue
		}
		if mr, err := filepath.EvalSymlinks(m); err == nil && within(mr, real) {
			return fmt.Errorf("bind %s is inside %s, which jobs must not see (the data root, config.lua or a secret file); bind another path", p, m)
		}
	}
	kind := mountBindRO
	if rw {
		kind = mountBindRW
	}
	b.binds = append(b.binds, mount{real, kind})
	return nil
}

// Name implements executor.Executor.
func (*Executor) Name() string { return "bwrap" }

// Start implements executor.Executor: the host's session, whose
// processes are bwrap's.
func (b *Executor) Start(ctx context.Context, spec executor.RunSpec) (executor.Session, error) {
	s, err := b.Host.Start(ctx, spec)
	if err != nil {
		return nil, err
	}
	return &session{b: b, host: s.(*host.Session), ws: spec.Dir.Workspace()}, nil
}

// session is a host session whose jobs wrap their calls in bwrap.
type session struct {
	b    *Executor
	host *host.Session
	ws   string // the run's workspace, bound read-write
	// closed: Close returned nil.
	closed atomic.Bool
}

func (s *session) Job(context.Context, string) (executor.Job, error) {
	return &job{s: s, host: s.host.OpenJob()}, nil
}

func (s *session) Close(ctx context.Context) error {
	err := s.host.Close(ctx)
	if err == nil {
		s.closed.Store(true)
	}
	return err
}

// Contained implements executor.Contained: true once Close returned nil.
// Every call runs in a pid namespace of its own (--unshare-pid), whose
// init is bwrap's and exits with the call's process; the kernel then
// kills everything left in the namespace, and no process in it can
// leave (no capabilities). bwrap itself dies with the hook's job
// (--die-with-parent), which the host session kills.
func (s *session) Contained() bool { return s.closed.Load() }

type job struct {
	s    *session
	host *host.Job
}

// Exec implements executor.Job: the host runs bwrap, whose exit is
// mapped back to the call's. A call whose sandbox could not be set up
// because the host's mounts changed meanwhile (setupRace) is started
// again, up to maxSetupAttempts times within its timeout; nothing of it
// had run. When none succeeds the call could not be started (exit 127).
func (j *job) Exec(ctx context.Context, p executor.Proc) (executor.Result, error) {
	p.Argv = j.s.b.command(p.Argv, p.Dir, j.s.ws)
	var deadline time.Time
	if p.Timeout > 0 {
		deadline = time.Now().Add(p.Timeout)
	}
	for attempt := 1; ; attempt++ {
		if !deadline.IsZero() {
			p.Timeout = time.Until(deadline)
		}
		res, race, err := j.attempt(ctx, p)
		if race == nil {
			return res, err
		}
		pause := time.Duration(attempt)*setupBackoff + rand.N(setupBackoff)
		if attempt == maxSetupAttempts || !deadline.IsZero() && time.Until(deadline) <= pause {
			race.release()
			tries := "once"
			if attempt > 1 {
				tries = fmt.Sprintf("in %d attempts", attempt)
			}
			return executor.Result{Exit: 127, StartErr: fmt.Errorf("bwrap could not set up the sandbox %s, as mounts on the host kept changing", tries)}, nil
		}
		setupRetries.Add(1)
		select {
		case <-ctx.Done():
			return res, context.Cause(ctx)
		case <-time.After(pause):
		}
	}
}

// maxSetupAttempts bounds how often one call is started after bwrap
// lost setupRace.
const maxSetupAttempts = 10

// setupRetries counts the attempts that lost setupRace and were
// followed by another, in this process; its tests read it.
var setupRetries atomic.Int64

// setupBackoff is the pause before the second attempt, growing by as
// much before each next one, plus up to as much again at random: the
// mounts that make bwrap fail tend to come in bursts.
const setupBackoff = 5 * time.Millisecond

// setupRace starts bwrap's report that it could not bind a host path
// into the sandbox, and setupRaceMark is in the middle of it when the
// bind failed as mounts below it changed meanwhile. bwrap binds / (and
// the bare repository, and the operator's binds) with every mount below
// it, then remounts each of those read-only; where the path is under a
// shared mount (all of / under systemd) a mount or unmount there reaches
// the sandbox, and the remount of a mount that just went fails:
//
//	bwrap: Can't bind mount /oldroot/ on /newroot/: Unable to apply mount flags: remount "/newroot/x": Invalid argument
//
// Containers that start and stop do that, and so do the overlay
// workspaces of other hooks' runs (pkg/workspace), which lie inside the
// bare repository when the data root does.
const (
	setupRace     = "bwrap: Can't bind mount /oldroot/"
	setupRaceMark = ": Unable to apply mount flags: remount "
)

// attempt runs one bwrap process for p. A non-nil race says that bwrap
// lost setupRace: the call's command did not run, and race holds what
// bwrap wrote to stderr, which no writer of p has seen; release lets
// it go.
func (j *job) attempt(ctx context.Context, p executor.Proc) (executor.Result, *raceFilter, error) {
	held := &raceFilter{w: p.Stderr}
	var status *os.File
	var files []*os.File
	if j.s.b.StatusFd {
		// bwrap writes its status to this pipe, and {"exit-code": N}
		// only once the sandbox was set up and the command started.
		r, w, err := os.Pipe()
		if err != nil {
			return executor.Result{}, nil, fmt.Errorf("create bwrap's status pipe: %w", err)
		}
		defer r.Close()
		status, files = r, []*os.File{w}
		// A new slice: the next attempt starts from the same argv.
		p.Argv = slices.Concat(p.Argv[:1], []string{"--json-status-fd", "3"}, p.Argv[1:])
	} else {
		held.release() // no telling whether the command started
	}
	tail := &startTail{}
	p.Stdout = releaser{p.Stdout, held}
	p.Stderr = teeTail{held, tail}
	res, err := j.host.ExecFiles(ctx, p, files)
	for _, f := range files {
		f.Close()
	}
	if res.StartErr != nil {
		held.release()
		return res, nil, err
	}
	// Known not to have started: bwrap failed, and what it wrote is its
	// own.
	notStarted := status != nil && !startedCommand(status)
	if err == nil && !res.TimedOut && notStarted && res.Exit == 1 && held.isRace() {
		return res, held, nil
	}
	held.release()
	if reason, ok := tail.startFailed(res.Exit); ok && (status == nil || notStarted) {
		return executor.Result{Exit: 127, TimedOut: res.TimedOut, StartErr: errors.New(reason)}, nil, err
	}
	res.Exit = exit(res.Exit)
	return res, nil, err
}

// startedCommand reads bwrap's status from r (--json-status-fd, one
// JSON object a line) and reports whether it holds the exit code of the
// sandbox's command, which bwrap reports only when the sandbox was set
// up and the command started. Only bwrap writes there: the sandbox does
// not inherit the descriptor.
func startedCommand(r *os.File) bool {
	// bwrap has exited; a deadline all the same, as a reader must never
	// hang on a pipe.
	_ = r.SetReadDeadline(time.Now().Add(executor.PipeGrace))
	data, _ := io.ReadAll(io.LimitReader(r, 64<<10))
	for line := range bytes.Lines(data) {
		var status struct {
			ExitCode *int `json:"exit-code"`
		}
		if json.Unmarshal(line, &status) == nil && status.ExitCode != nil {
			return true
		}
	}
	return false
}

func (j *job) Close() error { return j.host.Close() }

// command is the host command line that runs argv inside the sandbox
// with working directory dir in the run's workspace ws.
func (b *Executor) command(argv []string, dir, ws string) []string {
	cmd := []string{b.Path,
		// No capabilities, even as root: without them nothing can be
		// mounted, unmounted or remounted, so the read-only binds and the
		// masks below hold. The user namespace makes root inside it
		// powerless over the host's mounts should a capability survive.
		"--unshare-user", "--cap-drop", "ALL",
		"--unshare-pid", "--unshare-ipc", "--unshare-uts",
		"--die-with-parent",
		"--ro-bind", "/", "/",
	}
	if b.DisableUserns {
		cmd = append(cmd, "--disable-userns")
	}
	if !b.Network {
		cmd = append(cmd, "--unshare-net")
	}
	cmd = append(cmd, mounts(b.GitDir, ws, b.Masks, b.binds)...)
	cmd = append(cmd, "--chdir", dir, "--")
	return append(cmd, argv...)
}

// exit maps bwrap's exit to the call's. bwrap reports a child killed by
// signal N as exit status 128+N, as a shell does; that is mapped back to
// -N, so a command that itself exits with 129-192 reads as killed by a
// signal.
func exit(code int) int {
	if code > 128 && code <= 128+64 {
		return -(code - 128)
	}
	return code
}

// maxStartStderr is the most stderr a call that bwrap could not start
// writes: bwrap's one line.
const maxStartStderr = 4096

// startTail keeps the start of a call's stderr, to tell bwrap's
// "bwrap: execvp <program>: <reason>" from the call's own output.
type startTail struct {
	mu  sync.Mutex
	buf []byte
	n   int
}

func (t *startTail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n += len(b)
	if room := maxStartStderr + 1 - len(t.buf); room > 0 {
		t.buf = append(t.buf, b[:min(room, len(b))]...)
	}
	return len(b), nil
}

// startFailed reports whether a call that exited with exit is bwrap
// failing to run the program inside the sandbox (missing there, or not
// executable): bwrap then exits 1 after printing "bwrap: execvp
// <program>: <reason>", where the host executor reads 127. It returns
// the reason.
func (t *startTail) startFailed(exit int) (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if exit != 1 || t.n > maxStartStderr {
		return "", false
	}
	lines := strings.Split(strings.TrimRight(string(t.buf), "\n"), "\n")
	last, ok := strings.CutPrefix(lines[len(lines)-1], "bwrap: execvp ")
	if !ok {
		return "", false
	}
	if i := strings.LastIndex(last, ": "); i >= 0 {
		return last[i+2:], true
	}
	return last, true
}

// teeTail writes to w (when not nil) and to the tail.
type teeTail struct {
	w    io.Writer
	tail *startTail
}

func (t teeTail) Write(b []byte) (int, error) {
	_, _ = t.tail.Write(b)
	if t.w != nil {
		return t.w.Write(b)
	}
	return len(b), nil
}

// raceFilter passes a call's stderr to w (when not nil) as it arrives,
// except that it holds back its start while that could be bwrap's
// setupRace line, so that an attempt started again leaves no trace.
// Anything else, or any output on stdout (releaser), lets it go.
type raceFilter struct {
	w    io.Writer
	mu   sync.Mutex
	held []byte
	open bool // passing everything through
}

func (f *raceFilter) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		f.held = append(f.held, b...)
		if mayBeRace(f.held) {
			return len(b), nil
		}
		f.open = true
		held := f.held
		f.held = nil
		if _, err := f.write(held); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return f.write(b)
}

func (f *raceFilter) write(b []byte) (int, error) {
	if f.w == nil || len(b) == 0 {
		return len(b), nil
	}
	return f.w.Write(b)
}

// release lets what is held go and everything after it through.
func (f *raceFilter) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.open {
		f.open = true
		_, _ = f.write(f.held)
		f.held = nil
	}
}

// isRace reports whether what is held is bwrap's whole setupRace line.
func (f *raceFilter) isRace() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.open && strings.HasPrefix(string(f.held), setupRace) && bytes.HasSuffix(f.held, []byte("\n")) &&
		strings.Contains(string(f.held), setupRaceMark)
}

// mayBeRace reports whether b could be, or start, bwrap's one
// setupRace line.
func mayBeRace(b []byte) bool {
	if len(b) > maxStartStderr {
		return false
	}
	if len(b) <= len(setupRace) {
		return strings.HasPrefix(setupRace, string(b))
	}
	if !strings.HasPrefix(string(b), setupRace) {
		return false
	}
	i := bytes.IndexByte(b, '\n')
	return i < 0 || i == len(b)-1
}

// releaser is a call's stdout: output there means the command runs, so
// it releases the stderr held before it goes to w (when not nil).
type releaser struct {
	w      io.Writer
	filter *raceFilter
}

func (r releaser) Write(b []byte) (int, error) {
	r.filter.release()
	if r.w == nil {
		return len(b), nil
	}
	return r.w.Write(b)
}
