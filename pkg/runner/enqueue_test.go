package runner

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// A pusher's texts are kept bounded in the run row: every page and JSON
// list that shows the run reads them.
func TestRunner_EnqueueClipsPushedText(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := store.Open(ctx, filepath.Join(dir, "quire.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r := &Runner{Store: s, DataRoot: dir}
	huge := strings.Repeat("é", 1<<20) // 2 MiB, two bytes a character
	res, err := r.Enqueue(ctx, Push{
		Repo: "x.git", Ref: "refs/heads/main", SHA: strings.Repeat("a", 40), Trigger: "push",
		PushedAt: time.Now(), CommitMessage: huge + "\nbody", Author: huge + " <a@b>", Pusher: "alice",
	})
	if err != nil {
		t.Fatal(err)
	}
	row, err := s.GetRun(ctx, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]string{"subject": row.Subject, "author": row.Author} {
		if len(v) > maxTextBytes || !utf8.ValidString(v) || !strings.HasSuffix(v, "…") || !strings.HasPrefix(v, "éé") {
			t.Errorf("%s: %d bytes, valid UTF-8 %v, ends %q; want at most %d bytes, cut at a character and marked", name, len(v), utf8.ValidString(v), v[max(0, len(v)-6):], maxTextBytes)
		}
	}
	if row.Pusher != "alice" {
		t.Errorf("pusher %q, want alice (short texts are kept whole)", row.Pusher)
	}
}
