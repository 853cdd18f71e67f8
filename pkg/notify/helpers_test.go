package notify

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/config"
	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/redact"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// secretValue is a secret the test runs resolved; it must never leave
// the box.
const secretValue = "s3cr3t-deploy-value"

// fixture is a data root with a store, and the runs recorded in it.
type fixture struct {
	t     *testing.T
	root  datadir.Root
	store *store.Store
	clock int64 // ms; each run ends after the previous one
	out   syncBuffer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := t.TempDir()
	s, err := store.OpenRoot(t.Context(), root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &fixture{t: t, root: datadir.Root(root), store: s, clock: 1_700_000_000_000}
}

// runSpec describes a run to record.
type runSpec struct {
	id, ref, author, subject string
	state                    store.RunState
	kind                     store.FailureKind
	errMsg                   string
	logLines                 int // lines the failing sh call wrote (a failed run's job test)
}

// record writes the run: job build complete, and job test complete or
// failed with one sh call whose log has logLines lines, the last one
// holding the secret.
func (f *fixture) record(spec runSpec) store.Run {
	t, ctx := f.t, f.t.Context()
	t.Helper()
	f.clock += 10_000
	at := f.clock
	if spec.ref == "" {
		spec.ref = "refs/heads/main"
	}
	run := store.Run{ID: spec.id, Repo: "team/app.git", Ref: spec.ref, SHA: strings.Repeat("ab", 20), Trigger: "push",
		PushedAtMS: at, QueuedAtMS: at, State: store.RunPending, OwnerPID: 1, OwnerHost: "h",
		Pusher: "alice", Author: spec.author, Subject: spec.subject}
	must(t, f.store.CreateRun(ctx, run))
	must(t, f.store.StartRun(ctx, run.ID, at+1, ""))
	zero, two := 0, 2
	must(t, f.store.StartJob(ctx, run.ID, "build", at+2))
	must(t, f.store.FinishJob(ctx, run.ID, "build", store.JobComplete, &zero, "", "", at+1500))
	must(t, f.store.StartJob(ctx, run.ID, "test", at+1600))
	if spec.state == store.RunFailed && spec.kind == store.FailJob {
		must(t, f.store.AddShEvent(ctx, store.ShEvent{RunID: run.ID, JobID: "test", Seq: 1, StartedAtMS: at + 1700, FinishedAtMS: at + 1800, ExitCode: 0, Cmd: "go vet ./..."}))
		must(t, f.store.AddShEvent(ctx, store.ShEvent{RunID: run.ID, JobID: "test", Seq: 2, StartedAtMS: at + 1800, FinishedAtMS: at + 4000, ExitCode: 2, Cmd: "go test ./..."}))
		path := f.root.Run(run.ID).Job("test").ShLog(2)
		must(t, os.MkdirAll(filepath.Dir(path), 0o755))
		w, err := crilog.Create(path)
		must(t, err)
		for i := 1; i <= spec.logLines; i++ {
			line := fmt.Sprintf("log line %02d", i)
			if i == spec.logLines {
				line += " token=" + secretValue
			}
			must(t, w.Line("stdout", []byte(line)))
		}
		must(t, w.Close())
		must(t, f.store.FinishJob(ctx, run.ID, "test", store.JobFailed, &two, "sh exited 2", "", at+4100))
		must(t, f.store.FinishRun(ctx, run.ID, spec.state, spec.kind, spec.errMsg, at+5000))
	} else {
		if spec.state == store.RunComplete {
			must(t, f.store.FinishJob(ctx, run.ID, "test", store.JobComplete, &zero, "", "", at+4100))
		}
		if spec.state == store.RunComplete {
			must(t, f.store.FinishRun(ctx, run.ID, spec.state, spec.kind, spec.errMsg, at+5000))
		} else {
			_, err := f.store.AbortRun(ctx, run.ID, spec.state, spec.kind, spec.errMsg, at+5000)
			must(t, err)
		}
	}
	got, err := f.store.GetRun(ctx, run.ID)
	must(t, err)
	return got
}

// ended is what the runner tells a Reporter of run.
func (f *fixture) ended(run store.Run) runner.Ended {
	secrets := new(redact.Set)
	must(f.t, secrets.Add("deploy_token", secretValue))
	return runner.Ended{Run: run, Secrets: secrets, DataRoot: string(f.root), Progress: runner.NewProgress(&f.out, false, false)}
}

// reporter is a Reporter of the fixture's store with entries n and
// quick bounds, its environment holding the secret.
func (f *fixture) reporter(n ...config.Notify) *Reporter {
	return &Reporter{
		Store: f.store, Notify: n, Host: "ci.example",
		Env:     []string{"PATH=" + os.Getenv("PATH"), "DEPLOY_TOKEN=" + secretValue, "KEEP_ME=1"},
		Secrets: map[string]config.Secret{"hook_hmac": {Name: "hook_hmac", Value: "hmac-key-0123456789"}},
		Backoff: 1, // a nanosecond: tests count attempts, not time
	}
}

// notifications returns the rows of run id.
func (f *fixture) notifications(id string) []store.Notification {
	f.t.Helper()
	rows, err := f.store.ListNotifications(f.t.Context(), id)
	must(f.t, err)
	return rows
}

// script writes an executable shell script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "script")
	must(t, os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755))
	return p
}

// files returns the contents of the files in dir, sorted by name.
func files(t *testing.T, dir string, prefix string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, err)
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			must(t, err)
			out = append(out, string(b))
		}
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent deliveries.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
