package hook_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// This file tests the small sharp edges of issue 8: validate in a clone,
// replay of a commit no branch points at, and the help command.

func TestValidate_WorkTree(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("test", {"quire/push"}, function(q) end)
`)
	r.Commit("valid")
	// An uncommitted edit that breaks the pipeline.
	r.Pipeline(`local ci = require("quire.ci")
ci.job("test", {"quire/push"}, function(q) end)
ci.job("lint", {}, function(q) end)
`)
	path := filepath.Join(r.Work, ".quire", "ci.lua")
	// A source folder named objects is no git directory.
	if err := os.MkdirAll(filepath.Join(r.Work, "cmd", "tool", "objects"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(filepath.Join(r.Work, "cmd"), link); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, dir string
		args      []string
	}{
		{"CurrentDirectory", "", []string{"validate"}},
		// Like git, from any directory of the clone.
		{"QuireDirectory", ".quire", []string{"validate"}},
		{"Subdirectory", "cmd/tool", []string{"validate"}},
		// From a symlink into the clone: its real path leads there.
		{"Symlink", link, []string{"validate"}},
		{"GitDir", "", []string{"--git-dir", filepath.Join(r.Work, ".git"), "validate"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.dir
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(r.Work, dir)
			}
			out, code := mainCombined(t, r.Env, dir, "", tt.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1 for the broken working copy:\n%s", code, out)
			}
			wantContains(t, out, "checking the working copy's "+path+", uncommitted changes included")
			wantContains(t, out, path+":3: Job 'lint' has empty inputs")
			if n := strings.Count(out, "working copy"); n != 1 {
				t.Errorf("the working copy is named on %d lines, want 1:\n%s", n, out)
			}
		})
	}
	t.Run("HEAD", func(t *testing.T) {
		out, code := r.inProcess("", "validate", "HEAD")
		if code != 0 {
			t.Fatalf("exit %d, want 0 for the committed pipeline:\n%s", code, out)
		}
		if want := "1. test <- quire/push\n"; out != want {
			t.Errorf("got:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("Bare", func(t *testing.T) {
		r.push()
		out, code := r.inProcess("", "--git-dir", r.Bare, "validate")
		if code != 0 || strings.Contains(out, "working copy") {
			t.Errorf("a bare repository: exit %d, want 0 checking HEAD:\n%s", code, out)
		}
	})
}

func TestReplay_NoBranchTip(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(okPipeline)
	old := r.Commit("old")
	tip := r.Commit("tip")
	r.push("-o", "ci.skip", "origin", "main")

	out, code := r.quire("", "--git-dir", r.Bare, "replay", old)
	if code != 0 {
		t.Fatalf("replay %s: exit %d:\n%s", old, code, out)
	}
	wantContains(t, out, "quire: warning: "+old[:10]+" is no branch's tip, so the run is recorded under ref "+old[:10]+" and push.branch is nil; pass --ref <branch>")
	if run, _, _ := r.lastRun(); run.Ref != old {
		t.Errorf("ref_name: got %q, want the sha %s", run.Ref, old)
	}

	for _, args := range [][]string{{"replay", tip}, {"replay", "--ref", "main", old}} {
		out, code := r.quire("", append([]string{"--git-dir", r.Bare}, args...)...)
		if code != 0 || strings.Contains(out, "no branch's tip") {
			t.Errorf("%v: exit %d, want 0 and no warning:\n%s", args, code, out)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"help", "install"}, {"--help"}} {
		out, code := mainCombined(t, nil, t.TempDir(), "", args...)
		if code != 0 {
			t.Errorf("%v: exit %d, want 0:\n%s", args, code, out)
		}
		wantContains(t, out, "install")
	}
	out, _ := mainCombined(t, nil, t.TempDir(), "", "help")
	for _, want := range []string{"replay", "validate", "runs", "show", "logs", "gc"} {
		wantContains(t, out, want)
	}
}
