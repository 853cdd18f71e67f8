package notes

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestAppend(t *testing.T) {
	gitDir, commits := bareWithCommits(t, t.TempDir(), 3)
	ctx := t.Context()

	t.Run("FirstNote", func(t *testing.T) {
		if err := Append(ctx, gitDir, DefaultRef, commits[0], `{"run":"a"}`); err != nil {
			t.Fatal(err)
		}
		if got := runGit(t, gitDir, "notes", "--ref=quire", "show", commits[0]); got != `{"run":"a"}` {
			t.Errorf("git notes show = %q", got)
		}
		if got := runGit(t, gitDir, "log", "-1", "--format=%an <%ae>|%s", DefaultRef); !strings.HasPrefix(got, "quire-hook <quire-hook@") ||
			!strings.HasSuffix(got, "|Notes added by 'git notes append'") {
			t.Errorf("notes commit = %q", got)
		}
	})
	t.Run("SecondLine", func(t *testing.T) {
		if err := Append(ctx, gitDir, DefaultRef, commits[0], `{"run":"b"}`); err != nil {
			t.Fatal(err)
		}
		if got := runGit(t, gitDir, "notes", "--ref=quire", "show", commits[0]); got != "{\"run\":\"a\"}\n{\"run\":\"b\"}" {
			t.Errorf("git notes show = %q, want both lines in order", got)
		}
		if got := runGit(t, gitDir, "rev-list", "--count", DefaultRef); got != "2" {
			t.Errorf("notes history has %s commits, want 2", got)
		}
	})
	t.Run("KeepsGitsNotes", func(t *testing.T) {
		runGit(t, gitDir, "notes", "--ref=quire", "add", "-m", "written by git", commits[1])
		if err := Append(ctx, gitDir, DefaultRef, commits[1], "line"); err != nil {
			t.Fatal(err)
		}
		if err := Append(ctx, gitDir, DefaultRef, commits[2], "other"); err != nil {
			t.Fatal(err)
		}
		if got := runGit(t, gitDir, "notes", "--ref=quire", "show", commits[1]); got != "written by git\nline" {
			t.Errorf("git notes show = %q", got)
		}
		log := runGit(t, gitDir, "log", "--notes=quire", "--format=%H%n%N", "main")
		for _, want := range []string{commits[0] + "\n{\"run\":\"a\"}\n{\"run\":\"b\"}", commits[1] + "\nwritten by git\nline", commits[2] + "\nother"} {
			if !strings.Contains(log, want) {
				t.Errorf("git log --notes=quire lacks %q:\n%s", want, log)
			}
		}
		runGit(t, gitDir, "fsck", "--strict", "--no-dangling")
	})
	t.Run("PackedRef", func(t *testing.T) {
		runGit(t, gitDir, "pack-refs", "--all")
		if _, err := os.Stat(filepath.Join(gitDir, "refs", "notes", "quire")); !os.IsNotExist(err) {
			t.Fatalf("the ref is still loose after pack-refs: %v", err)
		}
		if err := Append(ctx, gitDir, DefaultRef, commits[2], "after pack-refs"); err != nil {
			t.Fatal(err)
		}
		if got := runGit(t, gitDir, "notes", "--ref=quire", "show", commits[2]); got != "other\nafter pack-refs" {
			t.Errorf("git notes show = %q", got)
		}
	})
	t.Run("OtherRef", func(t *testing.T) {
		if err := Append(ctx, gitDir, "refs/notes/ci", commits[0], "ci"); err != nil {
			t.Fatal(err)
		}
		if got := runGit(t, gitDir, "notes", "--ref=ci", "show", commits[0]); got != "ci" {
			t.Errorf("git notes --ref=ci show = %q", got)
		}
	})
	for _, c := range []struct{ name, ref, commit, line, want string }{
		{"NotNotes", "refs/heads/quire", commits[0], "x", `must be under refs/notes/`},
		{"BadRef", "refs/notes/a..b", commits[0], "x", `not a valid ref name`},
		{"ShortID", DefaultRef, commits[0][:8], "x", `is not a full commit id`},
		{"TwoLines", DefaultRef, commits[0], "x\ny", `line break`},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Append(ctx, gitDir, c.ref, c.commit, c.line)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
		})
	}
	t.Run("WaitsForLock", func(t *testing.T) {
		// A writer holding <ref>.lock (git's protocol) is waited for.
		lock := filepath.Join(gitDir, "refs", "notes", "quire.lock")
		if err := os.WriteFile(lock, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() { done <- Append(ctx, gitDir, DefaultRef, commits[1], "after the lock") }()
		select {
		case err := <-done:
			t.Fatalf("Append returned while the lock was held: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if err := os.Remove(lock); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := runGit(t, gitDir, "notes", "--ref=quire", "show", commits[1]); !strings.HasSuffix(got, "\nafter the lock") {
			t.Errorf("git notes show = %q", got)
		}
	})
	t.Run("StaleLock", func(t *testing.T) {
		lock := filepath.Join(gitDir, "refs", "notes", "stale.lock")
		if err := os.MkdirAll(filepath.Dir(lock), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(lock, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		orig := retryFor
		retryFor = 0
		defer func() { retryFor = orig }()
		err := Append(ctx, gitDir, "refs/notes/stale", commits[0], "x")
		if err == nil || !strings.Contains(err.Error(), lock+" exists") {
			t.Errorf("got %v, want an error naming the lock file", err)
		}
	})
}

// TestAppend_FanOut checks the layout against git's: notes that git
// wrote fanned out are found and stay fanned out, and notes this
// package writes one by one end in the very tree git writes.
func TestAppend_FanOut(t *testing.T) {
	const n = 300
	gitDir, commits := bareWithCommits(t, t.TempDir(), n)
	ctx := t.Context()
	for i, c := range commits {
		runGit(t, gitDir, "notes", "--ref=git", "add", "-m", fmt.Sprintf("note %d", i), c)
		if err := Append(ctx, gitDir, "refs/notes/quire", c, fmt.Sprintf("note %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("SameTreeAsGit", func(t *testing.T) {
		names := rootNames(t, gitDir, "refs/notes/git")
		if len(names) == 0 || len(names[0]) != 2 {
			t.Fatalf("git did not fan out %d notes: root %v", n, names[:min(len(names), 5)])
		}
		gitTree := runGit(t, gitDir, "rev-parse", "refs/notes/git^{tree}")
		if got := runGit(t, gitDir, "rev-parse", "refs/notes/quire^{tree}"); got != gitTree {
			t.Errorf("notes tree %s, git's %s: layouts differ\nours: %v\ngit's: %v", got, gitTree,
				rootNames(t, gitDir, "refs/notes/quire")[:5], names[:5])
		}
	})
	t.Run("AppendToGitsFanOut", func(t *testing.T) {
		for _, i := range []int{0, 150, n - 1} {
			if err := Append(ctx, gitDir, "refs/notes/git", commits[i], "appended"); err != nil {
				t.Fatal(err)
			}
			if got, want := runGit(t, gitDir, "notes", "--ref=git", "show", commits[i]), fmt.Sprintf("note %d\nappended", i); got != want {
				t.Errorf("git notes show %s = %q, want %q", commits[i], got, want)
			}
		}
		if got := strings.Count(runGit(t, gitDir, "notes", "--ref=git", "list"), "\n") + 1; got != n {
			t.Errorf("git notes list has %d notes, want %d", got, n)
		}
		for _, name := range rootNames(t, gitDir, "refs/notes/git") {
			if len(name) != 2 {
				t.Errorf("root entry %q: the fan-out was not kept", name)
			}
		}
		// git goes on appending on top of ours.
		runGit(t, gitDir, "notes", "--ref=git", "append", "-m", "by git again", commits[0])
		if got := runGit(t, gitDir, "notes", "--ref=git", "show", commits[0]); got != "note 0\nappended\n\nby git again" {
			t.Errorf("git notes show = %q", got)
		}
		runGit(t, gitDir, "fsck", "--strict", "--no-dangling")
	})
	t.Run("FastImportLayout", func(t *testing.T) {
		// fast-import fans out by its own rule; what it wrote is kept.
		dir, cs := bareWithCommits(t, t.TempDir(), 50, "refs/notes/quire")
		before := rootNames(t, dir, "refs/notes/quire")
		if err := Append(ctx, dir, DefaultRef, cs[7], "mine"); err != nil {
			t.Fatal(err)
		}
		if got := runGit(t, dir, "notes", "--ref=quire", "show", cs[7]); got != "note 8\nmine" {
			t.Errorf("git notes show = %q", got)
		}
		if after := rootNames(t, dir, "refs/notes/quire"); !slices.Equal(before, after) {
			t.Errorf("root entries changed from %v to %v", before, after)
		}
	})
}

// TestAppend_Concurrent races writers on one ref: every line must
// survive.
func TestAppend_Concurrent(t *testing.T) {
	gitDir, commits := bareWithCommits(t, t.TempDir(), 10)
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i, c := range commits {
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- Append(ctx, gitDir, DefaultRef, c, fmt.Sprintf("line %d.%d", i, w))
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for i, c := range commits {
		note := runGit(t, gitDir, "notes", "--ref=quire", "show", c)
		for _, want := range []string{fmt.Sprintf("line %d.0", i), fmt.Sprintf("line %d.1", i), fmt.Sprintf("line %d.2", i)} {
			if !strings.Contains(note, want) {
				t.Errorf("note of commit %d lacks %q:\n%s", i, want, note)
			}
		}
	}
}

// TestAppend_SharedRepository checks that what Append creates in a
// repository with core.sharedRepository = group is group-writable, as
// git makes it, so that the next pusher can write there too.
func TestAppend_SharedRepository(t *testing.T) {
	gitDir, commits := bareWithCommits(t, t.TempDir(), 1)
	runGit(t, gitDir, "config", "core.sharedRepository", "group")
	if err := Append(t.Context(), gitDir, "refs/notes/shared/quire", commits[0], "x"); err != nil {
		t.Fatal(err)
	}
	tip := runGit(t, gitDir, "rev-parse", "refs/notes/shared/quire")
	for _, c := range []struct {
		path string
		want os.FileMode
	}{
		{filepath.Join(gitDir, "objects", tip[:2]), 0o070 | os.ModeSetgid},
		{filepath.Join(gitDir, "objects", tip[:2], tip[2:]), 0o040},
		{filepath.Join(gitDir, "refs", "notes", "shared"), 0o070 | os.ModeSetgid},
		{filepath.Join(gitDir, "refs", "notes", "shared", "quire"), 0o060},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (0o070 | os.ModeSetgid); got != c.want {
			t.Errorf("%s: mode %v, want the bits %v", c.path, fi.Mode(), c.want)
		}
	}
}
