package notes

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/internal/gittest"
)

// git runs the git CLI on the bare repository gitDir and returns its
// trimmed stdout.
func runGit(tb testing.TB, gitDir string, args ...string) string {
	tb.Helper()
	out, err := tryGit(gitDir, "", args...)
	if err != nil {
		tb.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func tryGit(gitDir, stdin string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"--git-dir", gitDir}, args...)...)
	cmd.Env = gittest.Env()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return strings.TrimSpace(out.String()), nil
}

// bareWithCommits makes a bare repository with n commits on main, made
// by one git fast-import, and returns it and the commits in order. With
// notes, every commit also gets the note "note <i>" under each ref in
// notes (written by fast-import, which fans out on its own).
func bareWithCommits(tb testing.TB, dir string, n int, notes ...string) (string, []string) {
	tb.Helper()
	gitDir := filepath.Join(dir, "repo.git")
	runGit(tb, dir, "init", "--quiet", "--bare", "--initial-branch=main", gitDir)
	var in strings.Builder
	for i := 1; i <= n; i++ {
		msg := fmt.Sprintf("commit %d\n", i)
		fmt.Fprintf(&in, "commit refs/heads/main\nmark :%d\ncommitter T <t@example.com> %d +0000\ndata %d\n%s\n", i, 1700000000+i, len(msg), msg)
	}
	for _, ref := range notes {
		fmt.Fprintf(&in, "commit %s\ncommitter T <t@example.com> 1800000000 +0000\ndata 6\nnotes\n", ref)
		for i := 1; i <= n; i++ {
			note := fmt.Sprintf("note %d\n", i)
			fmt.Fprintf(&in, "N inline :%d\ndata %d\n%s", i, len(note), note)
		}
		in.WriteString("\n")
	}
	if out, err := tryGit(gitDir, in.String(), "fast-import", "--quiet"); err != nil {
		tb.Fatalf("git fast-import: %v\n%s", err, out)
	}
	commits := strings.Fields(runGit(tb, gitDir, "rev-list", "--reverse", "main"))
	if len(commits) != n {
		tb.Fatalf("made %d commits, want %d", len(commits), n)
	}
	return gitDir, commits
}

// rootNames lists the names in the root tree of ref's tip.
func rootNames(tb testing.TB, gitDir, ref string) []string {
	tb.Helper()
	return strings.Fields(runGit(tb, gitDir, "ls-tree", "--name-only", ref+"^{tree}"))
}
