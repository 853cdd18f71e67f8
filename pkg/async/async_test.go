package async_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/async"
	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

func newRunner(t *testing.T) *runner.Runner {
	t.Helper()
	dir := t.TempDir()
	s, err := store.Open(t.Context(), datadir.Root(dir).DB())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &runner.Runner{Store: s, DataRoot: dir}
}

func pushes() []runner.Push {
	at := time.UnixMilli(1_800_000_000_000)
	return []runner.Push{
		{Repo: "r.git", Ref: "refs/heads/main", SHA: strings.Repeat("a", 40), PreviousSHA: strings.Repeat("b", 40), Trigger: "push", PushedAt: at, Options: []string{"fast"}},
		{Repo: "r.git", Ref: "refs/heads/dev", SHA: strings.Repeat("c", 40), Trigger: "push", PushedAt: at},
	}
}

// waitFile waits for a file the worker writes when it is done.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	for range 500 {
		if data, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(data), "done\n") {
			return string(data)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the worker never wrote %s", path)
	return ""
}

func TestQueue(t *testing.T) {
	rn := newRunner(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "worker.out")
	// The worker: a real detached process that reports its session, its
	// arguments and the runs it was handed.
	worker := filepath.Join(dir, "worker")
	script := "#!/bin/sh\n" +
		"echo to the log\n" +
		"{ echo \"args $*\"; echo \"sid $(ps -o sid= -p $$ | tr -d ' ') pid $$\"; " +
		"env | grep -c '^KEEP=me$'; echo done; } > " + out + ".tmp\n" +
		"cat > " + out + ".runs; mv " + out + ".tmp " + out + "\n"
	if err := os.WriteFile(worker, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	log := datadir.Root(rn.DataRoot).AsyncLog()
	w := async.Worker{Bin: worker, Args: []string{"--git-dir", "/r.git", "async-worker"},
		Env: []string{"KEEP=me", "PATH=" + os.Getenv("PATH")}, Dir: dir, Log: log}
	// Push options are the pusher's to make long: 300 KB of them would
	// not fit in one environment variable (Linux caps one at 128 KiB).
	ps := pushes()
	big := strings.Repeat("o", 60_000)
	for i := range ps {
		ps[i].Options = append(ps[i].Options, big, big, big)
	}
	runs, warnings, err := async.Queue(t.Context(), rn, ps, w)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Queue: %v %v", err, warnings)
	}
	if len(runs) != 2 || runs[0].Ref != "refs/heads/main" || runs[1].Commit != strings.Repeat("c", 40) {
		t.Fatalf("runs %+v", runs)
	}
	got := waitFile(t, out)
	lines := strings.Split(got, "\n")
	if lines[0] != "args --git-dir /r.git async-worker" {
		t.Errorf("worker args: %q", lines[0])
	}
	var sid, pid int
	if _, err := fmt.Sscanf(lines[1], "sid %d pid %d", &sid, &pid); err != nil || sid != pid {
		t.Errorf("the worker is not a session leader: %q", lines[1])
	}
	if !strings.Contains(got, "\n1\n") {
		t.Errorf("the worker lost the environment:\n%s", got)
	}

	// The worker's side: decode what it was handed on its stdin.
	f, err := os.Open(out + ".runs")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	handed, err := async.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(handed) != 2 || handed[0].RunID != runs[0].RunID || handed[0].Previous != strings.Repeat("b", 40) ||
		handed[0].Options[0] != "fast" || len(handed[1].Options) != 3 || handed[1].Options[2] != big || !handed[0].PushedAt.Equal(runs[0].PushedAt) {
		t.Errorf("decoded %d runs, want %d with all their options", len(handed), len(runs))
	}
	// Until the worker adopts them, the runs are the worker's.
	for _, r := range runs {
		row, err := rn.Store.GetRun(t.Context(), r.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if row.State != store.RunPending || row.OwnerPID != pid {
			t.Errorf("run %s: state %s owner %d, want pending, owned by the worker %d", r.RunID, row.State, row.OwnerPID, pid)
		}
	}
	mine, skipped := async.Adopt(t.Context(), rn.Store, handed)
	if len(mine) != 2 || len(skipped) != 0 {
		t.Errorf("Adopt: %d runs, skipped %v", len(mine), skipped)
	}
	row, _ := rn.Store.GetRun(t.Context(), runs[0].RunID)
	if row.OwnerPID != os.Getpid() {
		t.Errorf("owner %d after Adopt, want this process %d", row.OwnerPID, os.Getpid())
	}
	if data, _ := os.ReadFile(log); string(data) != "to the log\n" {
		t.Errorf("async.log: %q", data)
	}
}

func TestQueue_WorkerDoesNotStart(t *testing.T) {
	rn := newRunner(t)
	w := async.Worker{Bin: filepath.Join(t.TempDir(), "missing"), Log: datadir.Root(rn.DataRoot).AsyncLog()}
	runs, _, err := async.Queue(t.Context(), rn, pushes(), w)
	if err == nil || !strings.Contains(err.Error(), "quire.async=false") || runs != nil {
		t.Fatalf("Queue: runs %v, error %v; want an error saying how to run in the foreground", runs, err)
	}
	// Nobody will run them: their rows say so.
	all, err := rn.Store.ListRuns(context.Background(), store.RunFilter{})
	if err != nil || len(all) != 2 {
		t.Fatalf("runs %v %v", all, err)
	}
	for _, r := range all {
		if r.State != store.RunFailed || r.FailureKind != store.FailInternal || !strings.Contains(r.Error, "start the background worker") {
			t.Errorf("run %s: %s/%s %q", r.ID, r.State, r.FailureKind, r.Error)
		}
	}
}

func TestDecode_NotByHand(t *testing.T) {
	if _, err := async.Decode(strings.NewReader("")); err == nil || !strings.Contains(err.Error(), "no runs on standard input") {
		t.Errorf("error %v, want one saying no runs came", err)
	}
}
