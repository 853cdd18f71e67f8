package report_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/report"
	"github.com/quire-ci/quire-hook/pkg/store"
)

func TestListRuns(t *testing.T) {
	f := newFixture(t)
	base := int64(1_700_000_000_000)
	f.run("01a00000-0000-7000-8000-00000000000a", "a.git", "refs/heads/main", store.RunComplete, base)
	f.run("01a00000-0000-7000-8000-00000000000b", "a.git", "refs/tags/main", store.RunComplete, base+1)
	f.run("01a00000-0000-7000-8000-00000000000c", "a.git", "refs/heads/other", store.RunComplete, base+2)
	f.run("01a00000-0000-7000-8000-00000000000d", "b.git", "main", store.RunFailed, base+3)
	for _, tc := range []struct {
		name string
		f    store.RunFilter
		want string // last characters of the ids, newest first
	}{
		{"All", store.RunFilter{}, "dcba"},
		{"ShortRef", store.RunFilter{Ref: "main"}, "dba"},
		{"FullRef", store.RunFilter{Ref: "refs/heads/main"}, "a"},
		{"ShortRefLimit", store.RunFilter{Ref: "main", Limit: 2}, "db"},
		{"RepoAndRef", store.RunFilter{Repo: "a.git", Ref: "main"}, "ba"},
		{"State", store.RunFilter{State: store.RunFailed}, "d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runs, err := report.ListRuns(t.Context(), f.store, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			for _, r := range runs {
				got += r.ID[len(r.ID)-1:]
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestResolveRepo(t *testing.T) {
	f := newFixture(t)
	for i, repo := range []string{"team1/tools.git", "team2/tools.git", "team1/web.git", "solo"} {
		f.run("01a00000-0000-7000-8000-00000000001"+string(rune('0'+i)), repo, "refs/heads/main", store.RunComplete, 1_700_000_000_000)
	}
	for _, tc := range []struct{ in, want, err string }{
		{"", "", ""},
		{"team1/tools.git", "team1/tools.git", ""},
		{"team1/tools", "team1/tools.git", ""},
		{"web", "team1/web.git", ""},
		{"solo.git", "solo", ""},
		{"nothing", "nothing", ""},
		{"tools", "", "ambiguous: it names team1/tools.git, team2/tools.git"},
	} {
		got, err := report.ResolveRepo(t.Context(), f.store, tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ResolveRepo(%q): %v, want an error with %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("ResolveRepo(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	names, _ := f.store.RepoNames(t.Context())
	if !slices.Contains(names, "solo") {
		t.Errorf("RepoNames %q", names)
	}
}
