package runner

import (
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/store"
)

func TestRunner_Progress(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
ci.job("ok", {"quire/push"}, function(q) q.sh({"true"}) end)
ci.job("bad", {"ok"}, function(q)
  q.sh("for i in $(seq 1 30); do echo line$i; done; exit 1", {check = true})
end)
ci.job("worse", {"quire/push"}, function(q)
  q.sh("echo first")
  q.sh("echo oops >&2")
  error("worse failed")
end)
`)
	o := h.run()
	p := o.progress

	for _, want := range []string{
		o.res.RunID, "refs/heads/main", o.sha[:7],
		"job ok started", "job ok complete",
		"job bad started", "job bad failed",
		"| line11\n", "| line30\n",
		"job worse failed", "worse failed", "|! oops\n",
		"failed",
	} {
		if !strings.Contains(p, want) {
			t.Errorf("progress lacks %q", want)
		}
	}
	if got, want := lastLine(p), "quire: logs: quire-hook --git-dir "+o.bare+" logs "+o.res.RunID; got != want {
		t.Errorf("last line %q, want %q", got, want)
	}
	if strings.Contains(p, "| line10\n") {
		t.Errorf("progress shows more than the last 20 lines (line10)")
	}
	if i, j := strings.Index(p, "job ok complete"), strings.Index(p, "job bad started"); i < 0 || j < i {
		t.Errorf("events out of order")
	}
	if strings.Contains(p, "| first") {
		t.Errorf("progress shows an sh call other than the failing job's last")
	}
	if strings.Contains(p, "[bad]") {
		t.Errorf("sh output echoed without Verbose")
	}
}

func TestRunner_ProgressVerbose(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
ci.job("talk", {"quire/push"}, function(q)
  q.sh("for i in $(seq 1 300); do echo out$i; echo err$i >&2; done; printf tail")
end)
`)
	h.Verbose = true
	o := h.run()
	for _, want := range []string{"[talk] out1\n", "[talk] out300\n", "[talk] err300\n", "[talk] tail\n"} {
		if !strings.Contains(o.progress, want) {
			t.Errorf("verbose progress lacks %q", want)
		}
	}
}

// lastLine is the last line of progress output.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestRunner_ProgressPointers(t *testing.T) {
	t.Parallel()
	t.Run("PipelineError", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, `ci.job("x", {"nope"}, function(q) end)`)
		o := h.run()
		if o.res.FailureKind != store.FailPipeline {
			t.Fatalf("run: %+v", o.res)
		}
		if got, want := lastLine(o.progress), "quire: logs: quire-hook --git-dir "+o.bare+" logs "+o.res.RunID; got != want {
			t.Errorf("last line %q, want %q", got, want)
		}
	})
	t.Run("URL", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, `ci.job("x", {"quire/push"}, function(q) end)`)
		sha := h.commit("one")
		h.repo.Push("--quiet", "origin", "HEAD:refs/heads/main")
		r, push, src, progress := h.prepare(sha, pushSpec{})
		r.URL = "https://ci.example.com/"
		res, err := r.Run(t.Context(), push, src)
		if err != nil || res.State != "complete" {
			t.Fatalf("run: %+v %v", res, err)
		}
		lines := strings.Split(strings.TrimRight(progress.String(), "\n"), "\n")
		want := []string{
			"quire: logs: quire-hook --git-dir " + h.repo.Bare + " logs " + res.RunID,
			"quire: web: https://ci.example.com/runs/" + res.RunID,
		}
		if got := lines[len(lines)-2:]; got[0] != want[0] || got[1] != want[1] {
			t.Errorf("last lines %q, want %q", got, want)
		}
	})
}

func TestTiming(t *testing.T) {
	t.Parallel()
	queued := time.Unix(1000, 0)
	began := queued.Add(9100 * time.Millisecond)
	end := began.Add(7500 * time.Millisecond)
	for _, c := range []struct {
		name string
		res  Result
		want string
	}{
		{"Waited", Result{began: began, waited: true}, ", waited 9.1s, ran 7.5s"},
		{"RanAtOnce", Result{began: began}, " in 7.5s"},
		{"NeverBegan", Result{}, " after 16.6s"},
	} {
		if got := timing(c.res, queued, end); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
