package retention

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/datadir"
)

func TestPruneWorkspaces(t *testing.T) {
	root := datadir.Root(t.TempDir())
	dir := root.WorkspaceCache()
	// An entry as a checkout leaves it, its index aged past the limit,
	// and one killed before it wrote an index.
	old := filepath.Join(dir, "aaaa")
	for _, p := range []string{filepath.Join(old, "tree", "f"), filepath.Join(dir, "bbbb", "tree", "g")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(old, "index"), []byte("i"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	n, err := PruneWorkspaces(root, now)
	if err != nil || n != 1 {
		t.Fatalf("PruneWorkspaces = %d, %v; want 1 (the entry without an index)", n, err)
	}
	if n, err = PruneWorkspaces(root, now.Add(WorkspaceCacheAge+time.Hour)); err != nil || n != 1 {
		t.Fatalf("PruneWorkspaces past the age = %d, %v; want 1", n, err)
	}
	if names, _ := os.ReadDir(dir); len(names) != 0 {
		t.Errorf("cache holds %v, want nothing", names)
	}
	// No cache at all is nothing to do.
	if n, err := PruneWorkspaces(datadir.Root(t.TempDir()), now); err != nil || n != 0 {
		t.Errorf("PruneWorkspaces without a cache = %d, %v", n, err)
	}
}
