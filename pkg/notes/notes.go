// Package notes appends lines to git notes (SPEC §13): a commit's note
// under a notes ref such as refs/notes/quire, written in process with
// go-git as a notes commit that git reads (git notes show, git log
// --notes) on the repository and on every clone that fetches the ref.
// Its Reporter writes one JSON line per ended run.
package notes

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// DefaultRef is the notes ref when config.lua names none.
const DefaultRef = "refs/notes/quire"

// Message is the notes commit's message, as git notes append writes it.
const Message = "Notes added by 'git notes append'\n"

// retryFor bounds how long Append keeps trying while other writers
// hold the ref's lock or move it first (git waits 100 ms for a lock; a
// run's record is worth more patience).
var retryFor = 10 * time.Second

// CheckRef reports what is wrong with ref as a notes ref, if anything.
func CheckRef(ref string) error {
	if !strings.HasPrefix(ref, "refs/notes/") || len(ref) == len("refs/notes/") {
		return fmt.Errorf("notes ref %q must be under refs/notes/, such as %q", ref, DefaultRef)
	}
	if err := plumbing.ReferenceName(ref).Validate(); err != nil {
		return fmt.Errorf("notes ref %q is not a valid ref name", ref)
	}
	return nil
}

// Append adds line (one line; a newline is added) to the note of the
// object commit (a full hex id) under ref in the bare repository at
// gitDir, keeping the note's earlier lines. The ref moves by
// compare-and-swap: when another writer (git, or another quire-hook)
// moved it first, the note is built again on top of the new tip, so no
// writer's line is lost.
func Append(ctx context.Context, gitDir, ref, commit, line string) error {
	if err := CheckRef(ref); err != nil {
		return err
	}
	if !plumbing.IsHash(commit) {
		return fmt.Errorf("append note: %q is not a full commit id", commit)
	}
	if strings.ContainsAny(line, "\n\r") {
		return errors.New("append note: the line holds a line break")
	}
	deadline := time.Now().Add(retryFor)
	for attempt := 0; ; attempt++ {
		err := appendOnce(gitDir, ref, strings.ToLower(commit), line)
		var locked *lockedError
		retry := errors.Is(err, errChanged) || errors.As(err, &locked)
		switch {
		case err == nil:
			return nil
		case !retry || time.Now().After(deadline):
			return fmt.Errorf("append note of %s to %s: %w", commit, ref, err)
		}
		// Back off a little, with jitter, so racing writers spread out.
		wait := time.Duration(1+rand.IntN(1<<min(attempt, 5))) * time.Millisecond
		select {
		case <-ctx.Done():
			return fmt.Errorf("append note of %s to %s: %w", commit, ref, context.Cause(ctx))
		case <-time.After(wait):
		}
	}
}

// appendOnce reads ref's tip, writes the notes commit that appends line
// on top of it and swaps the ref to it.
func appendOnce(gitDir, ref, commit, line string) error {
	repo, err := git.PlainOpen(gitDir)
	if err != nil {
		return fmt.Errorf("open repository %s: %w", gitDir, err)
	}
	s := repo.Storer
	tip, err := readRef(gitDir, ref)
	if err != nil {
		return err
	}
	var root plumbing.Hash // zero: no notes yet
	var parents []plumbing.Hash
	if !tip.IsZero() {
		c, err := object.GetCommit(s, tip)
		if err != nil {
			return fmt.Errorf("read notes commit %s: %w", tip, err)
		}
		root, parents = c.TreeHash, []plumbing.Hash{tip}
	}
	w := writer{s: s, line: line, gitDir: gitDir, shared: readShared(repo)}
	newRoot, err := w.put(root, commit)
	if err != nil {
		return err
	}
	now := time.Now()
	sig := object.Signature{Name: "quire-hook", Email: "quire-hook@" + hostname(), When: now}
	c := &object.Commit{Author: sig, Committer: sig, Message: Message, TreeHash: newRoot, ParentHashes: parents}
	next, err := w.store(c)
	if err != nil {
		return err
	}
	return updateRef(gitDir, ref, tip, next, w.shared)
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}
