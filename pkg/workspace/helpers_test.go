package workspace

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/quire-ci/quire-hook/internal/mounttest"
)

// gitEnv isolates git from the user's and system's configuration.
func gitEnv(home string) []string {
	return append(os.Environ(),
		"HOME="+home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=Quire Test",
		"GIT_AUTHOR_EMAIL=test@quire.invalid",
		"GIT_AUTHOR_DATE=2024-01-01T00:00:00Z",
		"GIT_COMMITTER_NAME=Quire Test",
		"GIT_COMMITTER_EMAIL=test@quire.invalid",
		"GIT_COMMITTER_DATE=2024-01-01T00:00:00Z",
	)
}

// runGit runs git in dir with stdin and returns its trimmed stdout.
func runGit(tb testing.TB, dir string, stdin []byte, args ...string) string {
	tb.Helper()
	out, err := gitOutput(dir, stdin, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// gitOutput runs git in dir with stdin and returns its trimmed stdout.
func gitOutput(dir string, stdin []byte, args ...string) (string, error) {
	global := []string{"-c", "init.defaultBranch=main", "-c", "gc.auto=0", "-c", "core.compression=1", "-c", "core.fsync=none"}
	cmd := exec.Command("git", append(global, args...)...)
	cmd.Dir = dir
	cmd.Env = gitEnv(dir)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// gitArchive extracts commit from the repository at gitDir into dir with
// `git archive | tar -x`, the reference Materialize is checked against.
func gitArchive(tb testing.TB, gitDir, commit, dir string) {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `git --git-dir="$1" archive "$2" | tar -x -C "$3"`, "sh", gitDir, commit, dir)
	cmd.Env = gitEnv(dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("git archive %s: %v\n%s", commit, err, out)
	}
}

// writeFile writes a file below root, creating its directory.
func writeFile(tb testing.TB, root, path string, data []byte, perm fs.FileMode) {
	tb.Helper()
	full := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(full, data, perm); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(full, perm); err != nil {
		tb.Fatal(err)
	}
}

// node is what compareDirs records of one directory entry.
type node struct {
	typ    fs.FileMode // fs.ModeDir, fs.ModeSymlink or 0
	exec   bool
	data   string // file content or symlink target
	exactM fs.FileMode
}

// scanDir records every entry below root by slash-separated path, root
// itself left out: scanExact's walk, in the terms compareDirs checks.
func scanDir(tb testing.TB, root string) map[string]node {
	tb.Helper()
	nodes := map[string]node{}
	for path, e := range scanExact(tb, root) {
		if path == "." {
			continue
		}
		n := node{typ: e.mode.Type(), exactM: e.mode.Perm(), data: e.data}
		n.exec = e.mode.IsRegular() && e.mode.Perm()&0o100 != 0
		nodes[path] = n
	}
	return nodes
}

// compareDirs fails unless got holds the same entries as want: types,
// contents, symlink targets and executable bits. It also checks that got
// uses exactly 0644, 0755 and 0755 for files, executables and directories.
func compareDirs(tb testing.TB, got, want string) {
	tb.Helper()
	g, w := scanDir(tb, got), scanDir(tb, want)
	for path, wn := range w {
		gn, ok := g[path]
		switch {
		case !ok:
			tb.Errorf("%s: missing", path)
		case gn.typ != wn.typ:
			tb.Errorf("%s: type %v, want %v", path, gn.typ, wn.typ)
		case gn.exec != wn.exec:
			tb.Errorf("%s: executable %v, want %v", path, gn.exec, wn.exec)
		case gn.data != wn.data:
			tb.Errorf("%s: content of %d bytes differs from want's %d bytes", path, len(gn.data), len(wn.data))
		}
	}
	for path, gn := range g {
		if _, ok := w[path]; !ok {
			tb.Errorf("%s: unexpected entry", path)
		}
		want := fs.FileMode(0o644)
		if gn.exec || gn.typ == fs.ModeDir {
			want = 0o755
		}
		if gn.typ != fs.ModeSymlink && gn.exactM != want {
			tb.Errorf("%s: mode %v, want %v", path, gn.exactM, want)
		}
	}
}

// hash parses a full hex object name.
func hash(tb testing.TB, s string) plumbing.Hash {
	tb.Helper()
	if !plumbing.IsHash(s) {
		tb.Fatalf("bad hash %q", s)
	}
	return plumbing.NewHash(s)
}

// copyDir copies a repository so a test can damage it. A hard-linked
// copy is quicker and enough for deleting files, not for changing them.
func copyDir(tb testing.TB, src, dst string, hardLink bool) {
	tb.Helper()
	flags := "-a"
	if hardLink {
		flags = "-al"
	}
	if out, err := exec.Command("cp", flags, src, dst).CombinedOutput(); err != nil {
		tb.Fatalf("cp %s: %v\n%s", src, err, out)
	}
}

// eachMode runs fn once for each way a Cache checks out: the stat-index
// path, and an overlay mount where this process may mount.
func eachMode(t *testing.T, fn func(t *testing.T, overlay bool)) {
	for _, overlay := range []bool{false, true} {
		name := "statindex"
		if overlay {
			name = "overlay"
		}
		t.Run(name, func(t *testing.T) {
			if overlay && !canMount() {
				t.Skip("no CAP_SYS_ADMIN: this process cannot mount, so workspaces are never overlays")
			}
			fn(t, overlay)
		})
	}
}

// newCache returns a Cache in a fresh directory root, on the overlay
// path or not, and fails the test if a mount below root outlives it.
func newCache(t *testing.T, overlay bool) (Cache, string) {
	t.Helper()
	root := t.TempDir()
	mounttest.Check(t, root)
	return Cache{Dir: filepath.Join(root, "cache"), NoOverlay: !overlay}, root
}

// checkMode fails unless l is an overlay workspace exactly when overlay
// is set.
func checkMode(tb testing.TB, l *Lease, overlay bool) {
	tb.Helper()
	if l != nil && l.overlay != overlay {
		tb.Fatalf("lease on an overlay: %v, want %v", l.overlay, overlay)
	}
}
