package hook_test

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// runDirs lists the entries of the data root's runs directory.
func (r *repo) runDirs() []string {
	r.t.Helper()
	entries, err := os.ReadDir(filepath.Join(r.Bare, "quire", "runs"))
	if err != nil {
		r.t.Fatal(err)
	}
	names := []string{}
	for _, e := range entries {
		if e.Name() != ".trash" {
			names = append(names, e.Name())
		}
	}
	return names
}

// rowIDs lists the run ids with a row, sorted.
func (r *repo) rowIDs() []string {
	r.t.Helper()
	ids := []string{}
	for _, run := range r.runs() {
		ids = append(ids, run.ID)
	}
	sort.Strings(ids)
	return ids
}

// wantConsistent checks that the run directories are exactly the rows'
// plus extra, and that the trash holds no run.
func (r *repo) wantConsistent(extra ...string) {
	r.t.Helper()
	want := append(r.rowIDs(), extra...)
	sort.Strings(want)
	if got := r.runDirs(); !slices.Equal(got, want) {
		r.t.Errorf("run directories %v, want %v (the rows plus %v)", got, want, extra)
	}
	trash, _ := os.ReadDir(filepath.Join(r.Bare, "quire", "runs", ".trash"))
	for _, e := range trash {
		if e.Name() != "not-a-run" {
			r.t.Errorf("the trash still holds %s", e.Name())
		}
	}
}

func TestGC(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(okPipeline)
	r.Commit("one")
	r.push()
	replays := func(n int) {
		for range n {
			if out, code := r.quire("", "--git-dir", r.Bare, "replay", "main"); code != 0 {
				t.Fatalf("replay: exit %d:\n%s", code, out)
			}
		}
	}
	gc := func(t *testing.T, args ...string) string {
		t.Helper()
		out, code := r.quire("", append([]string{"--git-dir", r.Bare, "gc"}, args...)...)
		if code != 0 {
			t.Fatalf("gc %v: exit %d:\n%s", args, code, out)
		}
		return out
	}
	replays(3)

	t.Run("Keep", func(t *testing.T) {
		newest := r.runs()[0].ID
		if out := gc(t, "--keep", "1", "--repo", "other.git"); !strings.HasPrefix(out, "removed 0 runs") {
			t.Errorf("another repo's gc: %q", out)
		}
		out := gc(t, "--keep", "1")
		wantContains(t, out, "removed 3 runs (")
		if got := r.rowIDs(); !slices.Equal(got, []string{newest}) {
			t.Errorf("rows %v, want the newest run %s", got, newest)
		}
		r.wantConsistent()
	})

	t.Run("Interrupted", func(t *testing.T) {
		replays(2)
		runs := r.runs()
		oldest := runs[len(runs)-1].ID
		root := filepath.Join(r.Bare, "quire", "runs")
		// A gc that died after moving a run's directory to the trash,
		// one that died before deleting a trashed run's directory, and
		// an old and a fresh directory with no row.
		mustWrite(t, filepath.Join(root, ".trash", "not-a-run"), "")
		mustRename(t, filepath.Join(root, oldest), filepath.Join(root, ".trash", oldest))
		trashed := filepath.Join(".trash", "01a00000-0000-7000-8000-00000000000a")
		stray := "01a00000-0000-7000-8000-00000000000b"
		fresh := "01a00000-0000-7000-8000-00000000000c"
		for _, d := range []string{trashed, stray, fresh} {
			mustWrite(t, filepath.Join(root, d, "jobs", "x", "sh-1.log"), "data\n")
		}
		old := time.Now().Add(-2 * time.Minute)
		if err := os.Chtimes(filepath.Join(root, stray), old, old); err != nil {
			t.Fatal(err)
		}

		out := gc(t, "--keep", "10")
		wantContains(t, out, "removed 0 runs")
		wantContains(t, out, "removed 3 leftover run directories")
		if slices.Contains(r.rowIDs(), oldest) {
			t.Errorf("the trashed run %s still has its row", oldest)
		}
		if len(r.rowIDs()) != 2 {
			t.Errorf("rows %v, want the 2 untouched runs", r.rowIDs())
		}
		// The fresh directory may belong to a run being created; what is
		// not a run's stays in the trash.
		r.wantConsistent(fresh)
		if _, err := os.Stat(filepath.Join(root, ".trash", "not-a-run")); err != nil {
			t.Errorf("gc removed a file that is not a run's: %v", err)
		}
		os.RemoveAll(filepath.Join(root, fresh))
	})

	t.Run("OlderThan", func(t *testing.T) {
		if out := gc(t, "--older-than", "30d"); !strings.HasPrefix(out, "removed 0 runs") {
			t.Errorf("gc --older-than 30d: %q", out)
		}
		if out := gc(t, "--older-than", "1ms"); !strings.HasPrefix(out, "removed 2 runs") {
			t.Errorf("gc --older-than 1ms: %q", out)
		}
		if ids := r.rowIDs(); len(ids) != 0 {
			t.Errorf("rows %v, want none", ids)
		}
		r.wantConsistent()
	})

	t.Run("Config", func(t *testing.T) {
		replays(2)
		if out := gc(t); !strings.HasPrefix(out, "nothing to do") {
			t.Errorf("gc without flags or keep_runs: %q", out)
		}
		mustWrite(t, filepath.Join(r.Bare, "quire", "config.lua"), "return { keep_runs = 1 }\n")
		if out := gc(t); !strings.HasPrefix(out, "removed 1 run (") {
			t.Errorf("gc with keep_runs = 1: %q", out)
		}
		r.wantConsistent()
	})

	t.Run("BadFlags", func(t *testing.T) {
		for _, args := range [][]string{{"--older-than", "soon"}, {"--older-than", "-3d"}, {"--keep", "0"}, {"now"}} {
			out, code := r.quire("", append([]string{"--git-dir", r.Bare, "gc"}, args...)...)
			if code != 2 || strings.Count(out, "\n") != 1 {
				t.Errorf("gc %v: exit %d, want 2 with one line:\n%s", args, code, out)
			}
		}
	})
}

func mustRename(t *testing.T, from, to string) {
	t.Helper()
	if err := os.Rename(from, to); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestKeepRunsAfterEachRun(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(okPipeline)
	r.Commit("keep")
	r.push()
	os.WriteFile(filepath.Join(r.Bare, "quire", "config.lua"), []byte("return { keep_runs = 2 }"), 0o644)
	for range 3 {
		if out, code := r.quire("", "--git-dir", r.Bare, "replay", "main"); code != 0 {
			t.Fatalf("replay: exit %d:\n%s", code, out)
		}
	}
	runs := r.runs()
	if len(runs) != 2 {
		t.Fatalf("%d runs kept, want 2", len(runs))
	}
	dirs, _ := filepath.Glob(filepath.Join(r.Bare, "quire", "runs", "0*"))
	if len(dirs) != 2 {
		t.Errorf("%d run directories, want 2: %v", len(dirs), dirs)
	}
	for _, run := range runs {
		if _, err := os.Stat(r.runDir(run.ID)); err != nil {
			t.Errorf("kept run %s has no directory: %v", run.ID, err)
		}
	}
}
