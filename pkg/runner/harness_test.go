package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/internal/gittest"
	"github.com/quire-ci/quire-hook/internal/mounttest"
	"github.com/quire-ci/quire-hook/pkg/config"
	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/executor"
	"github.com/quire-ci/quire-hook/pkg/executor/host"
	"github.com/quire-ci/quire-hook/pkg/gitrepo"
	"github.com/quire-ci/quire-hook/pkg/luavm"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// testStuckGrace is the runners' stuck-call grace in tests: the tests
// that wait for a stuck call to be given up on need not wait 5 s.
const testStuckGrace = time.Second

func TestMain(m *testing.M) {
	luavm.SetStuckGrace(testStuckGrace)
	os.Exit(m.Run())
}

// ciHeader starts every test pipeline.
const ciHeader = "local ci = require(\"quire.ci\")\n"

// harness is a real bare repository with a work tree, a data root with
// a real store, and the Runner settings of one test.
type harness struct {
	t        *testing.T
	repo     *gittest.Fixture
	dataRoot string
	store    *store.Store

	Settings  Settings
	Secrets   map[string]config.Secret
	Env       []string          // added to os.Environ() for the Runner
	Executor  executor.Executor // nil: host
	Reporters []Reporter
	Verbose   bool
	Quiet     bool
	NoCgroup  bool // track processes by group and marker only
}

// newHarness writes pipeline (after ciHeader) as .quire/ci.lua in a fresh
// fixture and opens a store in a fresh data root.
func newHarness(t *testing.T, pipeline string) *harness {
	t.Helper()
	h := &harness{t: t, repo: gittest.New(t), dataRoot: t.TempDir()}
	mounttest.Check(t, h.dataRoot)
	h.repo.Pipeline(ciHeader + pipeline)
	s, err := store.Open(t.Context(), filepath.Join(h.dataRoot, "quire.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	h.store = s
	return h
}

// pushSpec says what to push and what the Runner is told about it.
type pushSpec struct {
	Ref      string // default refs/heads/main
	Previous string
	Trigger  string // default push
	Options  []string
	PushedAt time.Time // default now
}

// run commits the work tree, pushes it to ref and runs the pipeline.
func (h *harness) run() *outcome {
	h.t.Helper()
	return h.runPush(pushSpec{})
}

// runPush commits the work tree, pushes it as spec says and runs the
// pipeline of that commit.
func (h *harness) runPush(spec pushSpec) *outcome {
	h.t.Helper()
	sha := h.commit("test commit")
	if spec.Ref == "" {
		spec.Ref = "refs/heads/main"
	}
	if out, err := h.repo.Push("--quiet", "--force", "origin", "HEAD:"+spec.Ref); err != nil {
		h.t.Fatalf("push %s: %v\n%s", spec.Ref, err, out)
	}
	return h.runSHA(sha, spec)
}

// commit commits everything in the work tree and returns the sha.
func (h *harness) commit(msg string) string {
	h.t.Helper()
	return h.repo.Commit(msg)
}

// runSHA runs the pipeline of an already pushed commit.
func (h *harness) runSHA(sha string, spec pushSpec) *outcome {
	h.t.Helper()
	r, push, src, progress := h.prepare(sha, spec)
	res, err := r.Run(h.t.Context(), push, src)
	if err != nil {
		h.t.Fatalf("run: %v", err)
	}
	return h.collect(res, sha, progress.String())
}

// prepare builds the Runner, the Push and the commit's tree for a run of
// sha, as the hook does.
func (h *harness) prepare(sha string, spec pushSpec) (*Runner, Push, fs.FS, *bytes.Buffer) {
	t := h.t
	t.Helper()
	if spec.Ref == "" {
		spec.Ref = "refs/heads/main"
	}
	if spec.Trigger == "" {
		spec.Trigger = "push"
	}
	if spec.PushedAt.IsZero() {
		spec.PushedAt = time.Now()
	}
	repo, err := gitrepo.Open(h.repo.Bare)
	if err != nil {
		t.Fatal(err)
	}
	commit := plumbing.NewHash(sha)
	c, err := repo.Commit(commit)
	if err != nil {
		t.Fatal(err)
	}
	prev := plumbing.ZeroHash
	if spec.Previous != "" {
		prev = plumbing.NewHash(spec.Previous)
	}
	changed, err := repo.FilesChanged(commit, prev)
	if err != nil {
		t.Fatal(err)
	}
	src, err := repo.TreeFS(commit)
	if err != nil {
		t.Fatal(err)
	}
	push := Push{
		Repo: "repo.git", Ref: spec.Ref, SHA: sha, PreviousSHA: spec.Previous,
		Trigger: spec.Trigger, PushedAt: spec.PushedAt,
		CommitMessage: strings.TrimRight(c.Message, "\n"),
		Author:        c.Author.Name + " <" + c.Author.Email + ">",
		FilesChanged:  changed, Options: spec.Options,
	}
	progress := new(bytes.Buffer)
	r := &Runner{
		Store:     h.store,
		DataRoot:  h.dataRoot,
		GitDir:    h.repo.Bare,
		Env:       append(os.Environ(), h.Env...),
		Progress:  NewProgress(progress, h.Quiet, h.Verbose),
		Settings:  h.Settings,
		Secrets:   h.Secrets,
		Executor:  h.Executor,
		Reporters: h.Reporters,
	}
	if r.Executor == nil {
		r.Executor = &host.Executor{NoCgroup: h.NoCgroup}
	}
	return r, push, src, progress
}

// collect reads back what a run recorded.
func (h *harness) collect(res Result, sha, progress string) *outcome {
	t := h.t
	t.Helper()
	o := &outcome{t: t, store: h.store, res: res, sha: sha, progress: progress, bare: h.repo.Bare,
		dataRoot: h.dataRoot, runDir: res.RunDir, jobs: map[string]store.Job{}}
	var err error
	if o.run, err = h.store.GetRun(t.Context(), res.RunID); err != nil {
		t.Fatalf("get run: %v", err)
	}
	jobs, err := h.store.ListJobs(t.Context(), res.RunID)
	if err != nil {
		t.Fatalf("list jobs: %v", err)
	}
	for _, j := range jobs {
		o.jobs[j.JobID] = j
		o.order = append(o.order, j.JobID)
	}
	if o.sh, err = h.store.ListShEvents(t.Context(), res.RunID); err != nil {
		t.Fatalf("list sh events: %v", err)
	}
	if len(progress) > 4000 {
		progress = "..." + progress[len(progress)-4000:]
	}
	t.Logf("progress:\n%s", progress)
	return o
}

// outcome is what one run recorded.
type outcome struct {
	t        *testing.T
	store    *store.Store
	res      Result
	run      store.Run
	jobs     map[string]store.Job
	order    []string // job ids in the order their rows were written
	sh       []store.ShEvent
	progress string
	runDir   string
	dataRoot string
	sha      string
	bare     string
}

// job returns the row of job id; the test fails if there is none.
func (o *outcome) job(id string) store.Job {
	o.t.Helper()
	j, ok := o.jobs[id]
	if !ok {
		o.t.Fatalf("no jobs row for %q; rows: %v", id, o.order)
	}
	return j
}

// wantState checks a job's state and, for failed jobs, logs its error.
func (o *outcome) wantState(id string, want store.JobState) store.Job {
	o.t.Helper()
	j := o.job(id)
	if j.State != want {
		o.t.Errorf("job %s: state = %q (error %q), want %q", id, j.State, j.Error, want)
	}
	return j
}

// outputs decodes a job's outputs JSON; nil for NULL.
func (o *outcome) outputs(id string) map[string]any {
	o.t.Helper()
	j := o.job(id)
	if j.Outputs == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(j.Outputs), &m); err != nil {
		o.t.Fatalf("job %s outputs %q: %v", id, j.Outputs, err)
	}
	return m
}

// shEvents returns the sh_events rows of one job.
func (o *outcome) shEvents(job string) []store.ShEvent {
	var evs []store.ShEvent
	for _, e := range o.sh {
		if e.JobID == job {
			evs = append(evs, e)
		}
	}
	return evs
}

// jobDir is jobs/<job> of the run.
func (o *outcome) jobDir(job string) string {
	return filepath.Join(o.runDir, "jobs", job)
}

// shLogPath is the log of the n-th sh call of job.
func (o *outcome) shLogPath(job string, n int) string {
	return filepath.Join(o.jobDir(job), "sh-"+strconv.Itoa(n)+".log")
}

// lines decodes a CRI log into whole lines with crilog.NewReader.
func (o *outcome) lines(path string) []crilog.Entry {
	o.t.Helper()
	f, err := os.Open(path)
	if err != nil {
		o.t.Fatalf("open log: %v", err)
	}
	defer f.Close()
	var out []crilog.Entry
	r := crilog.NewReader(f)
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			o.t.Fatalf("read %s: %v", path, err)
		}
		out = append(out, e)
	}
}

// records parses every record of a CRI log file as it is, without
// joining P records.
func (o *outcome) records(path string) []crilog.Entry {
	o.t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		o.t.Fatalf("read log: %v", err)
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		o.t.Fatalf("%s does not end with a newline", path)
	}
	var out []crilog.Entry
	for i, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(data) == 0 {
			break
		}
		e, err := crilog.ParseLine(line)
		if err != nil {
			o.t.Fatalf("%s record %d %q: %v", path, i+1, line, err)
		}
		out = append(out, e)
	}
	return out
}

// text joins a log's lines as "stream: content" for messages and
// substring checks.
func text(entries []crilog.Entry) string {
	var b strings.Builder
	for _, e := range entries {
		b.WriteString(e.Stream + ": " + string(e.Content) + "\n")
	}
	return b.String()
}

// waitDead polls until pid no longer exists (a zombie still exists) and
// reports whether it went away in time.
func waitDead(pid int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// procState returns the state letter of pid from /proc, for messages.
func procState(pid int) string {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return "gone"
	}
	s := string(data)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2 : i+3]
	}
	return "?"
}

// readPid reads a pid a job wrote into its kept workspace.
func readPid(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("pid file %s: %v", path, err)
	}
	return pid
}

// readFileOrEmpty returns a file's content, or "" if it cannot be read.
func readFileOrEmpty(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}
