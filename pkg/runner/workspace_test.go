package runner

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/pkg/datadir"
	"github.com/quire-ci/quire-hook/pkg/store"
	"github.com/quire-ci/quire-hook/pkg/workspace"
)

// treeOf records every entry below root: type and mode bits, and the
// content or symlink target.
func treeOf(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		v := fi.Mode().String()
		switch {
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			v += " " + string(data)
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			v += " -> " + target
		}
		rel, _ := filepath.Rel(root, path)
		m[rel] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRun_ReusedWorkspaceIsExact(t *testing.T) {
	h := newHarness(t, `
ci.job("damage", {"quire/push"}, function(q)
  q.sh([[
    [ -f damage ] || exit 0
    printf 'x' > keep.txt
    echo extra > .quire/extra.lua
    echo changed >> .quire/ci.lua
    chmod 700 dir
    chmod 755 plain.txt
    rm dir/file.txt && ln -s /etc dir/file.txt
    rm -r sub && echo file > sub
    rm gone.txt && mkdir gone.txt
    mkdir -p build/out && echo artifact > build/out/a
  ]])
end)
`)
	h.repo.Write("damage", "")
	h.repo.Write("keep.txt", "k")
	h.repo.Write("plain.txt", "plain\n")
	h.repo.Write("gone.txt", "gone\n")
	h.repo.Write("dir/file.txt", "content\n")
	h.repo.Write("sub/deep/x.txt", "x\n")
	first := h.run()
	first.wantState("damage", store.JobComplete)

	cache := datadir.Root(h.dataRoot).WorkspaceCache()
	tree := filepath.Join(cache, datadir.WorkspaceCacheKey(first.run.Repo), "tree")
	if _, err := os.Stat(tree); err != nil {
		t.Fatalf("after a run, the cached tree: %v", err)
	}

	if err := os.Remove(filepath.Join(h.repo.Work, "damage")); err != nil {
		t.Fatal(err)
	}
	h.repo.Write("new.txt", "new\n")
	h.Settings.KeepWorkspace = true
	second := h.run()
	second.wantState("damage", store.JobComplete)
	if _, err := os.Stat(tree); !os.IsNotExist(err) {
		t.Errorf("the second run did not take the cached tree: %v", err)
	}

	fresh := filepath.Join(t.TempDir(), "fresh")
	if _, err := workspace.Materialize(t.Context(), h.repo.Bare, plumbing.NewHash(second.sha), fresh); err != nil {
		t.Fatal(err)
	}
	got, want := treeOf(t, filepath.Join(second.runDir, "workspace")), treeOf(t, fresh)
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q, want %q", p, got[p], w)
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: unexpected %q", p, g)
		}
	}
}
