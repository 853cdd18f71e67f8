package report_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// fixture is a data root with a real database.
type fixture struct {
	t     *testing.T
	root  datadir.Root
	store *store.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := datadir.Root(t.TempDir())
	s, err := store.Open(t.Context(), root.DB())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &fixture{t: t, root: root, store: s}
}

// must fails the test on err.
func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// run records a run of repo and ref queued at queuedMS (and, unless
// pending, started 1000 ms later) and returns it as stored.
func (f *fixture) run(id, repo, ref string, state store.RunState, queuedMS int64) store.Run {
	f.t.Helper()
	r := store.Run{
		ID: id, Repo: repo, Ref: ref, SHA: strings.Repeat("c", 40), Trigger: "push",
		PushedAtMS: queuedMS, QueuedAtMS: queuedMS, State: store.RunPending,
	}
	f.must(f.store.CreateRun(f.t.Context(), r))
	if state != store.RunPending {
		f.must(f.store.StartRun(f.t.Context(), id, queuedMS+1000, ""))
	}
	if state.Ended() {
		kind := store.FailureKind("")
		if state == store.RunFailed {
			kind = store.FailJob
		}
		f.must(f.store.FinishRun(f.t.Context(), id, state, kind, "", queuedMS+3500))
	}
	got, err := f.store.GetRun(f.t.Context(), id)
	f.must(err)
	return got
}

// log is a CRI log of a job of a run, written by crilog.Writer.
func (f *fixture) log(path string) *crilog.Writer {
	f.t.Helper()
	f.must(os.MkdirAll(filepath.Dir(path), 0o755))
	w, err := crilog.Create(path)
	f.must(err)
	f.t.Cleanup(func() { w.Close() })
	return w
}

// write writes s to stream of w.
func (f *fixture) write(w *crilog.Writer, stream, s string) {
	f.t.Helper()
	_, err := w.Stream(stream).Write([]byte(s))
	f.must(err)
}
