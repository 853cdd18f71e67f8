package gitrepo

import (
	"bytes"
	"encoding/hex"
	"io/fs"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/quire-ci/quire-hook/internal/gittest"
)

// rawEntry is one entry of a hand-written tree object.
type rawEntry struct{ mode, name, hash string }

// gitStdin runs git in dir with stdin and returns its trimmed stdout.
func gitStdin(tb testing.TB, f *gittest.Fixture, dir string, stdin []byte, args ...string) string {
	tb.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, f.Env, bytes.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("git %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// craftTree writes a tree object with exactly the given entries, in the
// given order, bypassing the checks git applies to trees it builds.
func craftTree(tb testing.TB, f *gittest.Fixture, entries ...rawEntry) string {
	tb.Helper()
	var b bytes.Buffer
	for _, e := range entries {
		raw, err := hex.DecodeString(e.hash)
		if err != nil {
			tb.Fatal(err)
		}
		b.WriteString(e.mode + " " + e.name + "\x00")
		b.Write(raw)
	}
	return gitStdin(tb, f, f.Bare, b.Bytes(), "hash-object", "-t", "tree", "--literally", "-w", "--stdin")
}

// TestRepo_HostileTrees: the trees Materialize refuses must still be
// readable here, so that their push gets a run that fails with the path.
func TestRepo_HostileTrees(t *testing.T) {
	f := gittest.New(t)
	blob := func(s string) string {
		return gitStdin(t, f, f.Bare, []byte(s), "hash-object", "-w", "--stdin")
	}
	ci, payload := blob("-- pipeline\n"), blob("payload\n")
	inner := craftTree(t, f, rawEntry{"100644", "b", payload})
	quire := craftTree(t, f, rawEntry{"100644", "ci.lua", ci})
	r, err := Open(f.Bare)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		entries []rawEntry
		changed string // files_changed of the root commit
	}{
		{"DotDot", []rawEntry{{"40000", "..", inner}}, "../b"},
		{"Dot", []rawEntry{{"40000", ".", inner}}, "./b"},
		{"DotGit", []rawEntry{{"40000", ".git", inner}}, ".git/b"},
		{"DotGitUpper", []rawEntry{{"40000", ".GIT", inner}}, ".GIT/b"},
		{"Slash", []rawEntry{{"40000", "x/y", inner}}, "x/y/b"},
		{"EmptyName", []rawEntry{{"100644", "", payload}}, ""},
		{"FileAndDir", []rawEntry{{"100644", "both", payload}, {"40000", "both", inner}}, "both both/b"},
		{"DirThenFile", []rawEntry{{"40000", "both", inner}, {"100644", "both", payload}}, "both both/b"},
		{"TreeIsBlob", []rawEntry{{"40000", "notatree", payload}}, "notatree"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := craftTree(t, f, append([]rawEntry{{"40000", ".quire", quire}}, tc.entries...)...)
			sha := f.Git(f.Bare, "commit-tree", root, "-m", tc.name)
			commit := plumbing.NewHash(sha)
			if ok, err := r.HasFile(commit, ".quire/ci.lua"); !ok || err != nil {
				t.Errorf("HasFile(.quire/ci.lua) = %v, %v; want true", ok, err)
			}
			fsys, err := r.TreeFS(commit)
			if err != nil {
				t.Fatal(err)
			}
			if data, err := fs.ReadFile(fsys, ".quire/ci.lua"); err != nil || string(data) != "-- pipeline\n" {
				t.Errorf("read .quire/ci.lua = %q, %v", data, err)
			}
			got, err := r.FilesChanged(commit, plumbing.ZeroHash)
			if err != nil {
				t.Fatalf("FilesChanged: %v", err)
			}
			want := strings.Fields(".quire/ci.lua " + tc.changed)
			sort.Strings(want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("FilesChanged = %q, want %q", got, want)
			}
		})
	}
	t.Run("TreeBomb", func(t *testing.T) {
		// 2^40 paths through shared subtrees, none of them a file.
		level := craftTree(t, f)
		for range 40 {
			level = craftTree(t, f, rawEntry{"40000", "a", level}, rawEntry{"40000", "b", level})
		}
		root := craftTree(t, f, rawEntry{"40000", ".quire", quire}, rawEntry{"40000", "bomb", level})
		commit := plumbing.NewHash(f.Git(f.Bare, "commit-tree", root, "-m", "bomb"))
		start := time.Now()
		got, err := r.FilesChanged(commit, plumbing.ZeroHash)
		if err != nil || len(got) != 1 {
			t.Errorf("FilesChanged = %q, %v; want [.quire/ci.lua]", got, err)
		}
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("FilesChanged took %s", took)
		}
	})
	t.Run("PipelineDirIsAlsoAFile", func(t *testing.T) {
		root := craftTree(t, f, rawEntry{"100644", ".quire", payload}, rawEntry{"40000", ".quire", quire})
		commit := plumbing.NewHash(f.Git(f.Bare, "commit-tree", root, "-m", "both"))
		if ok, err := r.HasFile(commit, ".quire/ci.lua"); !ok || err != nil {
			t.Errorf("HasFile(.quire/ci.lua) = %v, %v; want true", ok, err)
		}
	})
}
