package workspace

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// exactNode is everything compareExact compares of one entry.
type exactNode struct {
	mode fs.FileMode // type and every permission bit, setuid and sticky too
	data string      // file content or symlink target
}

// scanExact records every entry below root by slash-separated path.
func scanExact(tb testing.TB, root string) map[string]exactNode {
	tb.Helper()
	nodes := map[string]exactNode{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		n := exactNode{mode: fi.Mode()}
		switch {
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			n.data = string(data)
		case fi.Mode()&fs.ModeSymlink != 0:
			if n.data, err = os.Readlink(path); err != nil {
				return err
			}
		}
		rel, _ := filepath.Rel(root, path)
		nodes[filepath.ToSlash(rel)] = n
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return nodes
}

// compareExact fails unless the trees got and want hold the same paths,
// with the same types, modes, contents and symlink targets.
func compareExact(tb testing.TB, got, want string) {
	tb.Helper()
	g, w := scanExact(tb, got), scanExact(tb, want)
	for path, wn := range w {
		gn, ok := g[path]
		switch {
		case !ok:
			tb.Errorf("%s: missing", path)
		case gn.mode != wn.mode:
			tb.Errorf("%s: mode %v, want %v", path, gn.mode, wn.mode)
		case gn.data != wn.data:
			tb.Errorf("%s: content %.40q, want %.40q", path, gn.data, wn.data)
		}
	}
	for path := range g {
		if _, ok := w[path]; !ok {
			tb.Errorf("%s: unexpected entry", path)
		}
	}
}

// fresh materializes commit of gitDir into a new directory.
func fresh(tb testing.TB, gitDir, commit string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "fresh")
	if _, err := Materialize(tb.Context(), gitDir, hash(tb, commit), dir); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// checkout checks commit out of c into a new directory below parent.
func checkout(tb testing.TB, c Cache, gitDir, commit, parent string) (*Lease, Stats, string) {
	tb.Helper()
	dir := filepath.Join(parent, "ws-"+commit[:8]+"-"+time.Now().Format("150405.000000000"))
	l, st, err := c.Checkout(tb.Context(), "repo", gitDir, hash(tb, commit), dir)
	if err != nil {
		tb.Fatal(err)
	}
	return l, st, dir
}

// damage does to ws what a careless job might, immediately after its
// checkout (inside the file system's clock tick, the racy case): every
// change keeps sizes and puts mtimes back where it can.
func damage(tb testing.TB, ws string) {
	tb.Helper()
	p := func(rel string) string { return filepath.Join(ws, filepath.FromSlash(rel)) }
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	sameSize := func(rel string) {
		fi, err := os.Stat(p(rel))
		must(err)
		data, err := os.ReadFile(p(rel))
		must(err)
		data[0] ^= 1
		must(os.WriteFile(p(rel), data, 0))
		must(os.Chtimes(p(rel), fi.ModTime(), fi.ModTime()))
	}
	sameSize("medium.txt")
	sameSize(".quire/ci.lua")
	must(os.WriteFile(p(".quire/extra.lua"), []byte("-- added by a job\n"), 0o644))
	must(os.WriteFile(p("build.out"), []byte("artifact"), 0o644))
	must(os.MkdirAll(p("node_modules/x/y"), 0o700))
	must(os.Remove(p("empty")))
	must(os.Chmod(p("bin/run.sh"), 0o4755))
	must(os.Chmod(p("a/b"), 0o700))
	must(os.Remove(p("src/gen.go")))
	must(os.Symlink("/etc/passwd", p("src/gen.go")))
	must(os.Remove(p("versions/log.txt")))
	must(os.Mkdir(p("versions/log.txt"), 0o755))
	must(os.RemoveAll(p("a/b/c")))
	must(os.WriteFile(p("a/b/c"), []byte("a file where a directory was"), 0o644))
	must(os.Remove(p("link")))
	must(os.Symlink("elsewhere", p("link")))
	must(os.Link(p("dir with space/ünïcödé file.txt"), p("hardlink")))
	must(os.WriteFile(p("sub/inside-a-submodule"), nil, 0o644))
}

func TestCache_ReuseAfterJobDamage(t *testing.T) {
	eachMode(t, testReuseAfterJobDamage)
}

func testReuseAfterJobDamage(t *testing.T, overlay bool) {
	fx := sharedFixture(t)
	gitDir := fx.variants["deltified"]
	c, root := newCache(t, overlay)
	a, b := fx.commits[fixtureCommits-2], fx.commits[fixtureCommits-1]

	l, st, ws := checkout(t, c, gitDir, a, root)
	checkMode(t, l, overlay)
	if l == nil || st.Kept != 0 {
		t.Fatalf("first checkout: lease %v, kept %d; want a lease and a full materialize", l, st.Kept)
	}
	compareExact(t, ws, fresh(t, gitDir, a))
	damage(t, ws)
	if err := l.Return(); err != nil {
		t.Fatal(err)
	}

	// The same commit again: what the job did is undone, the rest kept.
	l, st, ws = checkout(t, c, gitDir, a, root)
	checkMode(t, l, overlay)
	if l == nil || st.Kept == 0 || overlay && st.Files != 0 {
		t.Fatalf("second checkout: lease %v, stats %+v; want the cached tree reused", l, st)
	}
	compareExact(t, ws, fresh(t, gitDir, a))
	damage(t, ws)
	if err := l.Return(); err != nil {
		t.Fatal(err)
	}

	// The next commit, from a damaged tree.
	l, st, ws = checkout(t, c, gitDir, b, root)
	if l == nil || st.Kept == 0 || st.Files == 0 {
		t.Fatalf("third checkout: lease %v, stats %+v; want reuse with some files written", l, st)
	}
	compareExact(t, ws, fresh(t, gitDir, b))
	if err := l.Return(); err != nil {
		t.Fatal(err)
	}

	// Back to the first commit, untouched: only the diff is written.
	l, _, ws = checkout(t, c, gitDir, fx.commits[0], root)
	compareExact(t, ws, fresh(t, gitDir, fx.commits[0]))
	damage(t, ws)
	l.Release()
	_, err := os.Stat(filepath.Join(c.Dir, "repo", "tree"))
	switch {
	case !overlay && err == nil:
		t.Error("a released lease left a tree in the cache")
	case overlay && err != nil:
		t.Errorf("a released overlay lease took the tree out of the cache: %v", err)
	}
	if overlay {
		// What the jobs did went with the upper dir.
		l, st, ws = checkout(t, c, gitDir, fx.commits[0], root)
		if st.Kept == 0 || st.Files != 0 {
			t.Errorf("checkout after Release: stats %+v, want the tree reused", st)
		}
		compareExact(t, ws, fresh(t, gitDir, fx.commits[0]))
		if err := l.Return(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCache_BrokenEntryMeansFullMaterialize(t *testing.T) {
	eachMode(t, testBrokenEntryMeansFullMaterialize)
}

func testBrokenEntryMeansFullMaterialize(t *testing.T, overlay bool) {
	fx := sharedFixture(t)
	gitDir := fx.variants["packed"]
	a, b := fx.commits[3], fx.commits[4]
	for name, breakIt := range map[string]func(t *testing.T, ent string){
		"truncated index": func(t *testing.T, ent string) {
			idx := filepath.Join(ent, "index")
			fi, err := os.Stat(idx)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(idx, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		},
		"no index": func(t *testing.T, ent string) {
			if err := os.Remove(filepath.Join(ent, "index")); err != nil {
				t.Fatal(err)
			}
		},
		"flipped byte": func(t *testing.T, ent string) {
			idx := filepath.Join(ent, "index")
			data, err := os.ReadFile(idx)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0x40
			if err := os.WriteFile(idx, data, 0o644); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			c, root := newCache(t, overlay)
			l, _, _ := checkout(t, c, gitDir, a, root)
			if err := l.Return(); err != nil {
				t.Fatal(err)
			}
			ent := filepath.Join(c.Dir, "repo")
			breakIt(t, ent)
			// What a SIGKILL mid-Return or mid-checkout leaves behind.
			if err := os.MkdirAll(filepath.Join(ent, "trash-1", "x"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(ent, "index.tmp"), []byte("half"), 0o644); err != nil {
				t.Fatal(err)
			}
			l, st, ws := checkout(t, c, gitDir, b, root)
			if l == nil || st.Kept != 0 {
				t.Fatalf("lease %v, kept %d; want a full materialize", l, st.Kept)
			}
			compareExact(t, ws, fresh(t, gitDir, b))
			names, err := readNames(ent)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(names)
			want := "stamp"
			if overlay {
				want = "index,tree," + filepath.Base(l.upper) + "," + filepath.Base(l.work)
			}
			if strings.Join(names, ",") != want {
				t.Errorf("cache entry holds %q, want %s", names, want)
			}
			l.Release()
		})
	}
}

func TestCache_BusyLockMaterializesInFull(t *testing.T) {
	eachMode(t, testBusyLockMaterializesInFull)
}

func testBusyLockMaterializesInFull(t *testing.T, overlay bool) {
	fx := sharedFixture(t)
	gitDir := fx.variants["packed"]
	c, root := newCache(t, overlay)
	held, _, _ := checkout(t, c, gitDir, fx.commits[1], root)
	checkMode(t, held, overlay)
	if held == nil {
		t.Fatal("no lease on an idle cache")
	}
	l, st, ws := checkout(t, c, gitDir, fx.commits[2], root)
	if l != nil || st.Kept != 0 {
		t.Fatalf("lease %v, kept %d while another checkout holds the cache; want none", l, st.Kept)
	}
	compareExact(t, ws, fresh(t, gitDir, fx.commits[2]))
	if err := l.Return(); err != nil { // a nil lease accepts Return
		t.Fatal(err)
	}
	held.Release()
}

func TestCache_Prune(t *testing.T) {
	eachMode(t, testPrune)
}

func testPrune(t *testing.T, overlay bool) {
	fx := sharedFixture(t)
	gitDir := fx.variants["packed"]
	c, root := newCache(t, overlay)
	l, _, _ := checkout(t, c, gitDir, fx.commits[1], root)
	checkMode(t, l, overlay)
	if err := l.Return(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Prune(time.Now(), time.Hour); err != nil || n != 0 {
		t.Fatalf("Prune of a fresh entry = %d, %v; want 0, nil", n, err)
	}
	if n, err := c.Prune(time.Now().Add(2*time.Hour), time.Hour); err != nil || n != 1 {
		t.Fatalf("Prune of an old entry = %d, %v; want 1, nil", n, err)
	}
	if names, _ := readNames(c.Dir); len(names) != 0 {
		t.Errorf("cache holds %q after Prune, want nothing", names)
	}
}

func TestIndex_Pristine(t *testing.T) {
	idx := &index{stamp: 1000}
	e := indexEntry{path: "f", kind: kindFile, st: fileStat{mode: sIFREG | 0o644, ino: 7, nlink: 1, size: 3, mtime: 500, ctime: 500}}
	for _, tc := range []struct {
		name string
		edit func(*fileStat)
		want bool
	}{
		{"unchanged", func(*fileStat) {}, true},
		{"written in the stamp's tick", func(s *fileStat) { s.ctime = 1000 }, false},
		{"ctime moved", func(s *fileStat) { s.ctime = 501 }, false},
		{"other inode", func(s *fileStat) { s.ino = 8 }, false},
		{"hard linked", func(s *fileStat) { s.nlink = 2 }, false},
		{"chmod", func(s *fileStat) { s.mode = sIFREG | 0o755 }, false},
		{"size", func(s *fileStat) { s.size = 4 }, false},
		{"mtime", func(s *fileStat) { s.mtime = 499 }, false},
		{"chown", func(s *fileStat) { s.uid = 12345 }, false},
		{"chgrp", func(s *fileStat) { s.gid = 12345 }, false},
	} {
		e := e
		st := e.st
		tc.edit(&st)
		if tc.name == "written in the stamp's tick" {
			e.st.ctime = 1000 // recorded in the same tick as the stamp
		}
		if got := idx.pristine(e, st); got != tc.want {
			t.Errorf("%s: pristine = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Directories: mode and owner; their xattrs are verify's to check.
	idx.uid, idx.gid = 5, 6
	d := indexEntry{path: "d", kind: kindDir}
	for _, tc := range []struct {
		name string
		st   fileStat
		want bool
	}{
		{"as written", fileStat{mode: sIFDIR | 0o755, uid: 5, gid: 6}, true},
		{"chmod", fileStat{mode: sIFDIR | 0o777, uid: 5, gid: 6}, false},
		{"chown", fileStat{mode: sIFDIR | 0o755, uid: 12345, gid: 6}, false},
		{"chgrp", fileStat{mode: sIFDIR | 0o755, uid: 5, gid: 12345}, false},
	} {
		if got := idx.pristine(d, tc.st); got != tc.want {
			t.Errorf("directory %s: pristine = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestIndex_EncodeDecode(t *testing.T) {
	idx := &index{}
	idx.reset(hash(t, strings.Repeat("1", 40)), hash(t, strings.Repeat("2", 40)))
	idx.stamp, idx.uid, idx.gid = 123456789, 1000, 1<<31
	idx.entries["a/b"] = indexEntry{path: "a/b", kind: kindExec, hash: hash(t, strings.Repeat("3", 40)),
		st: fileStat{mode: sIFREG | 0o755, ino: 1 << 40, nlink: 1, size: 9, mtime: -5, ctime: 1 << 60, uid: 7, gid: 8}}
	idx.entries["a"] = indexEntry{path: "a", kind: kindDir}
	b := idx.encode()
	got, err := decodeIndex(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.commit != idx.commit || got.tree != idx.tree || got.stamp != idx.stamp || got.uid != idx.uid || got.gid != idx.gid || got.xattrs != idx.xattrs || len(got.entries) != 2 || got.entries["a/b"] != idx.entries["a/b"] {
		t.Errorf("decode(encode) = %+v, want %+v", got, idx)
	}
	for n := range len(b) {
		if _, err := decodeIndex(b[:n]); err == nil {
			t.Fatalf("decode of the first %d of %d bytes succeeded", n, len(b))
		}
	}
}
