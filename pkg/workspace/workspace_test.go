package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// packTypes counts the entry types in the packs of gitDir, to prove a
// fixture layout exercises what its name says.
func packTypes(tb testing.TB, gitDir string) (packs int, types map[plumbing.ObjectType]int) {
	tb.Helper()
	db, err := openODB(gitDir, true)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.close()
	types = map[plumbing.ObjectType]int{}
	r := newReader(db, newBaseCache(1<<20))
	for _, p := range db.packs {
		for _, off := range p.offsets[:len(p.offsets)-1] {
			e, _, err := r.readEntry(p, off)
			if err != nil {
				tb.Fatal(err)
			}
			types[e.typ]++
		}
	}
	return len(db.packs), types
}

// looseCount counts the loose objects of gitDir.
func looseCount(tb testing.TB, gitDir string) int {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(gitDir, "objects", "[0-9a-f][0-9a-f]", "*"))
	if err != nil {
		tb.Fatal(err)
	}
	return len(files)
}

func TestMaterialize_Layouts(t *testing.T) {
	fx := sharedFixture(t)
	for _, tc := range []struct {
		variant    string
		packs      int // -1 for at least two
		loose, ofs bool
		ref        bool
	}{
		{variant: "loose", packs: 0, loose: true},
		{variant: "packed", packs: 1},
		{variant: "deltified", packs: 1, ofs: true},
		{variant: "ref-deltas", packs: 1, ref: true},
		{variant: "mixed", packs: 2, loose: true, ofs: true, ref: true},
		{variant: "alternates", packs: 1, ofs: true},
	} {
		t.Run(tc.variant, func(t *testing.T) {
			packs, types := packTypes(t, fx.variants[tc.variant])
			if packs != tc.packs {
				t.Errorf("packs = %d, want %d", packs, tc.packs)
			}
			if got := looseCount(t, fx.variants[tc.variant]) > 0; got != tc.loose {
				t.Errorf("has loose objects = %v, want %v", got, tc.loose)
			}
			if got := types[plumbing.OFSDeltaObject] > 0; got != tc.ofs {
				t.Errorf("has OFS deltas = %v, want %v (%v)", got, tc.ofs, types)
			}
			if got := types[plumbing.REFDeltaObject] > 0; got != tc.ref {
				t.Errorf("has REF deltas = %v, want %v (%v)", got, tc.ref, types)
			}
		})
	}
}

func TestMaterialize_MatchesGitArchive(t *testing.T) {
	fx := sharedFixture(t)
	variants := slices.Sorted(func(yield func(string) bool) {
		for v := range fx.variants {
			if !yield(v) {
				return
			}
		}
	})
	for _, variant := range append(variants, "deltified-readat") {
		// The -readat variant reads its packs with ReadAt instead of mmap.
		mapPacks := !strings.HasSuffix(variant, "-readat")
		gitDir := fx.variants[strings.TrimSuffix(variant, "-readat")]
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			for i, commit := range fx.commits {
				// Undeltified layouts store each commit alike: the ends do.
				if (variant == "loose" || variant == "packed" || variant == "alternates") && i > 0 && i < len(fx.commits)-1 {
					continue
				}
				t.Run(strconv.Itoa(i), func(t *testing.T) {
					tmp := t.TempDir()
					got, want := filepath.Join(tmp, "quire"), filepath.Join(tmp, "git")
					if _, err := materialize(t.Context(), gitDir, hash(t, commit), got, mapPacks, nil); err != nil {
						t.Fatal(err)
					}
					gitArchive(t, gitDir, commit, want)
					compareDirs(t, got, want)
				})
			}
		})
	}
}

func TestMaterialize_Stats(t *testing.T) {
	fx := sharedFixture(t)
	head := fx.commits[len(fx.commits)-1]

	// Expected figures straight from git's own listing.
	var want Stats
	for line := range strings.Lines(runGit(t, fx.work, nil, "ls-tree", "-r", "-t", "-l", head)) {
		meta, _, _ := strings.Cut(line, "\t")
		f := strings.Fields(meta)
		switch f[0] {
		case "040000":
			want.Dirs++
		case "120000":
			want.Symlinks++
		case "160000":
			want.Submodules++
		default:
			size, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			want.Files++
			want.Bytes += size
		}
	}
	if want.Symlinks != 6 || want.Submodules != 2 || want.Files < 10 {
		t.Fatalf("fixture listing looks wrong: %+v", want)
	}
	for variant, gitDir := range fx.variants {
		t.Run(variant, func(t *testing.T) {
			got, err := Materialize(t.Context(), gitDir, hash(t, head), filepath.Join(t.TempDir(), "ws"))
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("stats = %+v, want %+v", got, want)
			}
		})
	}
}

func TestMaterialize_Dir(t *testing.T) {
	fx := sharedFixture(t)
	gitDir, commit := fx.variants["packed"], hash(t, fx.commits[0])
	t.Run("EmptyExisting", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := Materialize(t.Context(), gitDir, commit, dir); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "a/b/c/deep.txt")); err != nil {
			t.Error(err)
		}
	})
	t.Run("MissingParents", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "x", "y", "ws")
		if _, err := Materialize(t.Context(), gitDir, commit, dir); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), os.FileMode(0o755); got != want {
			t.Errorf("workspace mode = %v, want %v", got, want)
		}
	})
	t.Run("NotEmpty", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir, "stale", []byte("x"), 0o644)
		_, err := Materialize(t.Context(), gitDir, commit, dir)
		if err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("err = %v, want a not-empty error", err)
		}
	})
	t.Run("IsFile", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "file")
		writeFile(t, filepath.Dir(dir), "file", []byte("x"), 0o644)
		if _, err := Materialize(t.Context(), gitDir, commit, dir); err == nil {
			t.Fatal("err = nil, want an error")
		}
	})
}

func TestMaterialize_MissingObject(t *testing.T) {
	fx := sharedFixture(t)
	head := fx.commits[len(fx.commits)-1]
	for _, tc := range []struct {
		name, path string
		wantPath   string
	}{
		{name: "Blob", path: "a/b/c/deep.txt", wantPath: "a/b/c/deep.txt"},
		{name: "Subtree", path: "a/b", wantPath: "a/b"},
		{name: "SymlinkTarget", path: "dirlink", wantPath: "dirlink"},
		{name: "BigBlob", path: "big.bin", wantPath: "big.bin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := filepath.Join(t.TempDir(), "repo")
			copyDir(t, fx.work, repo, true)
			obj := runGit(t, repo, nil, "rev-parse", head+":"+tc.path)
			if err := os.Remove(filepath.Join(repo, ".git", "objects", obj[:2], obj[2:])); err != nil {
				t.Fatal(err)
			}
			_, err := Materialize(t.Context(), filepath.Join(repo, ".git"), hash(t, head), filepath.Join(t.TempDir(), "ws"))
			if !errors.Is(err, plumbing.ErrObjectNotFound) {
				t.Fatalf("err = %v, want object not found", err)
			}
			if !strings.Contains(err.Error(), " "+tc.wantPath+" ") {
				t.Errorf("err = %v, want it to name %s", err, tc.wantPath)
			}
		})
	}
	t.Run("Commit", func(t *testing.T) {
		_, err := Materialize(t.Context(), fx.variants["packed"], plumbing.NewHash(strings.Repeat("ab", 20)), t.TempDir())
		if !errors.Is(err, plumbing.ErrObjectNotFound) {
			t.Fatalf("err = %v, want object not found", err)
		}
	})
	t.Run("NotACommit", func(t *testing.T) {
		blob := runGit(t, fx.work, nil, "rev-parse", head+":empty")
		_, err := Materialize(t.Context(), fx.variants["packed"], hash(t, blob), t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "blob") {
			t.Fatalf("err = %v, want a not-a-commit error", err)
		}
	})
	t.Run("NoRepository", func(t *testing.T) {
		_, err := Materialize(t.Context(), t.TempDir(), hash(t, head), filepath.Join(t.TempDir(), "ws"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v, want not exist", err)
		}
	})
}

func TestMaterialize_CorruptPack(t *testing.T) {
	fx := sharedFixture(t)
	head := hash(t, fx.commits[len(fx.commits)-1])
	for _, tc := range []struct {
		name   string
		damage func(data []byte) []byte
	}{
		{"Truncated", func(data []byte) []byte { return data[:len(data)/2] }},
		{"Zeroed", func(data []byte) []byte {
			clear(data[12:])
			return data
		}},
		{"Ones", func(data []byte) []byte {
			for i := 12; i < len(data); i++ {
				data[i] = 0xff
			}
			return data
		}},
	} {
		for _, mapPacks := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/mmap=%v", tc.name, mapPacks), func(t *testing.T) {
				repo := filepath.Join(t.TempDir(), "repo.git")
				copyDir(t, fx.variants["deltified"], repo, false)
				packs, err := filepath.Glob(filepath.Join(repo, "objects", "pack", "*.pack"))
				if err != nil || len(packs) != 1 {
					t.Fatalf("packs = %v, %v; want one", packs, err)
				}
				data, err := os.ReadFile(packs[0])
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(packs[0], tc.damage(data), 0o644); err != nil {
					t.Fatal(err)
				}
				_, err = materialize(t.Context(), repo, head, filepath.Join(t.TempDir(), "ws"), mapPacks, nil)
				if err == nil {
					t.Fatal("err = nil, want an error")
				}
			})
		}
	}
}

func TestMaterialize_Cancelled(t *testing.T) {
	fx := sharedFixture(t)
	head := hash(t, fx.commits[len(fx.commits)-1])
	t.Run("Before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := Materialize(ctx, fx.variants["packed"], head, filepath.Join(t.TempDir(), "ws"))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("Walk", func(t *testing.T) {
		db, err := openODB(fx.variants["packed"], true)
		if err != nil {
			t.Fatal(err)
		}
		defer db.close()
		r := newReader(db, newBaseCache(1<<20))
		root, err := commitTree(r, head)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var st Stats
		err = walk(ctx, r, root, t.TempDir(), make(chan job), &st, nil)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("Stream", func(t *testing.T) {
		db, err := openODB(fx.variants["packed"], true)
		if err != nil {
			t.Fatal(err)
		}
		defer db.close()
		big := runGit(t, fx.work, nil, "rev-parse", fx.commits[len(fx.commits)-1]+":big.bin")
		dir := t.TempDir()
		w := &writer{r: newReader(db, newBaseCache(1<<20)), root: dir}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		var st Stats
		err = w.write(ctx, job{path: "big.bin", hash: hash(t, big), kind: kindFile}, &st)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		fi, err := os.Stat(filepath.Join(dir, "big.bin"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != 0 {
			t.Errorf("wrote %d bytes after cancellation, want 0", fi.Size())
		}
	})
}

func TestBaseCache_Put(t *testing.T) {
	p := &pack{}
	c := newBaseCache(100)
	for i := range 4 {
		c.put(cacheKey{p, int64(i)}, plumbing.BlobObject, make([]byte, 25))
	}
	c.get(cacheKey{p, 0}) // now most recently used
	c.put(cacheKey{p, 4}, plumbing.BlobObject, make([]byte, 25))
	c.put(cacheKey{p, 5}, plumbing.BlobObject, make([]byte, 26)) // over a quarter: not kept
	var got []int64
	for i := range 6 {
		if _, _, ok := c.get(cacheKey{p, int64(i)}); ok {
			got = append(got, int64(i))
		}
	}
	if want := []int64{0, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("cached offsets = %v, want %v", got, want)
	}
	if got, want := c.used, int64(100); got != want {
		t.Errorf("used = %d, want %d", got, want)
	}
}
