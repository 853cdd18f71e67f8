package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/store"
	"github.com/quire-ci/quire-hook/pkg/web"
)

// hostile is text a pusher controls: markup, an attribute break-out,
// control bytes, an escape sequence and invalid UTF-8.
const hostile = "\"'><img src=x onerror=alert(1)><script>alert(1)</script><svg onload=alert(2)>\x01\x1b[31m\xff"

// hostileJob is a job id that is markup.
const hostileJob = `j"><img src=x onerror=alert(3)>`

// hostileRef is a branch name git accepts (no space, no control byte)
// that breaks out of an attribute.
const hostileRef = `refs/heads/x"><svg/onload=alert(1)>`

// The runs of the fixture, by state; runID(n) makes the ids.
var (
	idComplete   = runID(1)
	idFailed     = runID(2)
	idSuperseded = runID(3)
	idActive     = runID(4) // queued now, the newest
	idPending    = runID(5)
	idOld        = runID(6) // no pipeline_jobs rows, as before they were kept
	idTeam2      = runID(7)
)

// runID is a UUIDv7-like id, distinct per n, ordered by n.
func runID(n int) string { return fmt.Sprintf("01936f00-0000-7000-8000-%012d", n) }

// logLines is how many lines sh-2 of job build of idComplete has.
const logLines = 2500

// fixture is a directory of repositories with their data roots, runs in
// every state, jobs, sh calls and logs, and a server over them.
type fixture struct {
	dir      string
	reposDir string
	team1    string // team1/tools.git, its own data root
	team2    string // team2/tools.git, its own data root
	st1, st2 *store.Store
	root1    datadir.Root
	srv      *web.Server
	hs       *httptest.Server
	t0       int64 // ms of the first run
}

// newFixture builds the fixture and a server with opts (Sources is
// filled in).
func newFixture(t *testing.T, opts web.Options) *fixture {
	t.Helper()
	ctx := t.Context()
	f := &fixture{dir: t.TempDir()}
	f.reposDir = filepath.Join(f.dir, "repos")
	f.team1 = gitInit(t, filepath.Join(f.reposDir, "team1", "tools.git"))
	f.team2 = gitInit(t, filepath.Join(f.reposDir, "team2", "tools.git"))
	gitInit(t, filepath.Join(f.reposDir, "empty.git")) // no database: not listed
	f.root1 = datadir.Own(f.team1)
	f.st1 = openStore(t, f.root1)
	f.st2 = openStore(t, datadir.Own(f.team2))
	f.t0 = time.Now().Add(-time.Hour).UnixMilli()

	host, _ := os.Hostname()
	mk := func(st *store.Store, id, ref string, at int64, state store.RunState) store.Run {
		r := store.Run{ID: id, Repo: "tools.git", Ref: ref, SHA: "0123456789abcdef0123456789abcdef01234567",
			Trigger: "push", PushedAtMS: at, QueuedAtMS: at, State: store.RunPending,
			Pusher: hostile, Author: hostile + " <a@b>", Subject: hostile}
		must(t, st.CreateRun(ctx, r))
		if state == store.RunPending {
			return r
		}
		must(t, st.StartRun(ctx, id, at+10, ""))
		if state == store.RunActive {
			return r
		}
		kind := store.FailureKind("")
		msg := ""
		if state != store.RunComplete {
			kind, msg = store.FailureKind("job"), hostile
			if state == store.RunSuperseded {
				kind = store.FailCanceled
			}
		}
		must(t, st.FinishRun(ctx, id, state, kind, msg, at+5000))
		return r
	}
	mk(f.st1, idComplete, "refs/heads/main", f.t0, store.RunComplete)
	mk(f.st1, idFailed, hostileRef, f.t0+1000, store.RunFailed)
	mk(f.st1, idSuperseded, "refs/heads/dev", f.t0+2000, store.RunSuperseded)
	mk(f.st1, idOld, "refs/tags/v1", f.t0+3000, store.RunFailed)
	mk(f.st1, idPending, "refs/heads/dev", f.t0+5000, store.RunPending)
	mk(f.st2, idTeam2, "refs/heads/main", f.t0+6000, store.RunFailed)
	// The active run is owned by this process, so it is not "gone": it
	// was queued after the process started (proc.Owns).
	now := time.Now().UnixMilli()
	must(t, f.st1.CreateRun(ctx, store.Run{ID: idActive, Repo: "tools.git", Ref: "refs/heads/main",
		SHA: "89abcdef0123456789abcdef0123456789abcdef", Trigger: "push", PushedAtMS: now,
		QueuedAtMS: now, State: store.RunPending, OwnerPID: os.Getpid(), OwnerHost: host,
		Subject: hostile}))
	must(t, f.st1.StartRun(ctx, idActive, now+1, ""))

	// The complete run: build (outputs, two sh calls), test (failed),
	// deploy declared and never run.
	must(t, f.st1.RecordPipeline(ctx, idComplete, []store.PipelineJob{
		{JobID: "build"}, {JobID: "test", Inputs: []string{"build"}}, {JobID: "deploy", Inputs: []string{"test", "src/"}}}))
	zero, one := 0, 1
	must(t, f.st1.StartJob(ctx, idComplete, "build", f.t0+100))
	must(t, f.st1.AddShEvent(ctx, store.ShEvent{RunID: idComplete, JobID: "build", Seq: 1, StartedAtMS: f.t0 + 200,
		FinishedAtMS: f.t0 + 300, Cmd: "echo " + hostile, StdoutBytes: 10}))
	must(t, f.st1.AddShEvent(ctx, store.ShEvent{RunID: idComplete, JobID: "build", Seq: 2, StartedAtMS: f.t0 + 400,
		FinishedAtMS: f.t0 + 900, Cmd: "seq 2500", StdoutBytes: 10}))
	must(t, f.st1.FinishJob(ctx, idComplete, "build", store.JobComplete, &zero, "",
		`{"version":"1.2.3","note":"`+strings.ReplaceAll(hostile[:60], `"`, `\"`)+`"}`, f.t0+1000))
	must(t, f.st1.StartJob(ctx, idComplete, "test", f.t0+1100))
	must(t, f.st1.FinishJob(ctx, idComplete, "test", store.JobFailed, &one, hostile, "", f.t0+2000))
	_, err := f.st1.AddNotification(ctx, store.Notification{RunID: idComplete, Target: "webhook " + hostile,
		Event: "always", State: "failed", Attempts: 3, Error: hostile, CreatedAtMS: f.t0, FinishedAtMS: f.t0 + 10})
	must(t, err)

	jobDir := f.root1.Run(idComplete).Job("build")
	writeLog(t, jobDir.JobLog(), func(w *crilog.Writer) {
		must(t, w.Line("stdout", []byte("job says "+hostile)))
		must(t, w.Line("stderr", []byte("job warns")))
	})
	writeLog(t, jobDir.ShLog(1), func(w *crilog.Writer) {
		io.WriteString(w.Stream("stdout"), "\x1b[31mred\x1b[0m plain "+hostile+"\n")
		io.WriteString(w.Stream("stderr"), "an error line\n")
		io.WriteString(w.Stream("stdout"), strings.Repeat("x", 40<<10)+"\n") // P records
	})
	writeLog(t, jobDir.ShLog(2), func(w *crilog.Writer) {
		out := w.Stream("stdout")
		for i := 1; i <= logLines; i++ {
			fmt.Fprintf(out, "line %d\n", i)
		}
	})
	testDir := f.root1.Run(idComplete).Job("test")
	writeLog(t, testDir.JobLog(), func(w *crilog.Writer) { must(t, w.Line("stderr", []byte(hostile))) })

	// The failed run's pipeline declared a job whose id is markup, which
	// the hook would refuse: the database is what the server reads.
	must(t, f.st1.RecordPipeline(ctx, idFailed, []store.PipelineJob{{JobID: hostileJob, Inputs: []string{hostile}},
		{JobID: "after", Inputs: []string{hostileJob}}}))
	must(t, f.st1.StartJob(ctx, idFailed, hostileJob, f.t0+1100))
	must(t, f.st1.AddShEvent(ctx, store.ShEvent{RunID: idFailed, JobID: hostileJob, Seq: 1, StartedAtMS: f.t0 + 1200,
		FinishedAtMS: f.t0 + 1300, ExitCode: 2, Cmd: hostile}))
	must(t, f.st1.FinishJob(ctx, idFailed, hostileJob, store.JobFailed, &one, hostile, jsonText(t, map[string]string{hostile: hostile}), f.t0+1400))

	// The old run has jobs but no pipeline_jobs rows.
	must(t, f.st1.StartJob(ctx, idOld, "lint", f.t0+3100))
	must(t, f.st1.FinishJob(ctx, idOld, "lint", store.JobFailed, &one, "", "", f.t0+3200))

	// The active run: build running, test waiting.
	must(t, f.st1.RecordPipeline(ctx, idActive, []store.PipelineJob{{JobID: "build"}, {JobID: "test", Inputs: []string{"build"}}}))
	must(t, f.st1.StartJob(ctx, idActive, "build", now+2))

	if opts.Sources == nil {
		opts.Sources = &web.Sources{ReposDirs: []string{f.reposDir}}
	}
	f.start(t, opts)
	return f
}

// start starts a server with opts on f; a Poll of 0 is 20 ms.
func (f *fixture) start(t testing.TB, opts web.Options) {
	t.Helper()
	if opts.Poll == 0 {
		opts.Poll = 20 * time.Millisecond
	}
	srv, err := web.New(opts)
	must(t, err)
	f.srv = srv
	f.hs = httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Stop()
		f.hs.Close()
		opts.Sources.Close()
	})
}

// gitInit makes a bare repository at dir.
func gitInit(t testing.TB, dir string) string {
	t.Helper()
	if out, err := exec.Command("git", "init", "--bare", "-q", dir).CombinedOutput(); err != nil {
		t.Fatalf("git init --bare %s: %v: %s", dir, err, out)
	}
	return dir
}

// openStore opens (and creates) root's database for writing.
func openStore(t testing.TB, root datadir.Root) *store.Store {
	t.Helper()
	must(t, os.MkdirAll(string(root), 0o755))
	st, err := store.Open(context.Background(), root.DB())
	must(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

// writeLog creates the CRI log at path and writes it with fn.
func writeLog(t testing.TB, path string, fn func(w *crilog.Writer)) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o755))
	w, err := crilog.Create(path)
	must(t, err)
	fn(w)
	must(t, w.Close())
}

// jsonText is v as JSON.
func jsonText(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return string(b)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// response is a response read whole.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request to the fixture's server.
func (f *fixture) do(t testing.TB, method, path string, header ...string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, f.hs.URL+path, nil)
	must(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := f.hs.Client().Do(req)
	must(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(t, err)
	return response{status: res.StatusCode, header: res.Header, body: string(b)}
}

// get is a GET that must answer want.
func (f *fixture) get(t testing.TB, path string, want int) response {
	t.Helper()
	r := f.do(t, http.MethodGet, path)
	if r.status != want {
		t.Fatalf("GET %s: status %d, want %d; body:\n%s", path, r.status, want, short(r.body))
	}
	return r
}

func short(s string) string {
	if len(s) > 2000 {
		return s[:2000] + "..."
	}
	return s
}
