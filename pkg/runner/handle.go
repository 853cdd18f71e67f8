package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	lua "github.com/yuin/gopher-lua"

	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/luavm"
	"github.com/quire-ci/quire-hook/pkg/pipeline"
	"github.com/quire-ci/quire-hook/pkg/push"
)

// maxFileRead bounds q.read_file, as the sandbox bounds strings.
const maxFileRead = 64 << 20

// handle is the q a job function receives.
type handle struct {
	e      *execution
	job    *pipeline.Job
	jobDir datadir.JobDir
	ctx    context.Context
	root   *os.Root
	jobLog *crilog.Writer
	env    []string // base environment of sh processes

	seq      int
	lastExit *int
	lastLog  string

	// procs runs the job's sh calls; ended by endProcs.
	procs     executor.Job
	procsDone bool

	// ended is set when the job ends; a q (or print) that Lua code kept
	// for later refuses to work from then on. Atomic: a stuck job's Lua
	// call may still be running when its job is closed.
	ended atomic.Bool
}

// newHandle makes the q of job j: its log directory and job.log, the
// workspace, and the executor's scope of the job.
func (e *execution) newHandle(ctx context.Context, j *pipeline.Job, jobDir datadir.JobDir) (*handle, error) {
	if err := os.MkdirAll(string(jobDir), 0o755); err != nil {
		return nil, fmt.Errorf("create job directory %s: %w", jobDir, err)
	}
	jl, err := crilog.Create(jobDir.JobLog())
	if err != nil {
		return nil, fmt.Errorf("create job log: %w", err)
	}
	jl.Redact(e.secrets)
	root, err := os.OpenRoot(e.workspace)
	if err != nil {
		jl.Close()
		return nil, fmt.Errorf("open workspace %s: %w", e.workspace, err)
	}
	procs, err := e.session.Job(ctx, j.ID)
	if err != nil {
		root.Close()
		jl.Close()
		return nil, fmt.Errorf("executor %s: open job: %w", e.runner.Executor.Name(), err)
	}
	h := &handle{e: e, job: j, jobDir: jobDir, ctx: context.Background(), root: root, jobLog: jl, procs: procs}
	h.env = e.shEnv(j.ID)
	return h, nil
}

// endProcs kills what the job's sh calls left running, once.
func (h *handle) endProcs() {
	if h.procsDone {
		return
	}
	h.procsDone = true
	if err := h.procs.Close(); err != nil {
		h.e.runner.Progress.Failf("warning: job %s: end its processes: %v", h.job.ID, err)
	}
}

// close ends the handle with its job: what it left running is killed,
// and every q method refuses from now on.
func (h *handle) close() {
	h.ended.Store(true)
	h.endProcs()
	h.root.Close()
	h.jobLog.Close()
}

// alive raises a Lua error when the handle's job has ended: a q kept in
// a global and called by a later job must not run commands or write
// records under a job that is over.
func (h *handle) alive(L *lua.LState) {
	if h.ended.Load() {
		L.RaiseError("q of job '%s' is used after that job ended; use the q passed to this job", h.job.ID)
	}
}

// shEnv is the hook's environment without GIT_* (which would point git
// in the workspace at the bare repository), plus the CI variables, plus
// the operator's env (Settings.Env), which opts.env may still override.
func (e *execution) shEnv(jobID string) []string {
	var env []string
	for _, kv := range e.runner.Env {
		if !strings.HasPrefix(kv, "GIT_") {
			env = append(env, kv)
		}
	}
	return append(append(env,
		"CI=true",
		"QUIRE_RUN_ID="+e.run.RunID,
		"QUIRE_JOB_ID="+jobID,
		"QUIRE_REPO="+e.push.Repo,
		"QUIRE_SHA="+e.push.SHA,
		"QUIRE_REF="+e.push.Ref,
		"QUIRE_WORKSPACE="+e.workspace,
		"QUIRE_GIT_DIR="+e.runner.GitDir,
	), e.runner.Settings.Env...)
}

// table builds the Lua value q.
func (h *handle) table(L *lua.LState) *lua.LTable {
	q := L.NewTable()
	fns := map[string]lua.LGFunction{
		"sh":         h.sh,
		"jobs":       h.jobs,
		"log":        h.log,
		"read_file":  h.readFile,
		"write_file": h.writeFile,
		"env":        h.envVar,
		"secret":     h.secret,
	}
	for name, fn := range fns {
		q.RawSetString(name, L.NewFunction(fn))
	}
	q.RawSetString("workspace", lua.LString(h.e.workspace))
	q.RawSetString("run_id", lua.LString(h.e.run.RunID))
	q.RawSetString("job_id", lua.LString(h.job.ID))
	luavm.Strict(L, q, "q", "field") // q.shh(...) names the typo
	return q
}

// jobs implements q.jobs(name).
func (h *handle) jobs(L *lua.LState) int {
	h.alive(L)
	name := L.CheckString(1)
	switch {
	case name == h.job.ID:
		L.RaiseError("job '%s' cannot read its own outputs", name)
	case !h.e.p.IsTransitiveInput(h.job.ID, name):
		L.RaiseError("Job '%s' cannot read outputs from '%s' — not in its transitive inputs", h.job.ID, name)
	case name == pipeline.PushSource:
		L.Push(luavm.ToLua(L, h.e.pushTable()))
		return 1
	}
	out := h.e.outputs[name]
	if out == "" {
		L.Push(lua.LNil)
		return 1
	}
	v, err := luavm.FromJSON(L, out)
	if err != nil {
		L.RaiseError("read outputs of '%s': %v", name, err)
	}
	L.Push(v)
	return 1
}

// pushTable is the quire/push source.
func (e *execution) pushTable() map[string]any {
	p := e.push
	t := map[string]any{
		"sha":            p.SHA,
		"ref":            p.Ref,
		"repo":           p.Repo,
		"pushed_at":      p.PushedAt.UTC().Format(time.RFC3339),
		"trigger":        p.Trigger,
		"commit_message": p.CommitMessage,
		"author":         p.Author,
		"files_changed":  nonNil(p.FilesChanged),
		"options":        nonNil(p.Options),
	}
	if b, ok := strings.CutPrefix(p.Ref, "refs/heads/"); ok {
		t["branch"] = b
	}
	if tag, ok := strings.CutPrefix(p.Ref, "refs/tags/"); ok {
		t["tag"] = tag
	}
	if p.PreviousSHA != "" && p.PreviousSHA != push.ZeroSHA {
		t["previous_sha"] = p.PreviousSHA
	}
	return t
}

func nonNil(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// log implements q.log(...) and print(...): one job.log line.
func (h *handle) log(L *lua.LState) int {
	h.alive(L)
	n := L.GetTop()
	parts := make([]string, n)
	for i := 1; i <= n; i++ {
		parts[i-1] = L.ToStringMeta(L.Get(i)).String()
	}
	if err := h.jobLog.Line("stdout", []byte(strings.Join(parts, "\t"))); err != nil {
		L.RaiseError("write job log: %v", err)
	}
	return 0
}

// logError writes a job's failure to job.log.
func (h *handle) logError(msg, trace string) {
	_ = h.jobLog.Line("stderr", []byte(msg))
	if trace != "" {
		_ = h.jobLog.Line("stderr", []byte(trace))
	}
}

// readFile implements q.read_file(path), confined to the workspace and
// to regular files: opening a FIFO or a device could block the job
// where no timeout reaches it.
func (h *handle) readFile(L *lua.LState) int {
	h.alive(L)
	path := L.CheckString(1)
	fail := func(format string, args ...any) {
		L.RaiseError("q.read_file %s: %s", h.e.quote(path), fmt.Sprintf(format, args...))
	}
	f, err := h.openRegular(path, os.O_RDONLY)
	if err != nil {
		fail("%v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		fail("%v", err)
	}
	if fi.Size() > maxFileRead {
		fail("file is %d bytes, over the %d-byte limit", fi.Size(), maxFileRead)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileRead+1))
	if err != nil {
		fail("%v", err)
	}
	L.Push(lua.LString(data))
	return 1
}

// writeFile implements q.write_file(path, content), creating parent
// directories inside the workspace; like readFile, only regular files.
func (h *handle) writeFile(L *lua.LState) int {
	h.alive(L)
	path := L.CheckString(1)
	content := L.CheckString(2)
	fail := func(err error) {
		L.RaiseError("q.write_file %s: %v", h.e.quote(path), err)
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := h.root.MkdirAll(dir, 0o755); err != nil {
			fail(rootErr(err))
		}
	}
	f, err := h.openRegular(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		fail(err)
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fail(err)
	}
	return 0
}

// openRegular opens a workspace file without blocking (O_NONBLOCK makes
// opening a FIFO return at once) and refuses anything but a regular
// file.
func (h *handle) openRegular(path string, flag int) (*os.File, error) {
	f, err := h.root.OpenFile(path, flag|syscall.O_NONBLOCK, 0o644)
	if errors.Is(err, syscall.ENXIO) {
		// Opening a FIFO for writing without a reader.
		return nil, fmt.Errorf("not a regular file (a FIFO or socket)")
	}
	if err != nil {
		return nil, rootErr(err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	return f, nil
}

// rootErr shortens os.Root's errors to their cause; the path is already
// in the message.
func rootErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		if strings.Contains(pe.Err.Error(), "escapes") {
			return fmt.Errorf("path escapes the workspace")
		}
		return pe.Err
	}
	return err
}

// envVar implements q.env(name): a variable of the hook's environment.
func (h *handle) envVar(L *lua.LState) int {
	h.alive(L)
	name := L.CheckString(1)
	for i := len(h.e.runner.Env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(h.e.runner.Env[i], name+"="); ok {
			L.Push(lua.LString(v))
			return 1
		}
	}
	L.Push(lua.LNil)
	return 1
}

// sortedKeys returns a Lua table's string keys in order.
func sortedKeys(t *lua.LTable) []string {
	var keys []string
	t.ForEach(func(k, _ lua.LValue) { keys = append(keys, k.String()) })
	sort.Strings(keys)
	return keys
}
