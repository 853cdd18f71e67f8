package workspace

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/internal/benchdir"
)

// benchRepo returns a bare repository whose one commit holds Go's src and
// test trees (SPEC §12 P1), and that commit. It is built once per Go
// version under os.TempDir() and reused by later runs.
func benchRepo(tb testing.TB) (gitDir, commit string) {
	tb.Helper()
	key := strings.NewReplacer("/", "_", " ", "_").Replace(runtime.Version())
	root := filepath.Join(os.TempDir(), "quire-bench-materialize-"+key)
	gitDir = filepath.Join(root, "repo.git")
	if data, err := os.ReadFile(filepath.Join(root, "commit")); err == nil {
		return gitDir, strings.TrimSpace(string(data))
	}

	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		tb.Fatalf("go env GOROOT: %v", err)
	}
	goroot := strings.TrimSpace(string(out))
	tmp, err := os.MkdirTemp(os.TempDir(), "quire-bench-build-")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	bare := filepath.Join(tmp, "repo.git")
	runGit(tb, tmp, nil, "init", "-q", "--bare", bare)
	wt := []string{"--git-dir=" + bare, "--work-tree=" + goroot}
	runGit(tb, tmp, nil, append(wt, "add", "-A", "--", "src", "test")...)
	runGit(tb, tmp, nil, append(wt, "commit", "-q", "-m", "go "+runtime.Version())...)
	runGit(tb, bare, nil, "-c", "core.compression=-1", "repack", "-q", "-adf")
	if err := os.Remove(filepath.Join(bare, "index")); err != nil {
		tb.Fatal(err)
	}
	commit = runGit(tb, bare, nil, "rev-parse", "HEAD")
	if err := os.WriteFile(filepath.Join(tmp, "commit"), []byte(commit+"\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	// Another run may have won the race to build it; either copy will do.
	if err := os.Rename(tmp, root); err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, os.ErrExist) {
		if _, statErr := os.Stat(filepath.Join(root, "commit")); statErr != nil {
			tb.Fatal(err)
		}
	}
	data, err := os.ReadFile(filepath.Join(root, "commit"))
	if err != nil {
		tb.Fatal(err)
	}
	return gitDir, strings.TrimSpace(string(data))
}

// benchExtract times extract into a fresh directory per iteration,
// removing each outside the timer.
func benchExtract(b *testing.B, extract func(dir string) error) {
	parent := benchdir.Dir(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(parent, "ws")
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := extract(dir); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
}

func BenchmarkMaterialize(b *testing.B) {
	gitDir, commit := benchRepo(b)
	b.Run("git-archive-tar", func(b *testing.B) {
		benchExtract(b, func(dir string) error {
			if err := os.Mkdir(dir, 0o755); err != nil {
				return err
			}
			cmd := exec.Command("sh", "-c", `git --git-dir="$1" archive "$2" | tar -x -C "$3"`, "sh", gitDir, commit, dir)
			cmd.Stderr = os.Stderr
			return cmd.Run()
		})
	})
	b.Run("quire", func(b *testing.B) {
		var st Stats
		benchExtract(b, func(dir string) error {
			var err error
			st, err = Materialize(b.Context(), gitDir, hash(b, commit), dir)
			return err
		})
		b.ReportMetric(float64(st.Files), "files")
		b.SetBytes(st.Bytes)
	})
}

// benchChild returns a commit on top of the bench repo's commit that
// changes one file (SPEC §12 P1r), made once and kept with the fixture.
func benchChild(b *testing.B, gitDir, parent string) string {
	b.Helper()
	path := filepath.Join(filepath.Dir(gitDir), "commit-1-file")
	if data, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(data))
	}
	index := filepath.Join(b.TempDir(), "index")
	git := func(stdin string, args ...string) string {
		cmd := exec.Command("git", append([]string{"--git-dir=" + gitDir}, args...)...)
		cmd.Env = append(gitEnv(b.TempDir()), "GIT_INDEX_FILE="+index)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("git %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	git("", "read-tree", parent)
	blob := git("one changed file\n", "hash-object", "-w", "--stdin")
	git("", "update-index", "--cacheinfo", "100644,"+blob+",src/README.vendor")
	tree := git("", "write-tree")
	child := git("", "commit-tree", "-p", parent, "-m", "change one file", tree)
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, []byte(child+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return child
}

// BenchmarkMaterializeReuse compares a full materialize with a Cache
// checkout (and its Return) that alternates between two commits one
// file apart (SPEC §12 P1r): reuse-1-file as the hook does it (an
// overlay mount where this process may mount), reuse-1-file-statindex
// on the stat-index path.
func BenchmarkMaterializeReuse(b *testing.B) {
	gitDir, commit := benchRepo(b)
	child := benchChild(b, gitDir, commit)
	b.Run("full", func(b *testing.B) {
		benchExtract(b, func(dir string) error {
			_, err := Materialize(b.Context(), gitDir, hash(b, commit), dir)
			return err
		})
	})
	b.Run("reuse-1-file", func(b *testing.B) { benchReuse(b, gitDir, commit, child, false) })
	b.Run("reuse-1-file-statindex", func(b *testing.B) { benchReuse(b, gitDir, commit, child, true) })
}

// benchReuse times Cache checkouts and returns alternating between
// commit and child.
func benchReuse(b *testing.B, gitDir, commit, child string, noOverlay bool) {
	parent := benchdir.Dir(b)
	c := Cache{Dir: filepath.Join(parent, "cache"), NoOverlay: noOverlay}
	commits := []string{commit, child}
	checkout := func(i int) (*Lease, Stats) {
		l, st, err := c.Checkout(b.Context(), "bench", gitDir, hash(b, commits[i%2]), filepath.Join(parent, "ws"))
		if err != nil {
			b.Fatal(err)
		}
		return l, st
	}
	l, _ := checkout(1) // fill the cache
	overlay := l != nil && l.overlay
	if err := l.Return(); err != nil {
		b.Fatal(err)
	}
	var st Stats
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l, st = checkout(i)
		if err := l.Return(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(st.Files), "written")
	b.ReportMetric(float64(st.Kept), "kept")
	if overlay {
		b.ReportMetric(1, "overlay")
	} else {
		b.ReportMetric(0, "overlay")
	}
}
