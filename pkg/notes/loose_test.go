package notes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// TestStoreLoose checks that a loose object written by storeLoose is
// read back by git byte for byte, is read-only as git makes objects,
// and that storing it again leaves the object and no temporary file.
func TestStoreLoose(t *testing.T) {
	gitDir, _ := bareWithCommits(t, t.TempDir(), 1)
	content := "a note with \"quotes\", non-ASCII \xc3\xa9 and a NUL \x00 byte\n" + strings.Repeat("x", 70000)
	o := &plumbing.MemoryObject{}
	o.SetType(plumbing.BlobObject)
	if _, err := o.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		h, err := storeLoose(gitDir, o, 0)
		if err != nil {
			t.Fatal(err)
		}
		if h != o.Hash() {
			t.Fatalf("hash %s, want %s", h, o.Hash())
		}
	}
	hex := o.Hash().String()
	if got := runGit(t, gitDir, "cat-file", "-t", hex); got != "blob" {
		t.Errorf("git cat-file -t: %q, want blob", got)
	}
	if got := runGit(t, gitDir, "cat-file", "blob", hex); got != strings.TrimSpace(content) {
		t.Errorf("git cat-file blob: %d bytes, not the %d written", len(got), len(content))
	}
	dir := filepath.Join(gitDir, "objects", hex[:2])
	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0].Name() != hex[2:] {
		t.Errorf("objects/%s holds %v, want only the object", hex[:2], names)
	}
	fi, err := os.Stat(filepath.Join(dir, hex[2:]))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("object mode %v, want read-only", fi.Mode())
	}
	runGit(t, gitDir, "fsck", "--strict", "--no-dangling")
}
