package runner

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

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

// escaper is a job that leaves a process behind the way a hostile one
// would: out of the job's process group and session, without the run's
// marker in its environment, writing into the workspace a moment later.
const escaper = `
ci.job("escape", {"quire/push"}, function(q)
  q.sh([[env -i setsid sh -c 'cd "$1" && sleep 1 && echo pwned >> keep.txt' sh "$PWD" >/dev/null 2>&1 &]])
end)
`

// TestRun_WorkspaceReturnedOnlyWhenContained: a workspace goes back to
// the reuse cache only when the executor session vouches that every
// process of the run is dead; one a job left running could otherwise
// write into the next run's tree after it was verified.
func TestRun_WorkspaceReturnedOnlyWhenContained(t *testing.T) {
	cachedTree := func(h *harness, o *outcome) string {
		return filepath.Join(datadir.Root(h.dataRoot).WorkspaceCache(), datadir.WorkspaceCacheKey(o.run.Repo), "tree")
	}
	t.Run("NoCgroup", func(t *testing.T) {
		h := newHarness(t, escaper)
		h.NoCgroup = true
		h.repo.Write("keep.txt", "k\n")
		o := h.run()
		o.wantState("escape", store.JobComplete)
		if _, err := os.Lstat(filepath.Join(o.runDir, "workspace")); !os.IsNotExist(err) {
			t.Errorf("the run's workspace: %v; want it removed", err)
		}
		tree := cachedTree(h, o)
		if os.Geteuid() != 0 {
			if _, err := os.Lstat(tree); !os.IsNotExist(err) {
				t.Errorf("a run tracked by process group and marker only gave its workspace to the cache (stat: %v); want it removed", err)
			}
			return
		}
		// An overlay workspace: the cached tree was its lower dir, which
		// the escaped process, writing through the detached mount, can
		// never reach. It stays in the cache.
		time.Sleep(1500 * time.Millisecond)
		data, err := os.ReadFile(filepath.Join(tree, "keep.txt"))
		if err != nil || string(data) != "k\n" {
			t.Errorf("cached keep.txt = %q, %v; want %q", data, err, "k\n")
		}
	})
	t.Run("Cgroup", func(t *testing.T) {
		if !cgroupsHere(t) {
			t.Skip("needs a writable cgroup v2 hierarchy (root, or a delegated cgroup): without one no host run is contained")
		}
		h := newHarness(t, escaper)
		h.repo.Write("keep.txt", "k\n")
		o := h.run()
		o.wantState("escape", store.JobComplete)
		tree := cachedTree(h, o)
		if _, err := os.Lstat(tree); err != nil {
			t.Fatalf("a run in a cgroup did not give its workspace to the cache: %v", err)
		}
		// The escaped process was killed with the run's cgroup: it never
		// writes.
		time.Sleep(1500 * time.Millisecond)
		data, err := os.ReadFile(filepath.Join(tree, "keep.txt"))
		if err != nil || string(data) != "k\n" {
			t.Errorf("cached keep.txt = %q, %v; want %q", data, err, "k\n")
		}
	})
}

// TestRun_OverlayWorkspace: where the hook may mount, a job's workspace
// is an overlay mount, gone when the run ends; with keep_workspace it is
// a plain directory that stays.
func TestRun_OverlayWorkspace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: workspaces are never overlays")
	}
	out := filepath.Join(t.TempDir(), "fstype")
	// The job renames a directory of the commit, as Go's os.Rename does
	// (no copy on EXDEV, unlike mv): overlayfs refuses that without
	// redirect_dir. The overlay is nosuid and nodev.
	h := newHarness(t, `
ci.job("look", {"quire/push"}, function(q)
  q.sh([[awk -v ws="$PWD" '$5 == ws {print $9; n = split($6, o, ","); for (i = 1; i <= n; i++) if (o[i] == "nosuid" || o[i] == "nodev") print o[i]}' /proc/self/mountinfo > '`+out+`']])
  q.sh([[perl -e 'rename("d", "e") or die "rename d e: $!\n"' && test -f e/x.txt]], {check = true})
end)
`)
	h.repo.Write("f.txt", "f\n")
	h.repo.Write("d/x.txt", "x\n")
	for _, keep := range []bool{false, true} {
		h.Settings.KeepWorkspace = keep
		o := h.run()
		o.wantState("look", store.JobComplete)
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		want := "overlay\nnosuid\nnodev\n"
		if keep {
			want = ""
		}
		if string(data) != want {
			t.Errorf("keep_workspace %v: the job's workspace is mounted as %q, want %q", keep, data, want)
		}
		_, err = os.Stat(filepath.Join(o.runDir, "workspace", "f.txt"))
		if keep && err != nil {
			t.Errorf("keep_workspace: the workspace after the run: %v", err)
		}
		if !keep && !os.IsNotExist(err) {
			t.Errorf("the workspace after the run: %v, want it gone", err)
		}
	}
}
