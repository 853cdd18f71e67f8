package async_test

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/async"
	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/runner"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// queueUnstartable queues pushes with a worker that cannot start: the
// runs end failed at once, as async runs nobody has seen.
func queueUnstartable(t *testing.T, rn *runner.Runner, pushes []runner.Push) {
	t.Helper()
	w := async.Worker{Bin: filepath.Join(t.TempDir(), "missing"), Log: datadir.Root(rn.DataRoot).AsyncLog()}
	if _, _, err := async.Queue(t.Context(), rn, pushes, w); err == nil {
		t.Fatal("Queue with a missing worker: no error")
	}
}

func TestFeedback(t *testing.T) {
	rn := newRunner(t)
	p := pushes()
	p[1].Ref = "refs/heads/\x1b[31mred"
	queueUnstartable(t, rn, p)
	runs, err := rn.Store.ListRuns(t.Context(), store.RunFilter{})
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs %v %v", runs, err)
	}

	var out bytes.Buffer
	if err := async.Feedback(t.Context(), rn.Store, "r.git", "quire-hook", &out, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	// Oldest first; they were queued in input order.
	want := fmt.Sprintf("quire: earlier run %s refs/heads/main at aaaaaaaaaa: failed (internal) — quire-hook logs %s\n"+
		"quire: earlier run %s refs/heads/\\x1b[31mred at cccccccccc: failed (internal) — quire-hook logs %s\n",
		runs[1].ID, runs[1].ID, runs[0].ID, runs[0].ID)
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	if err := async.Feedback(t.Context(), rn.Store, "r.git", "quire-hook", &out, time.Now().UnixMilli()); err != nil || out.Len() != 0 {
		t.Errorf("second Feedback: %q %v, want nothing", out.String(), err)
	}
}

func TestFeedback_More(t *testing.T) {
	rn := newRunner(t)
	var ps []runner.Push
	for i := range async.MaxFeedback + 2 {
		p := pushes()[0]
		p.Repo = "team/my repo.git"
		p.Ref = fmt.Sprintf("refs/heads/b%02d", i)
		ps = append(ps, p)
	}
	queueUnstartable(t, rn, ps)
	var out bytes.Buffer
	if err := async.Feedback(t.Context(), rn.Store, "team/my repo.git", "quire-hook --git-dir /srv/x.git", &out, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != async.MaxFeedback+1 {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), async.MaxFeedback+1, out.String())
	}
	if !strings.Contains(lines[0], " refs/heads/b02 ") || !strings.Contains(lines[async.MaxFeedback-1], " refs/heads/b11 ") {
		t.Errorf("want the newest ten, newest last:\n%s", out.String())
	}
	if got, want := lines[async.MaxFeedback], "quire: and 2 more: quire-hook --git-dir /srv/x.git runs --repo 'team/my repo.git'"; got != want {
		t.Errorf("last line %q, want %q", got, want)
	}
}

type brokenPipe struct{}

func (brokenPipe) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestFeedback_WriteFails(t *testing.T) {
	rn := newRunner(t)
	queueUnstartable(t, rn, pushes())
	if err := async.Feedback(t.Context(), rn.Store, "r.git", "quire-hook", brokenPipe{}, time.Now().UnixMilli()); err == nil || !strings.Contains(err.Error(), "broken pipe") {
		t.Fatalf("Feedback to a broken pipe: %v", err)
	}
	// Nobody saw them: the next push prints them.
	var out bytes.Buffer
	if err := async.Feedback(t.Context(), rn.Store, "r.git", "quire-hook", &out, time.Now().UnixMilli()); err != nil || strings.Count(out.String(), "earlier run") != 2 {
		t.Errorf("after a failed write: %q %v, want both runs", out.String(), err)
	}
}

func TestFeedback_Superseded(t *testing.T) {
	rn := newRunner(t)
	// A worker that takes its runs and exits leaves them pending, as a
	// newer push finds them. (It must read them: one that exits before
	// the hand-over is over fails it, and its runs are recorded failed.)
	w := async.Worker{Bin: "/bin/sh", Args: []string{"-c", "cat >/dev/null"}, Log: datadir.Root(rn.DataRoot).AsyncLog(), Dir: t.TempDir()}
	runs, _, err := async.Queue(t.Context(), rn, pushes()[:1], w)
	if err != nil || len(runs) != 1 {
		t.Fatalf("Queue: %v %v", runs, err)
	}
	var out bytes.Buffer
	if err := async.Feedback(t.Context(), rn.Store, "r.git", "quire-hook", &out, time.Now().UnixMilli()); err != nil || out.Len() != 0 {
		t.Fatalf("Feedback of a pending run: %q %v, want nothing", out.String(), err)
	}
	id := runs[0].RunID
	if err := rn.Store.FinishRun(t.Context(), id, store.RunSuperseded, store.FailCanceled, "superseded by run x", time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if err := async.Feedback(t.Context(), rn.Store, "r.git", "quire-hook", &out, time.Now().UnixMilli()); err != nil {
		t.Fatal(err)
	}
	if want := "quire: earlier run " + id + " refs/heads/main at aaaaaaaaaa: superseded — quire-hook logs " + id + "\n"; out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
