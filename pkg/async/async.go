// Package async hands the runs of an async post-receive (git config
// quire.async=true, or post-receive --async) to a detached worker
// process, so that the pusher does not wait: the hook records its runs
// as pending, starts the worker in its own session with no terminal and
// its output appended to <data-root>/async.log, and returns. What each
// run needs beyond its row travels to the worker in one environment
// variable; the worker adopts the runs before anything else, so that no
// reconcile takes them for orphans.
//
// Nobody sees how an async run ends, so the runs are marked async when
// they are queued, and the next push to the repo prints the outcomes
// that no push printed yet (Feedback).
package async

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// maxHandover bounds what the worker reads from its standard input.
const maxHandover = 64 << 20

// handoverTimeout bounds how long the hook waits for the worker to read
// its runs.
const handoverTimeout = 30 * time.Second

// Run is one run handed to the worker.
type Run struct {
	RunID    string    `json:"run_id"`
	Commit   string    `json:"commit"`
	Ref      string    `json:"ref"`
	Previous string    `json:"previous,omitempty"`
	Options  []string  `json:"options,omitempty"`
	PushedAt time.Time `json:"pushed_at"`
}

// Worker is how to start the worker process.
type Worker struct {
	Bin  string   // the quire-hook binary; "" for this one
	Args []string // its arguments: global flags, then the worker command
	Env  []string // its environment
	Dir  string   // its working directory
	Log  string   // the file its output is appended to
}

// Start starts the worker detached, writes runs to its standard input
// (not its environment: Linux refuses a variable over 128 KiB, and refs
// and push options are the pusher's to make long), and returns its pid.
func (w Worker) Start(runs []Run) (int, error) {
	bin := w.Bin
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return 0, fmt.Errorf("find this binary: %w", err)
		}
	}
	data, err := json.Marshal(runs)
	if err != nil {
		return 0, fmt.Errorf("encode runs: %w", err)
	}
	log, err := os.OpenFile(w.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", w.Log, err)
	}
	defer log.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("create the worker's input: %w", err)
	}
	defer pw.Close()
	cmd := exec.Command(bin, w.Args...)
	cmd.Dir = w.Dir
	cmd.Env = w.Env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = pr, log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	pr.Close()
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", bin, err)
	}
	pid := cmd.Process.Pid
	// A worker that dies before reading it all decodes nothing and runs
	// nothing: the runs stay the hook's, failed below or orphaned.
	_ = pw.SetWriteDeadline(time.Now().Add(handoverTimeout))
	if _, err := pw.Write(data); err != nil {
		_ = cmd.Process.Kill()
		return 0, fmt.Errorf("hand the runs to worker %d: %w", pid, err)
	}
	return pid, cmd.Process.Release()
}

// Queue records a pending run of each push in rn's store, starts the
// worker with them, and hands them over to it: until the worker adopts
// them itself, its pid owns them, so no reconcile takes them for
// orphans while the hook exits. Each run is marked async, for Feedback.
// When the worker cannot start, the runs are recorded failed. warnings
// are runs that could not be handed over or marked; they still run.
func Queue(ctx context.Context, rn *runner.Runner, pushes []runner.Push, w Worker) (runs []Run, warnings []error, err error) {
	for _, p := range pushes {
		res, err := rn.Enqueue(ctx, p)
		if err != nil {
			// Those queued so far have this hook as their owner:
			// reconcile ends them once it has exited.
			return nil, nil, err
		}
		runs = append(runs, Run{RunID: res.RunID, Commit: p.SHA, Ref: p.Ref, Previous: p.PreviousSHA, Options: p.Options, PushedAt: p.PushedAt})
		// Nobody watches it: the next push prints its outcome (Feedback).
		if err := rn.Store.MarkAsync(ctx, res.RunID); err != nil {
			warnings = append(warnings, fmt.Errorf("%w; the next push will not print its outcome", err))
		}
	}
	if len(runs) == 0 {
		return nil, nil, nil
	}
	pid, err := w.Start(runs)
	if err != nil {
		Abort(ctx, rn.Store, runs, fmt.Sprintf("start the background worker: %v", err))
		return nil, warnings, fmt.Errorf("start the background worker: %w; set quire.async=false to run in the foreground", err)
	}
	host, _ := os.Hostname()
	for _, r := range runs {
		if _, err := rn.Store.HandOver(ctx, r.RunID, os.Getpid(), pid, host); err != nil {
			warnings = append(warnings, err)
		}
	}
	return runs, warnings, nil
}

// Decode reads the worker's runs from r, its standard input.
func Decode(r io.Reader) ([]Run, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxHandover))
	if err != nil {
		return nil, fmt.Errorf("read the runs: %w", err)
	}
	var runs []Run
	if err := json.Unmarshal(data, &runs); err != nil || len(runs) == 0 {
		return nil, fmt.Errorf("no runs on standard input (%d bytes)", len(data))
	}
	return runs, nil
}

// Adopt makes this process the owner of the runs. The worker does it
// before anything else: the hook that queued them may be gone already,
// and a reconcile would take them for orphans. It returns the runs it
// adopted and why it did not adopt the others.
func Adopt(ctx context.Context, s *store.Store, runs []Run) (mine []Run, skipped []error) {
	host, _ := os.Hostname()
	for _, r := range runs {
		if err := s.AdoptRun(ctx, r.RunID, os.Getpid(), host); err != nil {
			skipped = append(skipped, fmt.Errorf("run %s: %w", r.RunID, err))
			continue
		}
		mine = append(mine, r)
	}
	return mine, skipped
}

// Abort records runs that nobody will execute as failed (internal),
// with why, rather than leave them pending for reconcile to find. It
// runs even when ctx is canceled.
func Abort(ctx context.Context, s *store.Store, runs []Run, why string) {
	ctx = context.WithoutCancel(ctx)
	for _, r := range runs {
		_, _ = s.AbortRun(ctx, r.RunID, store.RunFailed, store.FailInternal, why, time.Now().UnixMilli())
	}
}
