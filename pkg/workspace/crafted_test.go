package workspace

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// rawEntry is one entry of a hand-written tree object.
type rawEntry struct {
	mode, name, hash string
}

// craftTree writes a tree object with exactly the given entries, bypassing
// the checks git applies to trees it builds itself.
func craftTree(tb testing.TB, gitDir string, entries ...rawEntry) string {
	tb.Helper()
	var b bytes.Buffer
	for _, e := range entries {
		b.WriteString(e.mode + " " + e.name + "\x00")
		h := hash(tb, e.hash)
		b.Write(h[:])
	}
	return runGit(tb, gitDir, b.Bytes(), "hash-object", "-t", "tree", "--literally", "-w", "--stdin")
}

func TestMaterialize_Crafted(t *testing.T) {
	gitDir := filepath.Join(t.TempDir(), "crafted.git")
	runGit(t, filepath.Dir(gitDir), nil, "init", "-q", "--bare", gitDir)
	blob := runGit(t, gitDir, []byte("payload\n"), "hash-object", "-w", "--stdin")
	outside := t.TempDir()
	link := runGit(t, gitDir, []byte(outside), "hash-object", "-w", "--stdin")
	inner := craftTree(t, gitDir, rawEntry{"100644", "b", blob})
	dotdot := craftTree(t, gitDir, rawEntry{"100644", "..", blob})

	for _, tc := range []struct {
		name    string
		entries []rawEntry
		want    string // in the error; empty for success
	}{
		{"Valid", []rawEntry{{"100644", "ok", blob}, {"40000", "d", inner}}, ""},
		{"DotDot", []rawEntry{{"100644", "..", blob}}, `".."`},
		{"Dot", []rawEntry{{"40000", ".", inner}}, `"."`},
		{"Empty", []rawEntry{{"100644", "", blob}}, `""`},
		{"Slash", []rawEntry{{"100644", "x/y", blob}}, `"x/y"`},
		{"DotGit", []rawEntry{{"40000", ".git", inner}}, `".git"`},
		{"DotGitUpper", []rawEntry{{"100644", ".GiT", blob}}, `".GiT"`},
		{"Nested", []rawEntry{{"40000", "sub", dotdot}}, `"sub/.."`},
		{"LinkThenDir", []rawEntry{{"120000", "a", link}, {"40000", "a", inner}}, `"a"`},
		{"DirThenLink", []rawEntry{{"40000", "a", inner}, {"120000", "a", link}}, `"a"`},
		{"DuplicateFile", []rawEntry{{"100644", "f", blob}, {"100755", "f", blob}}, `refuse tree entry "f": two entries of one name`},
		{"FileThenDir", []rawEntry{{"100644", "both", blob}, {"40000", "both", inner}}, `refuse tree entry "both": two entries of one name`},
		{"DirThenFile", []rawEntry{{"40000", "both", inner}, {"100644", "both", blob}}, `refuse tree entry "both": two entries of one name`},
		{"NestedDuplicate", []rawEntry{{"40000", "sub", craftTree(t, gitDir, rawEntry{"40000", "d", inner}, rawEntry{"100644", "d", blob})}}, `refuse tree entry "sub/d": two entries of one name`},
		{"BadMode", []rawEntry{{"100644", "ok", blob}, {"70000", "weird", blob}}, "unsupported mode"},
		{"TreeIsBlob", []rawEntry{{"40000", "notatree", blob}}, "notatree"},
		{"BlobIsTree", []rawEntry{{"100644", "notablob", inner}}, "notablob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree := craftTree(t, gitDir, tc.entries...)
			commit := runGit(t, gitDir, nil, "commit-tree", tree, "-m", tc.name)
			ws := filepath.Join(t.TempDir(), "ws")
			_, err := Materialize(t.Context(), gitDir, hash(t, commit), ws)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(filepath.Join(ws, "d", "b"))
				if err != nil || string(got) != "payload\n" {
					t.Errorf("d/b = %q, %v; want %q", got, err, "payload\n")
				}
				return
			}
			if err == nil {
				t.Fatalf("err = nil, want an error naming %s", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to name %s", err, tc.want)
			}
			// Nothing may land outside the workspace or behind the link.
			if names, _ := os.ReadDir(outside); len(names) != 0 {
				t.Errorf("wrote %v outside the workspace", names)
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(ws), "b")); err == nil {
				t.Error("wrote b next to the workspace")
			}
		})
	}
}

func TestParseTree_Malformed(t *testing.T) {
	good := append([]byte("100644 f\x00"), make([]byte, hashSize)...)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"NoSpace", []byte("100644")},
		{"BadDigit", append([]byte("100648 f\x00"), make([]byte, hashSize)...)},
		{"NoNUL", []byte("100644 f")},
		{"ShortHash", []byte("100644 f\x00abc")},
		{"TrailingGarbage", append(append([]byte{}, good...), 'x')},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			if err := parseTree(tc.data, func([]byte, uint32, plumbing.Hash) error { n++; return nil }); err == nil {
				t.Errorf("err = nil after %d entries, want an error", n)
			}
		})
	}
	t.Run("Good", func(t *testing.T) {
		var names []string
		err := parseTree(append(append([]byte{}, good...), good...), func(name []byte, mode uint32, _ plumbing.Hash) error {
			names = append(names, string(name))
			if mode != 0o100644 {
				t.Errorf("mode = %o, want 100644", mode)
			}
			return nil
		})
		if err != nil || len(names) != 2 {
			t.Errorf("names = %v, err = %v; want 2 entries", names, err)
		}
	})
}
