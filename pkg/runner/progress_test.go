package runner

import (
	"path/filepath"
	"strings"
	"testing"
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
		"failed", filepath.Join(o.runDir),
	} {
		if !strings.Contains(p, want) {
			t.Errorf("progress lacks %q", want)
		}
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
