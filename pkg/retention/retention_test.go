package retention

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// fixture is a data root with a real store.
type fixture struct {
	t    *testing.T
	root datadir.Root
	s    *store.Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root := datadir.Root(t.TempDir())
	s, err := store.Open(t.Context(), root.DB())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &fixture{t: t, root: root, s: s}
}

// runID is a valid run id (a UUIDv7) numbered n; ids sort by n.
func runID(n int) string { return fmt.Sprintf("01a00000-0000-7000-8000-%012x", n) }

// addRun records run n of repo, queued at n seconds, in state, and
// writes its directory holding size bytes.
func (f *fixture) addRun(n int, repo string, state store.RunState, size int) string {
	f.t.Helper()
	id := runID(n)
	ms := int64(n) * 1000
	r := store.Run{ID: id, Repo: repo, Ref: "refs/heads/main", SHA: strings.Repeat("a", 40), Trigger: "push",
		PushedAtMS: ms, QueuedAtMS: ms, State: store.RunPending}
	if err := f.s.CreateRun(f.t.Context(), r); err != nil {
		f.t.Fatal(err)
	}
	if state != store.RunPending {
		if err := f.s.StartRun(f.t.Context(), id, ms, ""); err != nil {
			f.t.Fatal(err)
		}
	}
	if state.Ended() {
		if err := f.s.FinishRun(f.t.Context(), id, state, "", "", ms+500); err != nil {
			f.t.Fatal(err)
		}
	}
	f.writeDir(string(f.root.Run(id)), size)
	return id
}

// writeDir writes a run directory whose sh log holds size bytes.
func (f *fixture) writeDir(dir string, size int) {
	f.t.Helper()
	log := datadir.RunDir(dir).Job("build").ShLog(1)
	if err := os.MkdirAll(filepath.Dir(log), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(log, []byte(strings.Repeat("x", size)), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// rows lists the ids that have a row, sorted.
func (f *fixture) rows() []string {
	f.t.Helper()
	states, err := f.s.RunStates(f.t.Context())
	if err != nil {
		f.t.Fatal(err)
	}
	ids := []string{}
	for id := range states {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// entries lists a directory, which may not exist.
func (f *fixture) entries(dir string) []string {
	f.t.Helper()
	names, err := readDirNames(dir)
	if err != nil {
		f.t.Fatal(err)
	}
	return names
}

// wantRuns checks that exactly ids have a row and a directory, and that
// the trash is empty.
func (f *fixture) wantRuns(ids []string) {
	f.t.Helper()
	want := slices.Sorted(slices.Values(ids))
	if got := f.rows(); !slices.Equal(got, want) {
		f.t.Errorf("rows %v, want %v", got, want)
	}
	dirs := slices.DeleteFunc(f.entries(f.root.Runs()), func(n string) bool { return n == ".trash" })
	if !slices.Equal(dirs, want) {
		f.t.Errorf("run directories %v, want %v", dirs, want)
	}
	if got := f.entries(f.root.Trash()); len(got) > 0 {
		f.t.Errorf("trash holds %v, want nothing", got)
	}
}

func removedIDs(c Count) []string {
	ids := []string{}
	for _, r := range c.Removed {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestDelete(t *testing.T) {
	t.Run("RowAndDirectory", func(t *testing.T) {
		f := newFixture(t)
		id := f.addRun(1, "repo.git", store.RunComplete, 100)
		keep := f.addRun(2, "repo.git", store.RunComplete, 10)
		n, err := Delete(t.Context(), f.s, f.root, id)
		if err != nil || n != 100 {
			t.Errorf("Delete = %d, %v; want 100 bytes", n, err)
		}
		f.wantRuns([]string{keep})
	})
	t.Run("NoDirectory", func(t *testing.T) {
		f := newFixture(t)
		id := f.addRun(1, "repo.git", store.RunFailed, 0)
		os.RemoveAll(string(f.root.Run(id)))
		if n, err := Delete(t.Context(), f.s, f.root, id); err != nil || n != 0 {
			t.Errorf("Delete = %d, %v; want 0 bytes", n, err)
		}
		f.wantRuns(nil)
	})
	t.Run("NoRow", func(t *testing.T) {
		f := newFixture(t)
		id := runID(1)
		f.writeDir(string(f.root.Run(id)), 7)
		if n, err := Delete(t.Context(), f.s, f.root, id); err != nil || n != 7 {
			t.Errorf("Delete = %d, %v; want 7 bytes", n, err)
		}
		f.wantRuns(nil)
	})
	t.Run("FailsBeforeTheMove", func(t *testing.T) {
		// A trash that cannot be made: nothing changes, and the error
		// names the run.
		f := newFixture(t)
		id := f.addRun(1, "repo.git", store.RunComplete, 10)
		if err := os.WriteFile(f.root.Trash(), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Delete(t.Context(), f.s, f.root, id); err == nil || !strings.Contains(err.Error(), "delete run "+id) {
			t.Errorf("Delete with no room for a trash: %v, want an error naming the run", err)
		}
		if got := f.rows(); !slices.Equal(got, []string{id}) {
			t.Errorf("rows %v, want the run's row", got)
		}
		if _, err := os.Stat(string(f.root.Run(id))); err != nil {
			t.Errorf("the run's directory: %v", err)
		}
	})
	t.Run("InterruptedAfterTheMove", func(t *testing.T) {
		// A gc whose context ends after the move (SIGINT): the row
		// outlives the directory's place in runs/, and the next sweep
		// finishes the delete.
		f := newFixture(t)
		id := f.addRun(1, "repo.git", store.RunComplete, 30)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := Delete(ctx, f.s, f.root, id); !errors.Is(err, context.Canceled) {
			t.Fatalf("Delete with an ended context: %v, want context.Canceled", err)
		}
		if got := f.entries(f.root.Trash()); !slices.Equal(got, []string{id}) {
			t.Errorf("trash %v, want the run's directory", got)
		}
		if got := f.rows(); !slices.Equal(got, []string{id}) {
			t.Errorf("rows %v, want the run's row still there", got)
		}
		c, err := Sweep(t.Context(), f.s, f.root)
		if err != nil || c.Runs != 1 || c.Bytes != 30 || !slices.Equal(removedIDs(c), []string{id}) {
			t.Errorf("Sweep = %+v, %v; want the run, 30 bytes", c, err)
		}
		f.wantRuns(nil)
	})
}

func TestExpire(t *testing.T) {
	f := newFixture(t)
	f1 := f.addRun(1, "foo.git", store.RunComplete, 1)
	b1 := f.addRun(2, "bar.git", store.RunFailed, 2)
	f2 := f.addRun(3, "foo.git", store.RunSuperseded, 4)
	f3 := f.addRun(4, "foo.git", store.RunActive, 8)
	b2 := f.addRun(5, "bar.git", store.RunComplete, 16)
	f4 := f.addRun(6, "foo.git", store.RunPending, 32)

	filter := store.ExpireFilter{Repo: "foo.git", Keep: 1}
	dry, err := Expired(t.Context(), f.s, f.root, filter)
	if err != nil {
		t.Fatal(err)
	}
	f.wantRuns([]string{f1, b1, f2, f3, b2, f4}) // Expired deletes nothing
	c, err := Expire(t.Context(), f.s, f.root, filter)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(dry, c) {
		t.Errorf("Expired = %+v, Expire = %+v; want the same", dry, c)
	}
	// The newest of foo.git is pending and counts as kept; active and
	// pending runs are never deleted.
	want := []Removed{{ID: f1, Repo: "foo.git", Bytes: 1}, {ID: f2, Repo: "foo.git", Bytes: 4}}
	if c.Runs != 2 || c.Bytes != 5 || !slices.Equal(c.Removed, want) {
		t.Errorf("Expire = %+v, want %+v", c, want)
	}
	f.wantRuns([]string{b1, f3, b2, f4})

	c, err = Expire(t.Context(), f.s, f.root, store.ExpireFilter{FinishedBeforeMS: 5000})
	if err != nil || !slices.Equal(removedIDs(c), []string{b1}) {
		t.Errorf("Expire of runs finished before 5 s = %+v, %v; want %s", c, err, b1)
	}
	f.wantRuns([]string{f3, b2, f4})
}

func TestKeep(t *testing.T) {
	t.Run("Zero", func(t *testing.T) {
		f := newFixture(t)
		id := f.addRun(1, "repo.git", store.RunComplete, 1)
		if c, err := Keep(t.Context(), f.s, f.root, 0, ""); err != nil || c.Runs != 0 {
			t.Errorf("Keep 0 = %+v, %v; want nothing deleted", c, err)
		}
		f.wantRuns([]string{id})
	})
	t.Run("FinishesTheTrashFirst", func(t *testing.T) {
		f := newFixture(t)
		old := f.addRun(1, "repo.git", store.RunComplete, 1)
		trashed := f.addRun(2, "repo.git", store.RunComplete, 1)
		newest := f.addRun(3, "repo.git", store.RunComplete, 1)
		other := f.addRun(4, "other.git", store.RunComplete, 1)
		if err := os.MkdirAll(f.root.Trash(), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(string(f.root.Run(trashed)), f.root.TrashRun(trashed)); err != nil {
			t.Fatal(err)
		}
		c, err := Keep(t.Context(), f.s, f.root, 1, "repo.git")
		if err != nil || !slices.Equal(removedIDs(c), []string{old}) {
			t.Errorf("Keep 1 = %+v, %v; want %s deleted", c, err, old)
		}
		f.wantRuns([]string{newest, other})
	})
}

func TestSweep(t *testing.T) {
	f := newFixture(t)
	withRow := f.addRun(1, "repo.git", store.RunComplete, 3)
	kept := f.addRun(2, "repo.git", store.RunComplete, 1)
	noRow := runID(3)
	if err := os.MkdirAll(f.root.Trash(), 0o755); err != nil {
		t.Fatal(err)
	}
	// A gc that died after the move, one that died after deleting the
	// row, and something in the trash that is not a run's.
	if err := os.Rename(string(f.root.Run(withRow)), f.root.TrashRun(withRow)); err != nil {
		t.Fatal(err)
	}
	f.writeDir(f.root.TrashRun(noRow), 5)
	f.writeDir(f.root.TrashRun("not-a-run"), 1)
	stray := runID(4)
	f.writeDir(string(f.root.Run(stray)), 1)

	c, err := Sweep(t.Context(), f.s, f.root)
	want := []Removed{{ID: withRow, Bytes: 3}, {ID: noRow, Bytes: 5}}
	if err != nil || c.Runs != 2 || c.Bytes != 8 || !slices.Equal(c.Removed, want) {
		t.Errorf("Sweep = %+v, %v; want %+v", c, err, want)
	}
	// Sweep leaves directories without a row to Leftovers.
	if got := f.rows(); !slices.Equal(got, []string{kept}) {
		t.Errorf("rows %v, want %v", got, []string{kept})
	}
	if got := f.entries(f.root.Runs()); !slices.Equal(got, []string{".trash", kept, stray}) {
		t.Errorf("runs/ holds %v", got)
	}
	if got := f.entries(f.root.Trash()); !slices.Equal(got, []string{"not-a-run"}) {
		t.Errorf("trash holds %v, want only what is not a run's", got)
	}
	if c, err := Sweep(t.Context(), f.s, f.root); err != nil || c.Runs != 0 {
		t.Errorf("second Sweep = %+v, %v; want nothing", c, err)
	}
}

func TestLeftovers(t *testing.T) {
	f := newFixture(t)
	run := f.addRun(1, "repo.git", store.RunComplete, 1)
	trashed := runID(2)
	f.writeDir(f.root.TrashRun(trashed), 2)
	old, fresh := runID(3), runID(4)
	f.writeDir(string(f.root.Run(old)), 4)
	f.writeDir(string(f.root.Run(fresh)), 8)
	f.writeDir(string(f.root.Run("not-a-run")), 1)
	file := runID(5)
	if err := os.WriteFile(string(f.root.Run(file)), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Ages measured against a given now: old is exactly StrayAge old,
	// fresh a millisecond younger, and the run with a row older still.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for dir, mtime := range map[string]time.Time{
		string(f.root.Run(run)):   now.Add(-time.Hour),
		string(f.root.Run(old)):   now.Add(-StrayAge),
		string(f.root.Run(fresh)): now.Add(-StrayAge + time.Millisecond),
	} {
		if err := os.Chtimes(dir, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}

	before := f.entries(f.root.Runs())
	dry, err := FindLeftovers(t.Context(), f.s, f.root, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.entries(f.root.Runs()); !slices.Equal(got, before) || len(f.entries(f.root.Trash())) != 1 {
		t.Errorf("FindLeftovers removed something: runs/ holds %v, had %v", got, before)
	}
	c, err := Leftovers(t.Context(), f.s, f.root, now)
	if !reflect.DeepEqual(dry, c) {
		t.Errorf("FindLeftovers = %+v, Leftovers = %+v; want the same", dry, c)
	}
	want := []Removed{{ID: trashed, Bytes: 2}, {ID: old, Bytes: 4}}
	if err != nil || c.Runs != 2 || c.Bytes != 6 || !slices.Equal(c.Removed, want) {
		t.Errorf("Leftovers = %+v, %v; want %+v", c, err, want)
	}
	if got, want := f.entries(f.root.Runs()), []string{".trash", run, fresh, file, "not-a-run"}; !slices.Equal(got, want) {
		t.Errorf("runs/ holds %v, want %v", got, want)
	}
	if got := f.rows(); !slices.Equal(got, []string{run}) {
		t.Errorf("rows %v, want %s", got, run)
	}
}
