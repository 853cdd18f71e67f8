package hook_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/internal/gittest"
	"github.com/quire-ci/quire-hook/internal/mounttest"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// bin is the quire-hook binary built once for every end-to-end test.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "quire-hook-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	bin = filepath.Join(dir, "quire-hook")
	build := exec.Command("go", "build", "-o", bin, "./quire-hook")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build quire-hook:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// repo is a bare repository with the hook installed and a work tree.
type repo struct {
	*gittest.Fixture
	t *testing.T
}

func newRepo(t *testing.T) *repo {
	t.Helper()
	r := &repo{Fixture: gittest.New(t), t: t}
	// Before waitWorkers's cleanup, so it runs after: an async worker
	// may still have its workspace mounted until it is done.
	mounttest.Check(t, filepath.Dir(r.Bare))
	if out, code := r.inProcess("", "--git-dir", r.Bare, "install"); code != 0 {
		t.Fatalf("install: exit %d: %s", code, out)
	}
	// An async worker (its working directory is the bare repo) may still
	// write the last run's git note after the run's row is final; the
	// repository must outlive it.
	t.Cleanup(func() { waitWorkers(t, r.Bare) })
	return r
}

// waitWorkers waits until no process works in dir, for 30 s at most.
func waitWorkers(t *testing.T, dir string) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids := workersIn(dir)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes %v still work in %s 30 s after the test", pids, dir)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// workersIn lists the processes, other than this one, whose working
// directory is dir.
func workersIn(dir string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && cwd == dir {
			if st, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); !strings.Contains(string(st), ") Z ") {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// quire runs the binary with stdin and returns its combined output and
// exit code.
func (r *repo) quire(stdin string, args ...string) (string, int) {
	r.t.Helper()
	return runBin(r.t, r.Env, r.Work, stdin, args...)
}

func runBin(t *testing.T, env []string, dir, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("run quire-hook %v: %v", args, err)
		}
	}
	text := out.String()
	if strings.Contains(text, "goroutine ") || strings.Contains(text, "panic:") {
		t.Errorf("quire-hook %v printed a Go panic or stack trace:\n%s", args, text)
	}
	return text, cmd.ProcessState.ExitCode()
}

// push commits the work tree and pushes it; it returns git's output.
func (r *repo) push(args ...string) string {
	r.t.Helper()
	if len(args) == 0 {
		args = []string{"origin", "main"}
	}
	out, err := r.Push(args...)
	if err != nil {
		r.t.Fatalf("git push %v: %v\n%s", args, err, out)
	}
	return out
}

// records opens the repository's database.
func (r *repo) records() *store.Store {
	r.t.Helper()
	s, err := store.Open(context.Background(), filepath.Join(r.Bare, "quire", "quire.db"))
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { s.Close() })
	return s
}

// runs lists every recorded run, newest first.
func (r *repo) runs() []store.Run {
	r.t.Helper()
	runs, err := r.records().ListRuns(context.Background(), store.RunFilter{})
	if err != nil {
		r.t.Fatal(err)
	}
	return runs
}

// lastRun returns the newest run with its jobs and sh events.
func (r *repo) lastRun() (store.Run, map[string]store.Job, []store.ShEvent) {
	r.t.Helper()
	runs := r.runs()
	if len(runs) == 0 {
		r.t.Fatal("no run recorded")
	}
	s := r.records()
	jobs, err := s.ListJobs(context.Background(), runs[0].ID)
	if err != nil {
		r.t.Fatal(err)
	}
	byID := make(map[string]store.Job)
	for _, j := range jobs {
		byID[j.JobID] = j
	}
	events, err := s.ListShEvents(context.Background(), runs[0].ID)
	if err != nil {
		r.t.Fatal(err)
	}
	return runs[0], byID, events
}

// runDir is where a run's logs are.
func (r *repo) runDir(id string) string { return filepath.Join(r.Bare, "quire", "runs", id) }

func wantContains(t *testing.T, got, want string) {
	t.Helper()
	if !strings.Contains(got, want) {
		t.Errorf("output lacks %q:\n%s", want, got)
	}
}
