package workspace

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/internal/mounttest"
	"github.com/quire-ci/quire-hook/pkg/datadir"
)

// overlayCache returns a Cache on the overlay path in a fresh directory,
// skipping the test where this process cannot mount.
func overlayCache(t *testing.T) (Cache, string) {
	t.Helper()
	if !canMount() {
		t.Skip("no CAP_SYS_ADMIN: this process cannot mount, so workspaces are never overlays")
	}
	return newCache(t, true)
}

// mounted reports whether something is mounted at path.
func mounted(t *testing.T, path string) bool {
	t.Helper()
	for _, m := range mounttest.Below(t, path) {
		if m.Point == path {
			return true
		}
	}
	return false
}

// abandon lets go of l as a SIGKILLed hook does: the lock goes with the
// process, the mount stays.
func abandon(l *Lease) {
	l.lock.Close()
	l.lock = nil
}

// entryNames lists the cache entry of key "repo", sorted.
func entryNames(t *testing.T, c Cache) string {
	t.Helper()
	names, err := readNames(filepath.Join(c.Dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		switch {
		case strings.HasPrefix(n, "upper-"):
			names[i] = "upper-N"
		case strings.HasPrefix(n, "work-"):
			names[i] = "work-N"
		}
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

// TestCache_OverlayLowerStaysPristine: whatever a job does through the
// mount — the damage of the reuse tests, a chmod of the workspace root,
// writes under .quire/ — lands in the upper dir; the cached tree stays
// the commit's, during the run and after Return, which leaves nothing
// mounted and nothing of the run in the cache.
func TestCache_OverlayLowerStaysPristine(t *testing.T) {
	c, root := overlayCache(t)
	fx := sharedFixture(t)
	gitDir := fx.variants["deltified"]
	commit := fx.commits[fixtureCommits-1]
	want := fresh(t, gitDir, commit)
	lower := filepath.Join(c.Dir, "repo", "tree")

	l, _, ws := checkout(t, c, gitDir, commit, root)
	checkMode(t, l, true)
	if !mounted(t, ws) {
		t.Fatalf("%s is not a mount point", ws)
	}
	compareExact(t, ws, want)
	damage(t, ws)
	if err := os.Chmod(ws, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(ws, "a")); err != nil {
		t.Fatal(err)
	}
	compareExact(t, lower, want)
	if err := l.Return(); err != nil {
		t.Fatal(err)
	}
	compareExact(t, lower, want)
	if mounted(t, ws) {
		t.Errorf("%s still mounted after Return", ws)
	}
	if _, err := os.Lstat(ws); !os.IsNotExist(err) {
		t.Errorf("workspace after Return: %v, want it gone", err)
	}
	if got := entryNames(t, c); got != "index,tree" {
		t.Errorf("cache entry after Return holds %s, want index,tree", got)
	}
}

// TestCache_OverlayKilledRun: a hook killed mid-run leaves its workspace
// mounted and the cache unlocked. The next checkout gets an exact tree
// (the cached one reused: the killed run never wrote to it) and detaches
// the stale mount; removing the dead run's workspace with the removal
// helper works whether or not that happened first.
func TestCache_OverlayKilledRun(t *testing.T) {
	fx := sharedFixture(t)
	gitDir := fx.variants["deltified"]
	a, b := fx.commits[fixtureCommits-2], fx.commits[fixtureCommits-1]
	for _, removeFirst := range []bool{false, true} {
		name := "next checkout first"
		if removeFirst {
			name = "workspace removed first"
		}
		t.Run(name, func(t *testing.T) {
			c, root := overlayCache(t)
			l, _, dead := checkout(t, c, gitDir, a, root)
			checkMode(t, l, true)
			damage(t, dead)
			abandon(l)
			if removeFirst {
				if err := datadir.RemoveDetached(dead); err != nil {
					t.Fatal(err)
				}
			}
			l, st, ws := checkout(t, c, gitDir, b, root)
			checkMode(t, l, true)
			if st.Kept == 0 {
				t.Errorf("checkout after a killed run: stats %+v, want the cached tree reused", st)
			}
			compareExact(t, ws, fresh(t, gitDir, b))
			if mounted(t, dead) {
				t.Errorf("the killed run's mount at %s is still there", dead)
			}
			if err := datadir.RemoveDetached(dead); err != nil {
				t.Fatal(err)
			}
			if err := l.Return(); err != nil {
				t.Fatal(err)
			}
			if got := entryNames(t, c); got != "index,tree" {
				t.Errorf("cache entry holds %s, want index,tree", got)
			}
		})
	}
}

// TestCache_OverlayPruneStaleMount: gc's Prune of an entry whose tree a
// killed run still has mounted detaches that mount and removes the
// entry.
func TestCache_OverlayPruneStaleMount(t *testing.T) {
	c, root := overlayCache(t)
	fx := sharedFixture(t)
	gitDir := fx.variants["packed"]
	l, _, ws := checkout(t, c, gitDir, fx.commits[1], root)
	writeFile(t, ws, "build.out", []byte("artifact"), 0o644)
	abandon(l)
	if n, err := c.Prune(time.Now().Add(2*time.Hour), time.Hour); err != nil || n != 1 {
		t.Fatalf("Prune = %d, %v; want 1, nil", n, err)
	}
	if mounted(t, ws) {
		t.Errorf("Prune left the stale mount at %s", ws)
	}
	if names, _ := readNames(c.Dir); len(names) != 0 {
		t.Errorf("cache holds %q after Prune, want nothing", names)
	}
	if err := datadir.RemoveDetached(ws); err != nil {
		t.Fatal(err)
	}
}

// TestCache_OverlayPathWithComma: overlay's option string cannot name a
// path with a comma (or a colon or backslash) without escapes; such a
// cache takes the stat-index path, and reuse still works.
func TestCache_OverlayPathWithComma(t *testing.T) {
	if !canMount() {
		t.Skip("no CAP_SYS_ADMIN: no overlay to fall back from")
	}
	fx := sharedFixture(t)
	gitDir := fx.variants["deltified"]
	root := filepath.Join(t.TempDir(), "data,root")
	mounttest.Check(t, filepath.Dir(root))
	c := Cache{Dir: filepath.Join(root, "cache")}
	a, b := fx.commits[fixtureCommits-2], fx.commits[fixtureCommits-1]
	l, _, ws := checkout(t, c, gitDir, a, root)
	checkMode(t, l, false)
	damage(t, ws)
	if err := l.Return(); err != nil {
		t.Fatal(err)
	}
	l, st, ws := checkout(t, c, gitDir, b, root)
	checkMode(t, l, false)
	if st.Kept == 0 {
		t.Errorf("stats %+v, want the cached tree reused", st)
	}
	compareExact(t, ws, fresh(t, gitDir, b))
	if err := l.Return(); err != nil {
		t.Fatal(err)
	}
	if overlayFailed.Load() {
		t.Error("a refused path counted as a failed mount")
	}
}

// TestCache_ModeSwitch: the two paths hand the cached tree to each
// other — a keep_workspace run between overlay runs, an overlay run
// after a stat-index one — and every workspace is exact.
func TestCache_ModeSwitch(t *testing.T) {
	c, root := overlayCache(t)
	fx := sharedFixture(t)
	gitDir := fx.variants["deltified"]
	for i, overlay := range []bool{true, false, true, true, false, false, true} {
		commit := fx.commits[(i*3)%fixtureCommits]
		c.NoOverlay = !overlay
		l, st, ws := checkout(t, c, gitDir, commit, root)
		checkMode(t, l, overlay)
		if i > 0 && st.Kept == 0 {
			t.Errorf("checkout %d: stats %+v, want the cached tree reused", i, st)
		}
		compareExact(t, ws, fresh(t, gitDir, commit))
		damage(t, ws)
		if err := l.Return(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCache_OverlayMountFails: a mount that fails (a file system
// overlayfs refuses, a denied mount) leaves an exact plain workspace
// on the stat-index path, and later checkouts of the process do not try
// again.
func TestCache_OverlayMountFails(t *testing.T) {
	c, root := overlayCache(t)
	fx := sharedFixture(t)
	gitDir := fx.variants["deltified"]
	tries := 0
	mountFn = func(string, string, string, string) error { tries++; return syscall.EPERM }
	t.Cleanup(func() { mountFn = mountOverlay; overlayFailed.Store(false) })

	for i, commit := range []string{fx.commits[1], fx.commits[2], fx.commits[2]} {
		l, st, ws := checkout(t, c, gitDir, commit, root)
		checkMode(t, l, false)
		if i > 0 && st.Kept == 0 {
			t.Errorf("checkout %d: stats %+v, want the cached tree reused", i, st)
		}
		compareExact(t, ws, fresh(t, gitDir, commit))
		damage(t, ws)
		if err := l.Return(); err != nil {
			t.Fatal(err)
		}
	}
	if tries != 1 {
		t.Errorf("%d mounts tried, want 1", tries)
	}
}

// TestCache_OverlayOtherBoot: a sealed tree is trusted without a stat
// only within the boot it was sealed in. Nothing is fsynced, so after a
// crash of the machine its files may be short under an index that
// survived: an index of another boot means a full materialize.
func TestCache_OverlayOtherBoot(t *testing.T) {
	c, root := overlayCache(t)
	fx := sharedFixture(t)
	gitDir := fx.variants["packed"]
	a, b := fx.commits[fixtureCommits-2], fx.commits[fixtureCommits-1]
	l, _, _ := checkout(t, c, gitDir, a, root)
	if err := l.Return(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(c.Dir, "repo", "index")
	idx, err := readIndex(path)
	if err != nil {
		t.Fatal(err)
	}
	if !idx.sealed || idx.boot == "" || idx.boot != bootID() {
		t.Fatalf("index after Return: sealed %v, boot %q, want sealed in this boot %q", idx.sealed, idx.boot, bootID())
	}
	idx.boot = "an-earlier-boot"
	if err := os.WriteFile(path, idx.encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	l, st, ws := checkout(t, c, gitDir, b, root)
	if st.Kept != 0 {
		t.Errorf("checkout over a tree sealed in another boot: stats %+v, want a full materialize", st)
	}
	compareExact(t, ws, fresh(t, gitDir, b))
	if err := l.Return(); err != nil {
		t.Fatal(err)
	}
	l, st, _ = checkout(t, c, gitDir, a, root)
	if st.Kept == 0 {
		t.Errorf("checkout over a tree sealed in this boot: stats %+v, want it reused", st)
	}
	if err := l.Return(); err != nil {
		t.Fatal(err)
	}
}
