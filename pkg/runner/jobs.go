package runner

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/pipeline"
	"github.com/quire-ci/quire-hook/pkg/redact"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// execution is the state of one run while its jobs execute.
type execution struct {
	runner    *Runner
	run       Result
	push      Push
	p         *pipeline.Pipeline
	workspace string

	states  map[string]store.JobState // job id -> final state
	outputs map[string]string         // job id -> outputs JSON ("" for nil), unredacted

	// secrets are the values resolved so far, redacted in everything the
	// run writes from then on; resolved maps their names to them.
	secrets  *redact.Set
	resolved map[string]string

	// stuck is set when a job's Lua call did not stop when asked: the
	// Lua state is the stuck call's, so no later job can run.
	stuck bool

	session executor.Session // where the jobs' sh calls run
}

var errJobTimeout = errors.New("job timed out")

// tailLines is how much of a failing job's last sh output the pusher sees.
const tailLines = 20

// runJobs runs every job in order and returns the ids of those that
// failed. Jobs downstream of a failed or skipped job are skipped; the
// others still run. The error is for records that could not be written.
func (e *execution) runJobs(ctx context.Context) (failed []string, err error) {
	e.states = make(map[string]store.JobState)
	e.outputs = make(map[string]string)
	for _, j := range e.p.Order() {
		if ctx.Err() != nil {
			break
		}
		if reason := e.skipReason(j); reason != "" {
			if err := e.runner.Store.SkipJob(ctx, e.run.RunID, j.ID, reason, time.Now().UnixMilli()); err != nil {
				return failed, fmt.Errorf("record skipped job %s: %w", j.ID, err)
			}
			e.states[j.ID] = store.JobSkipped
			e.runner.Progress.Infof("job %s skipped: %s", j.ID, reason)
			continue
		}
		state, err := e.runJob(ctx, j)
		if err != nil {
			return failed, err
		}
		e.states[j.ID] = state
		if state == store.JobFailed {
			failed = append(failed, j.ID)
		}
	}
	return failed, nil
}

// skipReason says why j cannot run, or "" when it can.
func (e *execution) skipReason(j *pipeline.Job) string {
	if e.stuck {
		return "an earlier job did not stop, so the run could not go on"
	}
	if input, state := e.blockedBy(j); input != "" {
		return fmt.Sprintf("input job '%s' %s", input, state)
	}
	return ""
}

// blockedBy returns the first input job that did not complete, and its state.
func (e *execution) blockedBy(j *pipeline.Job) (string, store.JobState) {
	for _, in := range j.Inputs {
		if in == pipeline.PushSource {
			continue
		}
		if st := e.states[in]; st != store.JobComplete {
			return in, st
		}
	}
	return "", ""
}

// runJob runs one job's function and records its row and job.log.
func (e *execution) runJob(ctx context.Context, j *pipeline.Job) (store.JobState, error) {
	r := e.runner
	started := time.Now()
	if err := r.Store.StartJob(ctx, e.run.RunID, j.ID, started.UnixMilli()); err != nil {
		return "", fmt.Errorf("record start of job %s: %w", j.ID, err)
	}
	r.Progress.Infof("job %s started", j.ID)

	h, err := e.newHandle(ctx, j, datadir.RunDir(e.run.RunDir).Job(j.ID))
	var msg, outputs string
	if err == nil {
		defer h.close()
		msg, outputs = e.callJob(ctx, j, h)
	} else {
		msg = err.Error()
	}

	if ctx.Err() != nil {
		// The run was cancelled under the job, which neither completed
		// nor failed on its own: the run's end marks it aborted.
		r.Progress.Failf("job %s aborted after %s: %s", j.ID, duration(time.Since(started)), context.Cause(ctx))
		return store.JobAborted, nil
	}
	state := store.JobComplete
	if msg != "" {
		state = store.JobFailed
	}
	var exit *int
	if h != nil {
		exit = h.lastExit
	}
	finish := context.WithoutCancel(ctx)
	// Records hold what the job returned with its secrets redacted; later
	// jobs read the outputs as they were.
	msg = e.secrets.String(msg)
	stored := e.secrets.JSON(outputs)
	if err := r.Store.FinishJob(finish, e.run.RunID, j.ID, state, exit, msg, stored, time.Now().UnixMilli()); err != nil {
		return "", fmt.Errorf("record end of job %s: %w", j.ID, err)
	}
	e.outputs[j.ID] = outputs

	took := duration(time.Since(started))
	if state == store.JobComplete {
		r.Progress.Infof("job %s complete in %s", j.ID, took)
		return state, nil
	}
	r.Progress.Failf("job %s failed in %s: %s", j.ID, took, firstLine(msg))
	if h != nil && h.lastLog != "" {
		e.showTail(h.lastLog)
	}
	return state, nil
}

// callJob calls the job's function and returns the failure message (""
// when it completed) and its outputs as JSON.
func (e *execution) callJob(ctx context.Context, j *pipeline.Job, h *handle) (msg, outputs string) {
	jobCtx := ctx
	if t := e.runner.Settings.JobTimeout; t > 0 {
		var cancel context.CancelFunc
		jobCtx, cancel = context.WithTimeoutCause(ctx, t, errJobTimeout)
		defer cancel()
	}
	jobCtx, cancelJob := context.WithCancelCause(jobCtx)
	defer cancelJob(nil)
	h.ctx = jobCtx
	L := e.p.L
	L.SetContext(jobCtx)
	L.SetGlobal("print", L.NewFunction(h.log))
	if j.Mirror != nil {
		defer L.RemoveContext()
		return e.mirror(jobCtx, j, h)
	}

	var ret lua.LValue = lua.LNil
	err := e.guard(jobCtx, cancelJob, func() error {
		err := L.CallByParam(lua.P{Fn: j.Fn, NRet: 1, Protect: true, Handler: pipeline.Traceback(L)}, h.table(L))
		if err == nil {
			ret = L.Get(-1)
			L.Pop(1)
		}
		return err
	})
	if errors.Is(err, pipeline.ErrStuck) {
		e.stuck = true
	} else {
		L.RemoveContext()
	}
	// Whatever the job left running dies with it.
	h.endProcs()
	if e.stuck {
		msg = fmt.Sprintf("job did not stop %s after %s: %v", e.runner.grace(), context.Cause(jobCtx), err)
		h.logError(msg, "")
		return msg, ""
	}

	switch {
	case errors.Is(context.Cause(jobCtx), pipeline.ErrMemory):
		msg = "job stopped: " + pipeline.ErrMemory.Error()
	case errors.Is(context.Cause(jobCtx), errJobTimeout):
		msg = fmt.Sprintf("job exceeded its %s timeout", e.runner.Settings.JobTimeout)
	case jobCtx.Err() != nil:
		msg = "job interrupted: " + context.Cause(jobCtx).Error()
	case err != nil:
		// job.log and jobs.error both get the message and the traceback.
		msg, trace := luaError(err)
		h.logError(msg, trace)
		if trace != "" {
			msg += "\n" + trace
		}
		return msg, ""
	default:
		out, err := pipeline.ToJSON(ret)
		if err != nil {
			msg = fmt.Sprintf("job '%s' returned an invalid output: %v", j.ID, err)
			break
		}
		return "", out
	}
	h.logError(msg, "")
	return msg, ""
}

// guard is pipeline.Guard, which gives up on a call that goes on
// pipeline.StuckGrace after ctx ended, with the runner's grace instead
// where that is shorter. A call given up on is left running, as Guard
// leaves it.
func (e *execution) guard(ctx context.Context, cancel context.CancelCauseFunc, call func() error) error {
	grace := e.runner.grace()
	if grace >= pipeline.StuckGrace {
		return pipeline.Guard(ctx, cancel, call)
	}
	done := make(chan error, 1)
	go func() { done <- pipeline.Guard(ctx, cancel, call) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return pipeline.ErrStuck
	}
}

// grace is how long a job's Lua call may go on after its job ended.
func (r *Runner) grace() time.Duration {
	if r.stuckGrace > 0 {
		return r.stuckGrace
	}
	return pipeline.StuckGrace
}

// luaError splits a Lua error into its message and the traceback that
// pipeline.Traceback appended.
func luaError(err error) (msg, trace string) {
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		msg = ae.Object.String()
	} else {
		msg = err.Error()
	}
	if i := strings.Index(msg, pipeline.TracebackMarker); i >= 0 {
		return msg[:i], msg[i+1:]
	}
	return msg, ""
}

// showTail prints the last lines of a failing job's last sh call.
func (e *execution) showTail(path string) {
	lines, err := crilog.Tail(path, tailLines, 512)
	if err != nil || len(lines) == 0 {
		return
	}
	rel, _ := filepath.Rel(e.runner.DataRoot, path)
	e.runner.Progress.Failf("last %d lines of %s:", len(lines), rel)
	for _, l := range lines {
		mark := ""
		if l.Stream == "stderr" {
			mark = "!"
		}
		e.runner.Progress.Failf("  |%s %s", mark, l.Content)
	}
}

func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

func restLines(s string) []string {
	_, rest, ok := strings.Cut(s, "\n")
	if !ok || rest == "" {
		return nil
	}
	return strings.Split(rest, "\n")
}

func quoteList(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = "'" + id + "'"
	}
	return strings.Join(q, ", ")
}
