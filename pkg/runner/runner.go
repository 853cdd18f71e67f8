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
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/quire-ci/quire-hook/pkg/config"
	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/pipeline"
	"github.com/quire-ci/quire-hook/pkg/redact"
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
	// Pusher names who pushed (or replayed), for runs.pusher; "" is NULL.
	Pusher string
}

// Settings are the operator's knobs that shape a run.
type Settings struct {
	JobTimeout    time.Duration // 0: none
	RunTimeout    time.Duration // 0: none
	LoadTimeout   time.Duration // 0: pipeline's default
	KeepWorkspace bool
	// MaxParallelRuns is how many runs of the data root may run at
	// once (0: 1); runs of one repo and ref never overlap.
	MaxParallelRuns int
	// Env is added to each sh call's environment after the CI
	// variables (config.lua's env); the call's own opts.env still wins.
	// NAME=value strings.
	Env []string
	// MaxLogBytes bounds each sh call's log file (0:
	// DefaultMaxLogBytes): past it the output is dropped, see
	// crilog.Writer.Limit.
	MaxLogBytes int64
}

// DefaultMaxLogBytes bounds an sh call's log when Settings do not.
const DefaultMaxLogBytes = 1 << 30

// Runner runs pipelines of one repository and records them.
type Runner struct {
	Store    *store.Store
	DataRoot string   // absolute
	GitDir   string   // the bare repository, absolute
	Env      []string // the hook's own environment
	Progress *Progress
	Settings Settings
	// Secrets are the operator's secrets by name, for q.secret and
	// ci.mirror; a file secret is read when a run first uses it.
	Secrets map[string]config.Secret
	// URL is the web address of the run pages (git config quire.url),
	// or "": a run's page is <URL>/runs/<run id>.
	URL string
	// Executor runs the sh calls: a session per run, opened once the
	// workspace exists and closed on every path (config builds it from
	// config.lua's executor key).
	Executor executor.Executor

	// Reporters are told of each run that ends (notes, notifications).
	Reporters []Reporter
}

// Result is one run as this process handles it. Enqueue (or Queued)
// returns it pending, with only RunID and RunDir set; Execute takes it
// and returns it ended, with State, FailureKind and Error.
type Result struct {
	RunID       string
	State       store.RunState // once ended: complete, failed or superseded
	FailureKind store.FailureKind
	Error       string
	RunDir      string

	queued   time.Time
	began    time.Time    // when it got its turn; zero while it waits
	waited   bool         // whether it had to wait for its turn
	row      store.Run    // as Enqueue recorded it
	secrets  *redact.Set  // the secrets the run resolved, once its jobs run
	session  *openSession // the executor's, once the workspace exists
	orphans  []string     // runs of this repo its reconcile ended, to report
	reported bool         // finish recorded its end: the Reporters hear of it

	lease *workspace.Lease // the cached tree its workspace came from, if any
}

// cleanupTimeout bounds the records written after a run was cancelled.
const cleanupTimeout = 10 * time.Second

// Run records a new run for push and executes the pipeline found in src
// (a file system rooted at the commit's tree): Enqueue, then Execute. A
// failing pipeline or job is a Result, not an error; the error is for
// records that could not be written.
func (r *Runner) Run(ctx context.Context, push Push, src fs.FS) (Result, error) {
	res, err := r.Enqueue(ctx, push)
	if err != nil {
		return res, err
	}
	return r.Execute(ctx, res, push, src)
}

// Enqueue records a new pending run for push. The row exists before
// anything else happens, so that a reader (or reconcile) sees it even if
// the hook dies right away.
func (r *Runner) Enqueue(ctx context.Context, push Push) (Result, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Result{}, fmt.Errorf("make run id: %w", err)
	}
	now := time.Now()
	res := Result{RunID: id.String(), RunDir: string(datadir.Root(r.DataRoot).Run(id.String())), queued: now}
	host, _ := os.Hostname()
	// The subject is the message's first line, as git log --oneline shows it.
	subject, _, _ := strings.Cut(strings.TrimLeft(push.CommitMessage, "\n"), "\n")
	res.row = store.Run{
		ID: res.RunID, Repo: push.Repo, Ref: push.Ref, SHA: push.SHA, Trigger: push.Trigger,
		PushedAtMS: push.PushedAt.UnixMilli(), QueuedAtMS: now.UnixMilli(), State: store.RunPending,
		OwnerPID: os.Getpid(), OwnerHost: host,
		Pusher: clipText(push.Pusher), Author: clipText(push.Author), Subject: clipText(strings.TrimSpace(subject)),
	}
	if err := r.Store.CreateRun(ctx, res.row); err != nil {
		return res, fmt.Errorf("record run: %w", err)
	}
	return res, nil
}

// Execute waits for the run's turn in the data root, then runs it. A
// newer push to the same ref supersedes it, waiting or running. Once the
// run has ended and its turn is free for the next, the Reporters hear of
// the runs its reconcile ended and then of it: a slow notification never
// holds up the next run of the ref.
func (r *Runner) Execute(ctx context.Context, res Result, push Push, src fs.FS) (Result, error) {
	res, err := r.execute(ctx, res, push, src)
	for _, id := range res.orphans {
		r.reportRun(ctx, id, nil)
	}
	if err == nil && res.reported {
		r.reportRun(ctx, res.RunID, res.secrets)
	}
	return res, err
}

func (r *Runner) execute(ctx context.Context, res Result, push Push, src fs.FS) (Result, error) {
	now := res.queued
	runDir := datadir.RunDir(res.RunDir)
	ws := runDir.Workspace()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	release, waited, err := r.wait(ctx, res.row)
	if ended := (*endedWhileWaiting)(nil); errors.As(err, &ended) {
		return r.endedElsewhere(res, ended.row), nil
	}
	if err != nil {
		if state, kind, msg, stopped := r.stopped(ctx, err); stopped {
			return r.finish(ctx, res, state, kind, msg, now)
		}
		return r.finish(ctx, res, store.RunFailed, store.FailInternal, err.Error(), now)
	}
	defer release()
	res.began, res.waited = time.Now(), waited
	// Only now, holding the turn: a run whose hook died while this one
	// waited must be ended, and its processes killed, before any job
	// of this one starts.
	res.orphans = r.reconcile(ctx, push.Repo)
	go r.watch(ctx, cancel, res.row)

	if err := os.MkdirAll(res.RunDir, 0o755); err != nil {
		return r.finish(ctx, res, store.RunFailed, store.FailInternal, fmt.Sprintf("create run directory: %v", err), now)
	}
	if err := r.Store.StartRun(ctx, res.RunID, time.Now().UnixMilli(), ws); err != nil {
		if row, gerr := r.Store.GetRun(ctx, res.RunID); gerr == nil && row.State != store.RunPending {
			return r.endedElsewhere(res, row), nil // canceled as its turn came
		}
		return res, fmt.Errorf("record run start: %w", err)
	}
	r.Progress.Infof("run %s started: %s at %s", res.RunID, push.Ref, gitrepo.ShortSHA(push.SHA))

	if r.Settings.RunTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, r.Settings.RunTimeout, errRunTimeout)
		defer cancel()
	}

	// A load or materialize cut short by the run's end is recorded as
	// that end, not as a fault of the pipeline or the workspace.
	p, err := pipeline.Load(ctx, src, pipeline.Options{Timeout: r.Settings.LoadTimeout})
	if err != nil {
		if state, kind, msg, stopped := r.stopped(ctx, nil); stopped {
			return r.finish(ctx, res, state, kind, msg, now)
		}
		return r.finish(ctx, res, store.RunFailed, store.FailPipeline, err.Error(), now)
	}
	if err := r.Store.RecordPipeline(ctx, res.RunID, pipelineJobs(p)); err != nil {
		p.Close()
		return r.finish(ctx, res, store.RunFailed, store.FailInternal, err.Error(), now)
	}
	var e *execution
	defer func() {
		// A job stuck in an uninterruptible Lua call still owns the
		// state; the process exiting ends it.
		if e == nil || !e.stuck {
			p.Close()
		}
	}()

	if err := r.checkout(ctx, &res, push, ws); err != nil {
		_ = datadir.RemoveAll(ws)
		if state, kind, msg, stopped := r.stopped(ctx, nil); stopped {
			return r.finish(ctx, res, state, kind, msg, now)
		}
		return r.finish(ctx, res, store.RunFailed, store.FailWorkspace, err.Error(), now)
	}

	sess, err := r.Executor.Start(ctx, executor.RunSpec{
		RunID: res.RunID, Repo: push.Repo, Dir: runDir, GitDir: r.GitDir, Image: p.Image,
	})
	if err != nil {
		if state, kind, msg, stopped := r.stopped(ctx, nil); stopped {
			return r.finish(ctx, res, state, kind, msg, now)
		}
		if errors.Is(err, executor.ErrNoImage) {
			return r.finish(ctx, res, store.RunFailed, store.FailPipeline, err.Error(), now)
		}
		return r.finish(ctx, res, store.RunFailed, store.FailExecutor, fmt.Sprintf("executor %s: %v", r.Executor.Name(), err), now)
	}
	res.session = &openSession{s: sess}
	// finish closes it first; this covers the paths that fail to
	// record the run at all.
	defer r.closeSession(ctx, res.session)
	if c, ok := sess.(executor.Container); ok {
		id, image := c.Container()
		if err := r.Store.SetRunContainer(ctx, res.RunID, id, image); err != nil {
			return r.finish(ctx, res, store.RunFailed, store.FailInternal, fmt.Sprintf("record the run's container: %v", err), now)
		}
	}

	res.secrets = new(redact.Set)
	e = &execution{runner: r, run: res, push: push, p: p, workspace: ws, secrets: res.secrets, session: sess}
	failed, err := e.runJobs(ctx)
	if err != nil {
		return r.finish(ctx, res, store.RunFailed, store.FailInternal, err.Error(), now)
	}
	if state, kind, msg, stopped := r.stopped(ctx, nil); stopped {
		return r.finish(ctx, res, state, kind, msg, now)
	}
	if len(failed) > 0 {
		return r.finish(ctx, res, store.RunFailed, store.FailJob, fmt.Sprintf("job %s failed", quoteList(failed)), now)
	}
	return r.finish(ctx, res, store.RunComplete, "", "", now)
}

var errRunTimeout = errors.New("run timed out")

// endedElsewhere is the Result of a run that another process recorded
// ended (cancel) before it started: it is said, not recorded again.
func (r *Runner) endedElsewhere(res Result, row store.Run) Result {
	res.State, res.FailureKind, res.Error = row.State, row.FailureKind, row.Error
	r.Progress.Failf("run %s was recorded %s (%s) before it started: %s", res.RunID, row.State, row.FailureKind, firstLine(row.Error))
	return res
}

// reconcile ends the runs whose hook died; a failure is a warning, as
// this run matters more. It returns those of repo, for the Reporters
// (git notes and notifications; a run of another repository sharing the
// data root is reported by nobody, as this hook cannot reach its bare
// repository).
func (r *Runner) reconcile(ctx context.Context, repo string) []string {
	orphans, err := EndOrphans(ctx, r.Store, datadir.Root(r.DataRoot))
	var ids []string
	for _, o := range orphans {
		r.Progress.Infof("%s", o)
		if o.Run.Repo == repo {
			ids = append(ids, o.Run.ID)
		}
	}
	if err != nil {
		r.Progress.Failf("warning: %v", err)
	}
	return ids
}

// stopped reports whether the run has ended before its jobs did (its
// context ended, or waiting for its turn gave up with err), and how to
// record that.
func (r *Runner) stopped(ctx context.Context, err error) (state store.RunState, kind store.FailureKind, msg string, ok bool) {
	cause := err
	if ctx.Err() != nil {
		cause = context.Cause(ctx)
	}
	var sup *Superseded
	switch {
	case cause == nil:
		return "", "", "", false
	case errors.As(cause, &sup):
		return store.RunSuperseded, "", sup.Error(), true
	case errors.Is(cause, errRunTimeout):
		return store.RunFailed, store.FailTimeout, fmt.Sprintf("run exceeded its %s timeout", r.Settings.RunTimeout), true
	case ctx.Err() != nil:
		return store.RunFailed, store.FailCanceled, "run was cancelled: " + cause.Error(), true
	}
	return "", "", "", false
}

// finish records the run's end, under a context that survives the
// run's cancellation, and prints its outcome.
//
// What the run leaves behind goes first: its executor session (what
// its jobs left running) and, unless the operator keeps them, its
// workspace. A hook killed after the record
// must not leave them to a run that reconcile never looks at again.
func (r *Runner) finish(ctx context.Context, res Result, state store.RunState, kind store.FailureKind, msg string, started time.Time) (Result, error) {
	r.closeSession(ctx, res.session)
	if err := r.dropWorkspace(res); err != nil {
		r.Progress.Failf("warning: remove the workspace of run %s: %v", res.RunID, err)
	}
	msg = res.secrets.String(msg)
	res.State, res.FailureKind, res.Error = state, kind, msg
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var err error
	if state == store.RunComplete {
		err = r.Store.FinishRun(ctx, res.RunID, state, kind, msg, time.Now().UnixMilli())
	} else {
		// One transaction: jobs left active (a cancelled run) become
		// aborted together with the run's end.
		_, err = r.Store.AbortRun(ctx, res.RunID, state, kind, msg, time.Now().UnixMilli())
	}
	if err != nil {
		return res, fmt.Errorf("record end of run %s: %w", res.RunID, err)
	}
	took := timing(res, started, time.Now())
	switch state {
	case store.RunComplete:
		r.Progress.Infof("run %s complete%s", res.RunID, took)
		r.pointers(r.Progress.Infof, res.RunID)
	case store.RunSuperseded:
		r.Progress.Infof("run %s %s%s", res.RunID, msg, took)
		if !res.began.IsZero() {
			r.pointers(r.Progress.Infof, res.RunID)
		}
	default:
		r.Progress.Failf("run %s failed (%s)%s: %s", res.RunID, kind, took, firstLine(msg))
		for _, l := range restLines(msg) {
			r.Progress.Failf("  %s", l)
		}
		r.pointers(r.Progress.Failf, res.RunID)
	}
	res.reported = true
	return res, nil
}

// Reporter is told of each run a Runner ended, once its row is final:
// git notes and notifications (SPEC §13) are Reporters. A Reporter
// never changes the run or the hook's exit status; it reports its own
// failures (a progress line, a record) and bounds its own time.
type Reporter interface {
	RunEnded(ctx context.Context, e Ended)
}

// Ended is what a Reporter is told of a run that ended.
type Ended struct {
	Run      store.Run   // the final row
	Secrets  *redact.Set // the run's secrets: redact what leaves the box
	GitDir   string      // the bare repository
	DataRoot string
	Progress *Progress // for one-line warnings to the pusher
}

// reportRun tells the Reporters that run id ended; secrets are those the
// run resolved (nil: none, as for a run reconcile ended, whose records
// were redacted when written).
func (r *Runner) reportRun(ctx context.Context, id string, secrets *redact.Set) {
	if len(r.Reporters) == 0 {
		return
	}
	// A run ended by its context (quire-hook cancel, a signal) is
	// reported too: the read outlives that context, as the record did.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	row, err := r.Store.GetRun(rctx, id)
	cancel()
	if err != nil {
		r.Progress.Failf("warning: read run %s for its reports: %v", id, err)
		return
	}
	if secrets == nil {
		secrets = new(redact.Set)
	}
	e := Ended{Run: row, Secrets: secrets, GitDir: r.GitDir, DataRoot: r.DataRoot, Progress: r.Progress}
	for _, rep := range r.Reporters {
		rep.RunEnded(context.WithoutCancel(ctx), e)
	}
}

// maxLogBytes bounds each sh call's log.
func (r *Runner) maxLogBytes() int64 {
	if r.Settings.MaxLogBytes > 0 {
		return r.Settings.MaxLogBytes
	}
	return DefaultMaxLogBytes
}

// openSession is a run's executor session, closed once, by whichever
// path ends the run first.
type openSession struct {
	s    executor.Session
	once sync.Once
}

// closeSession closes the run's session (nil: none was opened) under a
// context that outlives the run's; what it cannot kill is a warning,
// the run's outcome stands.
func (r *Runner) closeSession(ctx context.Context, o *openSession) {
	if o == nil {
		return
	}
	o.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if err := o.s.Close(ctx); err != nil {
			r.Progress.Failf("warning: close the %s executor's session: %v", r.Executor.Name(), err)
		}
	})
}

// pipelineJobs is what the store keeps of p's jobs: ids and inputs, in
// declaration order.
func pipelineJobs(p *pipeline.Pipeline) []store.PipelineJob {
	jobs := make([]store.PipelineJob, len(p.Jobs))
	for i, j := range p.Jobs {
		jobs[i] = store.PipelineJob{JobID: j.ID, Inputs: j.Inputs}
	}
	return jobs
}

// maxTextBytes bounds what a run row keeps of a text the pusher wrote
// (the commit's subject and author, the pusher's name): a 100 MB first
// line is the commit's to keep, not every page and JSON list that shows
// the run.
const maxTextBytes = 1000

// clipText is s cut to maxTextBytes at a character boundary, ending in
// "…" when it was cut.
func clipText(s string) string {
	if len(s) <= maxTextBytes {
		return s
	}
	cut := maxTextBytes - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
