package web

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// runView is a run as the pages show it.
type runView struct {
	ID, ShortID, Repo, Ref, RefShort, SHA, ShortSHA, Trigger string
	State                                                    store.RunState
	FailureKind, Error, Pusher, Author, Subject              string
	QueuedUTC, StartedUTC, FinishedUTC, Ago, Took            string
	URL, APIURL, BadgeURL                                    string
}

// view is r as the pages show it; repo is its web name.
func (s *Server) view(r store.Run, repo string, now time.Time) runView {
	v := runView{
		ID: r.ID, ShortID: short(r.ID, 13), Repo: repo, Ref: r.Ref, RefShort: shortRef(r.Ref),
		SHA: r.SHA, ShortSHA: short(r.SHA, 10), Trigger: r.Trigger, State: r.State,
		FailureKind: string(r.FailureKind), Error: clip(r.Error, maxLongText),
		Pusher: clip(r.Pusher, maxShortText), Author: clip(r.Author, maxShortText),
		Subject: clip(r.Subject, maxShortText), QueuedUTC: utc(r.QueuedAtMS), StartedUTC: utc(r.StartedAtMS),
		FinishedUTC: utc(r.FinishedAtMS), Ago: ago(r.QueuedAtMS, now),
		Took:   took(r.StartedAtMS, r.FinishedAtMS, now),
		URL:    s.url("/runs/" + url.PathEscape(r.ID)),
		APIURL: s.url("/api/runs/" + url.PathEscape(r.ID)),
	}
	v.BadgeURL = s.url("/badge/" + escapePath(repo) + "/" + escapePath(shortBranch(r.Ref)) + ".svg")
	return v
}

// shortBranch is a branch's name without refs/heads/; other refs whole.
func shortBranch(ref string) string {
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		return b
	}
	return ref
}

// escapePath escapes each segment of a slash-separated path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// validRunID reports whether id looks like a run id (a UUIDv7, or a
// prefix of at least 4 characters of one) in a URL: 4 to 64 of
// [0-9A-Za-z-]; anything else names no run.
func validRunID(id string) bool { return validName(id, 4, 64, "-") }

// found is a run and where it is recorded.
type found struct {
	src  *source
	cat  *catalog
	run  store.Run
	repo string // its web name
}

// findRun looks run id (or a unique prefix) up in every data root: a
// prefix that names a run in two of them names neither.
func (s *Server) findRun(ctx context.Context, id string) (found, error) {
	if !validRunID(id) {
		return found{}, fmt.Errorf("no run has the id %q: %w", short(id, 80), store.ErrNotFound)
	}
	cat := s.opts.Sources.catalog(ctx)
	var f found
	for _, src := range cat.sources {
		if src.store == nil {
			continue
		}
		r, err := src.store.GetRun(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case errors.Is(err, store.ErrAmbiguous):
			return found{}, badf("%v", err)
		case err != nil:
			return found{}, err
		}
		if !validRunID(r.ID) {
			continue // a row no hook wrote: its id names no directory here
		}
		if f.src != nil && r.ID != f.run.ID {
			return found{}, badf("the run id prefix %s is ambiguous: it matches %s and %s; give more of it", id, f.run.ID, r.ID)
		}
		f = found{src: src, cat: cat, run: r, repo: cat.name(src.root, r.Repo)}
	}
	if f.src == nil {
		return found{}, fmt.Errorf("no run has the id %s: %w", id, store.ErrNotFound)
	}
	return f, nil
}
