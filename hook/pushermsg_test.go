package hook_test

import (
	"strings"
	"testing"
)

// quireLines are the hook's progress lines in git push output, without
// "remote: quire: " and the padding git adds.
func quireLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		l = strings.TrimRight(l, " \r")
		if rest, ok := strings.CutPrefix(l, "remote: quire: "); ok {
			lines = append(lines, rest)
		}
	}
	return lines
}

// runPrinted runs the command a "logs: quire-hook ..." line printed,
// with the test's binary, from a directory that is not the repository.
func runPrinted(t *testing.T, r *repo, line string) (string, int) {
	t.Helper()
	cmd, ok := strings.CutPrefix(line, "logs: quire-hook ")
	if !ok {
		t.Fatalf("not a logs command: %q", line)
	}
	return runBin(t, r.Env, t.TempDir(), "", strings.Fields(cmd)...)
}

func TestPostReceive_WhatThePusherReads(t *testing.T) {
	t.Run("Complete", func(t *testing.T) {
		r := newRepo(t)
		r.Pipeline(okPipeline)
		r.Commit("ok")
		lines := quireLines(r.push())
		run, _, _ := r.lastRun()
		want := "logs: quire-hook --git-dir " + r.Bare + " logs " + run.ID
		if got := lines[len(lines)-1]; got != want {
			t.Fatalf("last line %q, want %q", got, want)
		}
		if out, code := runPrinted(t, r, want); code != 0 || !strings.Contains(out, "run complete") {
			t.Errorf("the printed command: exit %d:\n%s", code, out)
		}
	})
	t.Run("PipelineError", func(t *testing.T) {
		r := newRepo(t)
		r.Pipeline(`local ci = require("quire.ci")
ci.job("x", {"missing"}, function(q) end)`)
		r.Commit("broken")
		lines := quireLines(r.push())
		run, _, _ := r.lastRun()
		if run.FailureKind != "pipeline" {
			t.Fatalf("run: %s %s %q", run.State, run.FailureKind, run.Error)
		}
		want := "logs: quire-hook --git-dir " + r.Bare + " logs " + run.ID
		if got := lines[len(lines)-1]; got != want {
			t.Fatalf("last line %q, want %q", got, want)
		}
		if out, code := runPrinted(t, r, want); !strings.Contains(out, "missing") {
			t.Errorf("the printed command does not show the pipeline error: exit %d:\n%s", code, out)
		}
	})
	t.Run("URL", func(t *testing.T) {
		r := newRepo(t)
		r.Git(r.Bare, "config", "quire.url", "https://ci.example.com")
		r.Pipeline(okPipeline)
		r.Commit("ok")
		lines := quireLines(r.push())
		run, _, _ := r.lastRun()
		want := []string{
			"logs: quire-hook --git-dir " + r.Bare + " logs " + run.ID,
			"web: https://ci.example.com/runs/" + run.ID,
		}
		if got := lines[len(lines)-2:]; got[0] != want[0] || got[1] != want[1] {
			t.Errorf("last lines %q, want %q", got, want)
		}
	})
}
