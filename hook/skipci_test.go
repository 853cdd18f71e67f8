package hook_test

import (
	"strings"
	"testing"
)

func TestPostReceive_SkipCI(t *testing.T) {
	t.Run("CommitMessage", func(t *testing.T) {
		for _, tt := range []struct{ name, message, marker string }{
			{"SkipCI", "docs: typo [skip ci]", "[skip ci]"},
			{"CISkip", "wip\n\nnot ready [ci skip]", "[ci skip]"},
			{"AnyCase", "Release notes [Skip CI]", "[Skip CI]"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := newRepo(t)
				r.Pipeline(okPipeline)
				r.Commit(tt.message)
				out := r.push()
				wantContains(t, out, "says "+tt.marker+": no run for this ref")
				if n := strings.Count(out, tt.marker); n != 1 {
					t.Errorf("the marker is named on %d lines, want 1:\n%s", n, out)
				}
				if runs := r.runsNow(); len(runs) != 0 {
					t.Errorf("got %d runs, want none", len(runs))
				}
				// The next commit without a marker runs.
				r.Commit("real change")
				r.push()
				if runs := r.runs(); len(runs) != 1 || runs[0].State != "complete" {
					t.Errorf("after a commit without a marker: got %+v, want one complete run", runs)
				}
			})
		}
	})
	t.Run("OnlyThatRef", func(t *testing.T) {
		r := newRepo(t)
		r.Pipeline(okPipeline)
		r.Commit("runs")
		r.Git(r.Work, "branch", "other")
		r.Git(r.Work, "commit", "--quiet", "--allow-empty", "-m", "skip me [ci skip]")
		out := r.push("origin", "main", "other")
		wantContains(t, out, "refs/heads/main: commit")
		runs := r.runs()
		if len(runs) != 1 || runs[0].Ref != "refs/heads/other" {
			t.Errorf("got %+v, want one run of refs/heads/other", runs)
		}
	})
	t.Run("PushOptionWithValue", func(t *testing.T) {
		r := newRepo(t)
		r.Pipeline(okPipeline)
		r.Commit("x")
		out := r.push("-o", "ci.skip=yes", "origin", "main")
		wantContains(t, out, "push option ci.skip=yes: no run for this push")
		if runs := r.runsNow(); len(runs) != 0 {
			t.Errorf("got %d runs, want none", len(runs))
		}
	})
}
