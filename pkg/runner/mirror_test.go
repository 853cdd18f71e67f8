package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/internal/gittest"
)

func TestRunner_Mirror(t *testing.T) {
	t.Parallel()
	target := filepath.Join(t.TempDir(), "target.git")
	gittest.New(t).Git(filepath.Dir(target), "init", "--quiet", "--bare", target)

	tests := []struct {
		name string
		opts string
		want string // in the job's error; "" for success
	}{
		{"NoTag", `{tag = function(push) return nil end}`, ""},
		{"TagNotString", `{tag = function(push) return 42 end}`, "mirror: tag function returned a number; it must return a tag name (a string) or nil"},
		{"TagInvalid", `{tag = function(push) return "bad..tag" end}`, `mirror: tag function returned "bad..tag", which is not a valid tag name`},
		{"TagRaises", `{tag = function(push) error("no tag today") end}`, "mirror: tag function failed: "},
		{"UndeclaredSecret", `{secret = "nope"}`, `mirror: secret "nope" is not declared`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := target
			if strings.Contains(tt.opts, "secret") {
				url = "http://127.0.0.1:1/unused.git"
			}
			h := newHarness(t, `ci.mirror("`+url+`", `+tt.opts+`)`)
			o := h.run()
			evs := o.shEvents("quire/mirror")
			if tt.want == "" {
				o.wantState("quire/mirror", "complete")
				if len(evs) != 1 || evs[0].Cmd != "git push "+target+" refs/heads/main" {
					t.Errorf("sh_events = %+v, want only the push", evs)
				}
				return
			}
			j := o.wantState("quire/mirror", "failed")
			if !strings.Contains(j.Error, tt.want) {
				t.Errorf("error %q lacks %q", j.Error, tt.want)
			}
			if len(evs) != 0 || j.ExitCode != nil {
				t.Errorf("a step was recorded: %+v, exit %v", evs, j.ExitCode)
			}
			if log := readFileOrEmpty(filepath.Join(o.jobDir("quire/mirror"), "job.log")); !strings.Contains(log, "mirror: ") {
				t.Errorf("job.log lacks the error:\n%s", log)
			}
		})
	}

	t.Run("TagElsewhere", func(t *testing.T) {
		h := newHarness(t, `ci.mirror("`+target+`", {tag = function(push) return "v1" end})`)
		first := h.commit("first")
		h.repo.Git(h.repo.Work, "tag", "v1", first)
		h.repo.Git(h.repo.Work, "push", "--quiet", "origin", "v1")
		h.repo.Write("x", "second\n")
		o := h.run()
		j := o.wantState("quire/mirror", "failed")
		if want := "tag v1 already exists at " + first; !strings.Contains(j.Error, want) {
			t.Errorf("error %q lacks %q", j.Error, want)
		}
		if evs := o.shEvents("quire/mirror"); len(evs) != 1 || evs[0].ExitCode != 1 || j.ExitCode == nil || *j.ExitCode != 1 {
			t.Errorf("tag step = %+v, job exit %v; want one failed step", evs, j.ExitCode)
		}
		log := text(o.lines(o.shLogPath("quire/mirror", 1)))
		if !strings.Contains(log, "stderr: tag v1 already exists") {
			t.Errorf("step log:\n%s", log)
		}
	})
	t.Run("Unreachable", func(t *testing.T) {
		h := newHarness(t, `ci.mirror("http://127.0.0.1:1/r.git")`)
		o := h.run()
		j := o.wantState("quire/mirror", "failed")
		if !strings.Contains(j.Error, "push to http://127.0.0.1:1/r.git: ") || !strings.Contains(j.Error, "connection refused") {
			t.Errorf("error %q", j.Error)
		}
		if !strings.Contains(o.progress, "connection refused") {
			t.Errorf("progress does not show the reason")
		}
	})
	t.Run("SkippedAfterFailedInput", func(t *testing.T) {
		h := newHarness(t, `ci.job("test", {"quire/push"}, function(q) error("red") end)
ci.mirror("`+target+`", {after = {"test"}})`)
		o := h.run()
		o.wantState("quire/mirror", "skipped")
		if _, err := os.Stat(o.jobDir("quire/mirror")); !os.IsNotExist(err) {
			t.Errorf("a skipped mirror has a log directory: %v", err)
		}
	})
}
