// Package report renders the records of runs (pkg/store) and their logs
// (pkg/crilog) the way people and programs read them: the JSON documents
// of `runs --json` and `show --json` (docs/SCHEMA.md), the tables of
// `runs` and `show`, and the merged, optionally followed output of
// `logs`. The commands in hook/ and a web UI print the same views.
//
// In the tables, text that a pusher wrote (refs, commit messages,
// commands, errors) is made printable before it reaches a terminal (see
// Printable); the lines of logs are printed as the jobs wrote them.
package report

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/quire-ci/quire-hook/pkg/store"
)

// Record is a run with everything recorded under it.
type Record struct {
	Run           store.Run
	Jobs          []store.Job
	ShEvents      []store.ShEvent
	Notifications []store.Notification
}

// Load reads run id (an id or a unique prefix of one) and its jobs and
// sh calls and its notifications.
func Load(ctx context.Context, s *store.Store, id string) (Record, error) {
	run, err := s.GetRun(ctx, id)
	if err != nil {
		return Record{}, err
	}
	jobs, err := s.ListJobs(ctx, run.ID)
	if err != nil {
		return Record{}, err
	}
	events, err := s.ListShEvents(ctx, run.ID)
	if err != nil {
		return Record{}, err
	}
	notes, err := s.ListNotifications(ctx, run.ID)
	if err != nil {
		return Record{}, err
	}
	return Record{Run: run, Jobs: jobs, ShEvents: events, Notifications: notes}, nil
}

// ListRuns is store.ListRuns where a ref that is not a full ref name
// (refs/...) also matches the branch or the tag of that name: main
// matches refs/heads/main. Runs come newest first.
func ListRuns(ctx context.Context, s *store.Store, f store.RunFilter) ([]store.Run, error) {
	if f.Ref == "" || strings.HasPrefix(f.Ref, "refs/") {
		return s.ListRuns(ctx, f)
	}
	var all []store.Run
	for _, ref := range []string{f.Ref, "refs/heads/" + f.Ref, "refs/tags/" + f.Ref} {
		g := f
		g.Ref = ref
		runs, err := s.ListRuns(ctx, g)
		if err != nil {
			return nil, err
		}
		all = append(all, runs...)
	}
	// Newest first, as ListRuns orders them.
	slices.SortFunc(all, func(a, b store.Run) int {
		if c := cmp.Compare(b.QueuedAtMS, a.QueuedAtMS); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	if f.Limit > 0 && len(all) > f.Limit {
		all = all[:f.Limit]
	}
	return all, nil
}

// ResolveRepo turns a repo as an operator names it into the runs.repo
// it names: the name itself (".git" optional), else the only name it is
// a suffix of at a "/" (tools names team1/tools.git when no other
// tools.git has runs). A suffix of several names is an error listing
// them; a name that matches nothing is returned as it is, and matches
// no run.
func ResolveRepo(ctx context.Context, s *store.Store, name string) (string, error) {
	if name == "" {
		return "", nil
	}
	names, err := s.RepoNames(ctx)
	if err != nil {
		return "", err
	}
	want := strings.TrimSuffix(strings.TrimSuffix(name, "/"), ".git")
	var whole, suffix []string
	for _, n := range names {
		if n == name {
			return n, nil
		}
		bare := strings.TrimSuffix(n, ".git")
		switch {
		case bare == want:
			whole = append(whole, n)
		case strings.HasSuffix(bare, "/"+want):
			suffix = append(suffix, n)
		}
	}
	candidates := whole
	if len(candidates) == 0 {
		candidates = suffix
	}
	switch len(candidates) {
	case 0:
		return name, nil
	case 1:
		return candidates[0], nil
	}
	return "", fmt.Errorf("--repo %s is ambiguous: it names %s; give more of the path", name, strings.Join(candidates, ", "))
}
