// Package runner executes a loaded pipeline: it materializes the
// workspace, runs the jobs in order with the handle q, spawns the sh
// processes, and records runs, jobs, sh calls and their CRI logs as they
// happen.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/uuid"

	"github.com/quire-ci/quire-hook/pkg/pipeline"
	"github.com/quire-ci/quire-hook/pkg/store"
	"github.com/quire-ci/quire-hook/pkg/workspace"
)

// Push is what a run was triggered by; it becomes the quire/push source.
type Push struct {
	Repo          string
	Ref           string
	SHA           string
	PreviousSHA   string // "" for a new ref
	Trigger       string // "push" or "replay"
	PushedAt      time.Time
	CommitMessage string
	Author        string
	FilesChanged  []string
	Options       []string
}

// Settings are the operator's knobs that shape a run.
type Settings struct {
	JobTimeout    time.Duration // 0: none
	RunTimeout    time.Duration // 0: none
	LoadTimeout   time.Duration // 0: pipeline's default
	KeepWorkspace bool
}

// Runner runs pipelines of one repository and records them.
type Runner struct {
	Store    *store.Store
	DataRoot string   // absolute
	GitDir   string   // the bare repository, absolute
	Env      []string // the hook's own environment
	Progress *Progress
	Settings Settings
}

// Result is how a run ended.
type Result struct {
	RunID       string
	State       string // complete, failed, superseded
	FailureKind string
	Error       string
	RunDir      string
}

// Failure kinds recorded in runs.failure_kind.
const (
	FailPipeline  = "pipeline"
	FailWorkspace = "workspace"
	FailJob       = "job"
	FailTimeout   = "timeout"
	FailCanceled  = "canceled"
	FailInternal  = "internal"
)

// cleanupTimeout bounds the records written after a run was cancelled.
const cleanupTimeout = 10 * time.Second

// Run records a new run for push and executes the pipeline found in src
// (a file system rooted at the commit's tree). A failing pipeline or job
// is a Result, not an error; the error is for records that could not be
// written.
func (r *Runner) Run(ctx context.Context, push Push, src fs.FS) (Result, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Result{}, fmt.Errorf("make run id: %w", err)
	}
	res := Result{RunID: id.String(), RunDir: filepath.Join(r.DataRoot, "runs", id.String())}
	becomeSubreaper()
	now := time.Now()
	host, _ := os.Hostname()
	ws := filepath.Join(res.RunDir, "workspace")

	// The run row exists before anything else happens, so that a reader
	// (or reconcile) sees it even if the hook dies right away.
	if err := r.Store.CreateRun(ctx, store.Run{
		ID: res.RunID, Repo: push.Repo, Ref: push.Ref, SHA: push.SHA, Trigger: push.Trigger,
		PushedAtMS: push.PushedAt.UnixMilli(), QueuedAtMS: now.UnixMilli(), State: "pending",
		OwnerPID: os.Getpid(), OwnerHost: host,
	}); err != nil {
		return res, fmt.Errorf("record run: %w", err)
	}
	if err := os.MkdirAll(res.RunDir, 0o755); err != nil {
		return r.finish(ctx, res, "failed", FailInternal, fmt.Sprintf("create run directory: %v", err), now)
	}
	if err := r.Store.StartRun(ctx, res.RunID, time.Now().UnixMilli(), ws); err != nil {
		return res, fmt.Errorf("record run start: %w", err)
	}
	r.Progress.Infof("run %s started: %s at %s", res.RunID, push.Ref, short(push.SHA))

	if r.Settings.RunTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, r.Settings.RunTimeout, errRunTimeout)
		defer cancel()
	}

	// A load or materialize cut short by the run's end is recorded as
	// that end, not as a fault of the pipeline or the workspace.
	p, err := pipeline.Load(ctx, src, pipeline.Options{Timeout: r.Settings.LoadTimeout})
	if err != nil {
		if kind, msg, stopped := r.stopped(ctx); stopped {
			return r.finish(ctx, res, "failed", kind, msg, now)
		}
		return r.finish(ctx, res, "failed", FailPipeline, err.Error(), now)
	}
	defer p.Close()

	if _, err := workspace.Materialize(ctx, r.GitDir, plumbing.NewHash(push.SHA), ws); err != nil {
		_ = os.RemoveAll(ws)
		if kind, msg, stopped := r.stopped(ctx); stopped {
			return r.finish(ctx, res, "failed", kind, msg, now)
		}
		return r.finish(ctx, res, "failed", FailWorkspace, fmt.Sprintf("materialize %s: %v", short(push.SHA), err), now)
	}
	if !r.Settings.KeepWorkspace {
		defer os.RemoveAll(ws)
	}

	e := &execution{runner: r, run: res, push: push, p: p, workspace: ws}
	failed, err := e.runJobs(ctx)
	if err != nil {
		return r.finish(ctx, res, "failed", FailInternal, err.Error(), now)
	}
	if kind, msg, stopped := r.stopped(ctx); stopped {
		return r.finish(ctx, res, "failed", kind, msg, now)
	}
	if len(failed) > 0 {
		return r.finish(ctx, res, "failed", FailJob, fmt.Sprintf("job %s failed", quoteList(failed)), now)
	}
	return r.finish(ctx, res, "complete", "", "", now)
}

var errRunTimeout = errors.New("run timed out")

// stopped reports whether the run's context has ended, and how to
// record it.
func (r *Runner) stopped(ctx context.Context) (kind, msg string, ok bool) {
	switch {
	case errors.Is(context.Cause(ctx), errRunTimeout):
		return FailTimeout, fmt.Sprintf("run exceeded its %s timeout", r.Settings.RunTimeout), true
	case ctx.Err() != nil:
		return FailCanceled, "run was cancelled: " + context.Cause(ctx).Error(), true
	}
	return "", "", false
}

// finish records the run's end, under a context that survives the
// run's cancellation, and prints its outcome.
func (r *Runner) finish(ctx context.Context, res Result, state, kind, msg string, started time.Time) (Result, error) {
	res.State, res.FailureKind, res.Error = state, kind, msg
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var err error
	if state == "complete" {
		err = r.Store.FinishRun(ctx, res.RunID, state, kind, msg, time.Now().UnixMilli())
	} else {
		// One transaction: jobs left active (a cancelled run) become
		// aborted together with the run's end.
		_, err = r.Store.AbortRun(ctx, res.RunID, state, kind, msg, time.Now().UnixMilli())
	}
	if err != nil {
		return res, fmt.Errorf("record end of run %s: %w", res.RunID, err)
	}
	took := duration(time.Since(started))
	if state == "complete" {
		r.Progress.Infof("run %s complete in %s; logs: %s", res.RunID, took, res.RunDir)
		return res, nil
	}
	r.Progress.Failf("run %s %s (%s) in %s: %s", res.RunID, state, kind, took, firstLine(msg))
	for _, l := range restLines(msg) {
		r.Progress.Failf("  %s", l)
	}
	r.Progress.Failf("logs: %s", res.RunDir)
	return res, nil
}

func short(sha string) string {
	if len(sha) > 10 {
		return sha[:10]
	}
	return sha
}
