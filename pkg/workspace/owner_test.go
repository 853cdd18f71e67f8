//go:build linux

package workspace

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// defaultACL is the system.posix_acl_default value of `setfacl -d -m
// u:1001:rwx`: version 2, then (tag, perm, id) entries sorted by tag.
func defaultACL() []byte {
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range []struct {
		tag, perm uint16
		id        uint32
	}{
		{0x01, 7, 0xffffffff}, // user::rwx
		{0x02, 7, 1001},       // user:1001:rwx
		{0x04, 5, 0xffffffff}, // group::r-x
		{0x10, 7, 0xffffffff}, // mask::rwx
		{0x20, 5, 0xffffffff}, // other::r-x
	} {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// xattrs lists the extended attributes of path, not following a final
// symlink.
func xattrs(tb testing.TB, path string) []string {
	tb.Helper()
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(path, buf)
	if err != nil {
		tb.Fatalf("list xattrs of %s: %v", path, err)
	}
	var names []string
	for _, s := range splitNul(buf[:n]) {
		names = append(names, s)
	}
	return names
}

func splitNul(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != 0 {
			i++
		}
		out = append(out, string(b[:i]))
		if i < len(b) {
			i++
		}
		b = b[i:]
	}
	return out
}

// TestCache_OwnerAndXattrsNotKept plants what a job (root, for chown) can
// leave on directories and files without changing their mode: another
// owner, a user xattr, a default ACL. The next checkout of the same
// commit must not keep any of it.
func TestCache_OwnerAndXattrsNotKept(t *testing.T) {
	eachMode(t, testOwnerAndXattrsNotKept)
}

func testOwnerAndXattrsNotKept(t *testing.T, overlay bool) {
	fx := sharedFixture(t)
	gitDir := fx.variants["deltified"]
	c, root := newCache(t, overlay)
	commit := fx.commits[fixtureCommits-1]

	l, _, ws := checkout(t, c, gitDir, commit, root)
	if l == nil {
		t.Fatal("no lease")
	}
	p := func(rel string) string { return filepath.Join(ws, filepath.FromSlash(rel)) }
	set := func(rel, name string, value []byte) {
		t.Helper()
		err := unix.Lsetxattr(p(rel), name, value, 0)
		if errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) {
			l.Release()
			t.Skipf("the file system of %s has no %s: %v", root, name, err)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	set("src", "user.planted", []byte("x"))
	set("a", "system.posix_acl_default", defaultACL())
	set("medium.txt", "user.planted", []byte("x"))
	chowned := os.Geteuid() == 0
	if chowned {
		for _, rel := range []string{"bin", "versions/log.txt"} {
			if err := os.Lchown(p(rel), 12345, 12345); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := l.Return(); err != nil {
		t.Fatal(err)
	}

	l, st, ws := checkout(t, c, gitDir, commit, root)
	defer l.Release()
	if st.Kept == 0 {
		t.Fatalf("second checkout kept nothing; want the cached tree reused")
	}
	compareExact(t, ws, fresh(t, gitDir, commit))
	for _, rel := range []string{"", "src", "a", "medium.txt", "bin", "versions/log.txt"} {
		if names := xattrs(t, p(rel)); len(names) != 0 {
			t.Errorf("%s: xattrs %q kept from the earlier run, want none", displayPath(rel), names)
		}
		fi, err := os.Lstat(p(rel))
		if err != nil {
			t.Fatal(err)
		}
		s := fi.Sys().(*syscall.Stat_t)
		if int(s.Uid) != os.Geteuid() || int(s.Gid) != os.Getegid() {
			t.Errorf("%s: owner %d:%d kept from the earlier run, want %d:%d", displayPath(rel), s.Uid, s.Gid, os.Geteuid(), os.Getegid())
		}
	}
	if !chowned {
		t.Log("not root: chown not tested")
	}
}

// TestCache_ReturnStripsWhatJobsAdded: what a job wrote that is not in
// the commit (build output, node_modules) does not wait in the cache for
// the next checkout; the tree cached is the commit's.
func TestCache_ReturnStripsWhatJobsAdded(t *testing.T) {
	eachMode(t, testReturnStripsWhatJobsAdded)
}

func testReturnStripsWhatJobsAdded(t *testing.T, overlay bool) {
	fx := sharedFixture(t)
	gitDir := fx.variants["deltified"]
	c, root := newCache(t, overlay)
	commit := fx.commits[fixtureCommits-1]

	l, _, ws := checkout(t, c, gitDir, commit, root)
	if l == nil {
		t.Fatal("no lease")
	}
	for _, rel := range []string{"build.out", "node_modules/x/y/z.js", "a/b/artifact.o", ".quire/extra.lua", "src/.cache/k"} {
		writeFile(t, ws, rel, []byte("added by a job"), 0o644)
	}
	if err := os.Symlink("/etc", filepath.Join(ws, "src", "etc-link")); err != nil {
		t.Fatal(err)
	}
	if err := l.Return(); err != nil {
		t.Fatal(err)
	}
	compareExact(t, filepath.Join(c.Dir, "repo", "tree"), fresh(t, gitDir, commit))
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Fatalf("strip followed a symlink out of the workspace: %v", err)
	}
}

// TestCache_InheritedXattrsKept: where every new directory gets xattrs
// (here a default ACL on the workspace's parent; an SELinux label
// elsewhere), a directory a job wrote in is still reused when it has
// just those, and what the job planted is still removed. The stat-index
// path only: an overlay's directories come from the cached tree, so
// they carry the xattrs of the cache's directory, not the workspace's.
func TestCache_InheritedXattrsKept(t *testing.T) {
	fx := sharedFixture(t)
	gitDir := fx.variants["deltified"]
	c, root := newCache(t, false)
	commit := fx.commits[fixtureCommits-1]
	parent := filepath.Join(root, "acl")
	if err := os.Mkdir(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	err := unix.Setxattr(parent, "system.posix_acl_default", defaultACL(), 0)
	if errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EOPNOTSUPP) {
		t.Skipf("the file system of %s has no ACLs: %v", root, err)
	}
	if err != nil {
		t.Fatal(err)
	}

	l, _, ws := checkout(t, c, gitDir, commit, parent)
	defer l.Release()
	if len(xattrs(t, filepath.Join(ws, "src"))) == 0 {
		t.Skip("new directories did not inherit the default ACL here")
	}
	writeFile(t, ws, "build.out", []byte("artifact"), 0o644)
	writeFile(t, ws, "src/gen.o", []byte("artifact"), 0o644)
	if err := unix.Setxattr(filepath.Join(ws, "src"), "user.planted", []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if err := l.Return(); err != nil {
		t.Fatal(err)
	}

	l, st, ws := checkout(t, c, gitDir, commit, parent)
	defer l.Release()
	if st.Kept == 0 {
		t.Fatalf("second checkout kept nothing; want the cached tree reused despite the inherited ACL")
	}
	want := filepath.Join(parent, "fresh")
	if _, err := Materialize(t.Context(), gitDir, hash(t, commit), want); err != nil {
		t.Fatal(err)
	}
	compareExact(t, ws, want)
	for _, rel := range []string{"", "src", "a"} {
		got, w := xattrs(t, filepath.Join(ws, rel)), xattrs(t, filepath.Join(want, rel))
		if strings.Join(got, ",") != strings.Join(w, ",") {
			t.Errorf("%s: xattrs %q, want %q as a fresh materialize has", displayPath(rel), got, w)
		}
	}
}
