package notes

import (
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/internal/benchdir"
)

// BenchmarkAppend appends a note line in a repository whose notes ref
// already holds 10,000 notes (SPEC §13: at most 50 ms), beside git
// notes append doing the same on a twin ref as the baseline.
func BenchmarkAppend(b *testing.B) {
	const n = 10000
	gitDir, commits := bareWithCommits(b, benchdir.Dir(b), n, "refs/notes/quire", "refs/notes/git")
	if names := rootNames(b, gitDir, DefaultRef); len(names) != 256 {
		b.Fatalf("the notes tree's root has %d entries, want git's 256 fan-out directories", len(names))
	}
	line := `{"v":1,"agent":"quire-hook","run":"0192f0c4-7d2e-7a8b-9c1d-2e3f4a5b6c7d","ref":"refs/heads/main","trigger":"push","state":"complete","failure_kind":null,"jobs":{"test":"complete"},"started":"2026-05-01T10:00:00.000Z","finished":"2026-05-01T10:00:01.000Z"}`
	b.Run("git-notes-append", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c := commits[(i*7919)%n]
			if out, err := tryGit(gitDir, "", "notes", "--ref=git", "append", "-m", line, c); err != nil {
				b.Fatalf("git notes append: %v\n%s", err, out)
			}
		}
	})
	b.Run("quire", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			c := commits[(i*7919)%n]
			if err := Append(b.Context(), gitDir, DefaultRef, c, line); err != nil {
				b.Fatal(err)
			}
		}
	})
	if got := runGit(b, gitDir, "notes", "--ref=quire", "show", commits[0]); !strings.HasPrefix(got, "note 1\n{") {
		b.Fatalf("the first note lost its first line: %q", got)
	}
}
