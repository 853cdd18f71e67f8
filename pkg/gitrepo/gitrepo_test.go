package gitrepo

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/internal/gittest"
)

func TestRepo(t *testing.T) {
	f := gittest.New(t)
	f.Write("a.txt", "a\n")
	f.Write(".quire/ci.lua", "-- pipeline\n")
	first := f.Commit("first")
	f.Write("b/c.txt", "c\n")
	f.Write("a.txt", "a2\n")
	f.Symlink("../../etc/passwd", ".quire/evil.lua")
	second := f.Commit("second\n\nbody")
	f.Git(f.Work, "tag", "-a", "-m", "annotated", "v1")
	f.Git(f.Work, "branch", "zz-later")
	if out, err := f.Push("origin", "main", "v1", "zz-later"); err != nil {
		t.Fatal(out)
	}
	r, err := Open(f.Bare)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Resolve", func(t *testing.T) {
		cases := []struct{ rev, sha, ref string }{
			{"main", second, "refs/heads/main"},
			{"refs/heads/main", second, "refs/heads/main"},
			{"v1", second, "refs/tags/v1"},
			{second, second, ""},
			{first[:8], first, ""},
			{"HEAD", second, ""},
		}
		for _, c := range cases {
			h, ref, err := r.Resolve(c.rev)
			if err != nil || h.String() != c.sha || ref != c.ref {
				t.Errorf("Resolve(%q) = %s %q %v, want %s %q", c.rev, h, ref, err, c.sha, c.ref)
			}
		}
		if _, _, err := r.Resolve("nope"); !errors.Is(err, ErrUnknownRevision) {
			t.Errorf("Resolve(nope): %v", err)
		}
	})
	t.Run("BranchAt", func(t *testing.T) {
		if got := r.BranchAt(plumbing.NewHash(second)); got != "refs/heads/main" {
			t.Errorf("BranchAt = %q", got)
		}
		if got := r.BranchAt(plumbing.NewHash(first)); got != "" {
			t.Errorf("BranchAt(first) = %q, want none", got)
		}
	})
	t.Run("FilesChanged", func(t *testing.T) {
		got, err := r.FilesChanged(plumbing.NewHash(second), plumbing.ZeroHash)
		if err != nil {
			t.Fatal(err)
		}
		if want := ".quire/evil.lua a.txt b/c.txt"; strings.Join(got, " ") != want {
			t.Errorf("vs parent: %v, want %s", got, want)
		}
		got, _ = r.FilesChanged(plumbing.NewHash(first), plumbing.ZeroHash)
		if want := ".quire/ci.lua a.txt"; strings.Join(got, " ") != want {
			t.Errorf("root commit: %v, want %s", got, want)
		}
		got, _ = r.FilesChanged(plumbing.NewHash(second), plumbing.NewHash(second))
		if len(got) != 0 {
			t.Errorf("against itself: %v", got)
		}
	})
	t.Run("TreeFS", func(t *testing.T) {
		fsys, err := r.TreeFS(plumbing.NewHash(second))
		if err != nil {
			t.Fatal(err)
		}
		data, err := fs.ReadFile(fsys, ".quire/ci.lua")
		if err != nil || string(data) != "-- pipeline\n" {
			t.Errorf("read ci.lua: %q %v", data, err)
		}
		if _, err := fs.ReadFile(fsys, ".quire/evil.lua"); err == nil || !strings.Contains(err.Error(), "symlink") {
			t.Errorf("symlink read: %v", err)
		}
		if _, err := fs.ReadFile(fsys, "missing.lua"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing: %v", err)
		}
		if ok, _ := r.HasFile(plumbing.NewHash(second), ".quire/ci.lua"); !ok {
			t.Error("HasFile(ci.lua) = false")
		}
		if ok, _ := r.HasFile(plumbing.NewHash(second), ".quire/evil.lua"); ok {
			t.Error("HasFile(symlink) = true")
		}
	})
	t.Run("Config", func(t *testing.T) {
		if err := r.SetConfigValue("quire", "dataDir", "x"); err != nil {
			t.Fatal(err)
		}
		if got := f.Git(f.Bare, "config", "quire.datadir"); got != "x" {
			t.Errorf("git config quire.datadir = %q", got)
		}
		r2, _ := Open(f.Bare)
		if got := r2.ConfigValue("quire", "dataDir"); got != "x" {
			t.Errorf("ConfigValue = %q", got)
		}
	})
	t.Run("NotARepo", func(t *testing.T) {
		if _, err := Open(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a git directory") {
			t.Errorf("Open(empty dir): %v", err)
		}
	})
}
