package workspace

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fixture is a test repository with every kind of entry, in several
// storage layouts.
type fixture struct {
	work    string   // non-bare repository whose .git holds loose objects
	commits []string // oldest first
	// variants maps a storage layout to the git dir holding all commits.
	variants map[string]string
}

const fixtureCommits = 8

var (
	fixtureOnce sync.Once
	fixtureRoot string
	shared      *fixture
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureRoot != "" {
		os.RemoveAll(fixtureRoot)
	}
	os.Exit(code)
}

// sharedFixture builds the fixture on first use; tests must not modify it.
func sharedFixture(tb testing.TB) *fixture {
	tb.Helper()
	fixtureOnce.Do(func() {
		root, err := os.MkdirTemp("", "quire-workspace-test-")
		if err != nil {
			tb.Fatal(err)
		}
		fixtureRoot = root
		shared = buildFixture(tb, root)
	})
	if shared == nil {
		tb.Fatal("fixture build failed")
	}
	return shared
}

// textBlock returns deterministic source-like text, varied by version.
func textBlock(lines, version int) []byte {
	var b strings.Builder
	for i := range lines {
		v := 0
		if i%97 == version%97 {
			v = version
		}
		fmt.Fprintf(&b, "func f%d() int { return %d * %d } // the quick brown fox\n", i, i, v)
	}
	return []byte(b.String())
}

// writeVersion writes the work tree of commit i.
func writeVersion(tb testing.TB, work string, i int) {
	tb.Helper()
	writeFile(tb, work, "a/b/c/deep.txt", fmt.Appendf(nil, "deep %d\n", i), 0o644)
	writeFile(tb, work, "src/gen.go", textBlock(2000, i), 0o644)
	var log strings.Builder
	for j := range (i + 1) * 100 {
		fmt.Fprintf(&log, "entry %d of the growing log\n", j)
	}
	writeFile(tb, work, "versions/log.txt", []byte(log.String()), 0o644)
	runMode := os.FileMode(0o755)
	if i%5 == 4 {
		runMode = 0o644
	}
	writeFile(tb, work, "bin/run.sh", []byte("#!/bin/sh\necho hi\n"), runMode)
	big := filepath.Join(work, "big.bin")
	if i == 0 || i == fixtureCommits-1 {
		// Past streamMin, with a compressed extent past maxExtentRead.
		data := make([]byte, streamMin+12345)
		rng := rand.NewChaCha8([32]byte{1})
		rng.Read(data[:maxExtentRead+54321])
		writeFile(tb, work, "big.bin", data, 0o644)
	} else if err := os.Remove(big); err != nil && !os.IsNotExist(err) {
		tb.Fatal(err)
	}
}

// buildFixture creates the repositories below root.
func buildFixture(tb testing.TB, root string) *fixture {
	tb.Helper()
	fx := &fixture{work: filepath.Join(root, "work"), variants: map[string]string{}}
	runGit(tb, root, nil, "init", "-q", fx.work)

	// Entries that every commit keeps.
	writeFile(tb, fx.work, "empty", nil, 0o644)
	writeFile(tb, fx.work, "dir with space/ünïcödé file.txt", []byte("accents\n"), 0o644)
	writeFile(tb, fx.work, "日本語.txt", []byte("こんにちは\n"), 0o644)
	writeFile(tb, fx.work, ".quire/ci.lua", []byte("-- pipeline\n"), 0o644)
	writeFile(tb, fx.work, "medium.txt", textBlock(5000, 0), 0o644)
	for i := range fixtureCommits {
		writeVersion(tb, fx.work, i)
		if i == 0 {
			makeLinks(tb, fx.work)
		}
		runGit(tb, fx.work, nil, "add", "-A")
		{
			runGit(tb, fx.work, nil, "update-index", "--add", "--cacheinfo",
				"160000,1234567890123456789012345678901234567890,sub")
			runGit(tb, fx.work, nil, "update-index", "--add", "--cacheinfo",
				"160000,abcdefabcdefabcdefabcdefabcdefabcdefabcd,a/nested sub")
		}
		runGit(tb, fx.work, nil, "commit", "-q", "-m", fmt.Sprintf("commit %d", i))
		fx.commits = append(fx.commits, runGit(tb, fx.work, nil, "rev-parse", "HEAD"))
	}
	fx.variants["loose"] = filepath.Join(fx.work, ".git")

	// Big files skip delta search, which keeps packing the fixture quick.
	const noBigDeltas = "core.bigFileThreshold=1m"

	// Packed layouts, each a bare clone repacked differently, built side
	// by side.
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for name, repack := range map[string][]string{
		"packed":     {"-c", noBigDeltas, "repack", "-q", "-adf", "--window=0"},
		"deltified":  {"-c", noBigDeltas, "repack", "-q", "-adf", "--depth=50", "--window=50"},
		"ref-deltas": {"-c", noBigDeltas, "-c", "repack.useDeltaBaseOffset=false", "repack", "-q", "-adf", "--depth=50", "--window=50"},
	} {
		dir := filepath.Join(root, name+".git")
		fx.variants[name] = dir
		wg.Go(func() {
			_, err := gitOutput(root, nil, "clone", "-q", "--bare", fx.work, dir)
			if err == nil {
				_, err = gitOutput(dir, nil, repack...)
			}
			errs <- err
		})
	}

	// Two packs plus loose objects, as a series of pushes leaves them.
	mixed := filepath.Join(root, "mixed.git")
	runGit(tb, root, nil, "init", "-q", "--bare", mixed)
	for _, push := range []struct {
		commit int
		limit  string
	}{{2, "1"}, {5, "100000"}, {fixtureCommits - 1, "1"}} {
		runGit(tb, mixed, nil, "config", "receive.unpackLimit", push.limit)
		runGit(tb, fx.work, nil, "-c", noBigDeltas, "push", "-q", mixed,
			fx.commits[push.commit]+":refs/heads/main")
	}
	fx.variants["mixed"] = mixed
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			tb.Fatal(err)
		}
	}

	// No objects of its own: all are reached through alternates.
	alt := filepath.Join(root, "alternates.git")
	runGit(tb, root, nil, "clone", "-q", "--bare", "--shared", fx.variants["deltified"], alt)
	fx.variants["alternates"] = alt
	return fx
}

// makeLinks creates the fixture's symlinks: to a file, to a directory,
// upwards, absolute, dangling, and with spaces and non-ASCII in the name.
func makeLinks(tb testing.TB, work string) {
	tb.Helper()
	for name, target := range map[string]string{
		"link":         "a/b/c/deep.txt",
		"dangling":     "does/not/exist",
		"dirlink":      "a/b",
		"a/up":         "../medium.txt",
		"abs":          "/nonexistent/abs",
		"space link ü": "dir with space",
	} {
		if err := os.Symlink(target, filepath.Join(work, name)); err != nil {
			tb.Fatal(err)
		}
	}
}
