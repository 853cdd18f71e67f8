package hook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/hook"
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

	t.Run("Leftovers", func(t *testing.T) {
		// What an interrupted gc left, and an old directory without a
		// row, are removed and counted apart (pkg/retention tests the
		// cases one by one).
		replays(2)
		runs := r.runs()
		oldest := runs[len(runs)-1].ID
		root := filepath.Join(r.Bare, "quire", "runs")
		mustRename(t, filepath.Join(root, oldest), filepath.Join(root, ".trash", oldest))
		stray := "01a00000-0000-7000-8000-00000000000b"
		mustWrite(t, filepath.Join(root, stray, "jobs", "x", "sh-1.log"), "data\n")
		old := time.Now().Add(-2 * time.Minute)
		if err := os.Chtimes(filepath.Join(root, stray), old, old); err != nil {
			t.Fatal(err)
		}

		out := gc(t, "--keep", "10")
		wantContains(t, out, "removed 0 runs")
		wantContains(t, out, "removed 2 leftover run directories")
		if slices.Contains(r.rowIDs(), oldest) || len(r.rowIDs()) != 2 {
			t.Errorf("rows %v, want the 2 untouched runs", r.rowIDs())
		}
		r.wantConsistent()
	})

	t.Run("JSON", func(t *testing.T) {
		replays(2)
		before := r.rowIDs()
		sizes := map[string]int64{}
		for _, id := range before {
			sizes[id] = dirSize(t, r.runDir(id))
		}
		root := filepath.Join(r.Bare, "quire", "runs")
		trashed := "01a00000-0000-7000-8000-00000000000a"
		mustWrite(t, filepath.Join(root, ".trash", trashed, "jobs", "x", "sh-1.log"), "12345\n")

		type gcJSON struct {
			Repo             *string `json:"repo"`
			Keep             *int    `json:"keep"`
			FinishedBeforeMS *int64  `json:"finished_before_ms"`
			DryRun           bool    `json:"dry_run"`
			RunsDeleted      int     `json:"runs_deleted"`
			BytesFreed       int64   `json:"bytes_freed"`
			Deleted          []struct {
				ID    string `json:"id"`
				Repo  string `json:"repo"`
				Bytes int64  `json:"bytes"`
			} `json:"deleted"`
			LeftoversRemoved   int   `json:"leftovers_removed"`
			LeftoverBytesFreed int64 `json:"leftover_bytes_freed"`
			Leftovers          []struct {
				ID    string `json:"id"`
				Bytes int64  `json:"bytes"`
			} `json:"leftovers"`
		}
		// A dry run says what the real one does, and removes nothing.
		out := gc(t, "--keep", "1", "--dry-run")
		wantContains(t, out, fmt.Sprintf("would remove %d runs (", len(before)-1))
		wantContains(t, out, "would remove 1 leftover run directory (6 B)")
		var dry gcJSON
		r.quireJSON(t, &dry, "gc", "--keep", "1", "--json", "--dry-run")
		if !slices.Equal(r.rowIDs(), before) || !dry.DryRun {
			t.Fatalf("gc --dry-run: dry_run %v, rows %v, want %v untouched", dry.DryRun, r.rowIDs(), before)
		}
		if _, err := os.Stat(filepath.Join(root, ".trash", trashed)); err != nil {
			t.Errorf("gc --dry-run emptied the trash: %v", err)
		}

		var got gcJSON
		keys := r.quireJSON(t, &got, "gc", "--keep", "1", "--json")
		wantKeys(t, keys, "repo", "keep", "finished_before_ms", "dry_run", "runs_deleted", "bytes_freed", "deleted",
			"leftovers_removed", "leftover_bytes_freed", "leftovers")
		if dry.DryRun = false; !reflect.DeepEqual(dry, got) {
			t.Errorf("gc --dry-run --json said\n%+v\nthe real gc\n%+v", dry, got)
		}
		after := r.rowIDs()
		if len(after) != 1 || got.RunsDeleted != len(before)-1 || len(got.Deleted) != got.RunsDeleted {
			t.Fatalf("gc --keep 1 --json: %+v; rows before %v, after %v", got, before, after)
		}
		var sum int64
		for i, d := range got.Deleted {
			if d.ID != before[i] || d.Repo != "repo.git" || d.Bytes != sizes[d.ID] || d.Bytes == 0 {
				t.Errorf("deleted[%d] = %+v, want run %s of repo.git, %d bytes", i, d, before[i], sizes[before[i]])
			}
			sum += d.Bytes
		}
		if got.BytesFreed != sum || got.Repo != nil || got.Keep == nil || *got.Keep != 1 || got.FinishedBeforeMS != nil {
			t.Errorf("gc --keep 1 --json: %+v, want %d bytes freed, keep 1, no repo or age", got, sum)
		}
		if got.LeftoversRemoved != 1 || got.LeftoverBytesFreed != 6 || len(got.Leftovers) != 1 || got.Leftovers[0].ID != trashed {
			t.Errorf("leftovers: %d, %d bytes, %+v; want %s, 6 bytes", got.LeftoversRemoved, got.LeftoverBytesFreed, got.Leftovers, trashed)
		}
		r.wantConsistent()

		// Nothing to do is a document too; the hint goes to stderr.
		keys = r.quireJSON(t, &got, "gc", "--json")
		if got.RunsDeleted != 0 || got.Keep != nil || got.Deleted == nil || len(got.Deleted) != 0 || keys["leftovers"] == nil {
			t.Errorf("gc --json without a selection: %+v", got)
		}
	})

	t.Run("OlderThan", func(t *testing.T) {
		if out := gc(t, "--older-than", "30d"); !strings.HasPrefix(out, "removed 0 runs") {
			t.Errorf("gc --older-than 30d: %q", out)
		}
		if out := gc(t, "--older-than", "1ms"); !strings.HasPrefix(out, "removed 1 run (") {
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

// quireJSON runs quire-hook in process on the repo and decodes what it
// prints on stdout into v; it returns the document's keys.
func (r *repo) quireJSON(t *testing.T, v any, args ...string) map[string]any {
	t.Helper()
	var out, errs bytes.Buffer
	code := hook.Main(t.Context(), append([]string{"quire-hook", "--git-dir", r.Bare}, args...),
		hook.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errs, Env: r.Env, Dir: r.Work})
	if code != 0 {
		t.Fatalf("%v: exit %d:\n%s%s", args, code, out.String(), errs.String())
	}
	var keys map[string]any
	if err := json.Unmarshal(out.Bytes(), &keys); err != nil {
		t.Fatalf("%v: parse stdout: %v\n%s", args, err, out.String())
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		t.Fatalf("%v: parse stdout: %v\n%s", args, err, out.String())
	}
	return keys
}

// dirSize is the bytes the regular files under dir hold.
func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		n += info.Size()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
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
