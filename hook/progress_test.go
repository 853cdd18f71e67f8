package hook_test

import (
	"strings"
	"testing"
)

func TestProgress_VerboseAndQuiet(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("talk", {"quire/push"}, function(q)
  q.sh("echo out-line; echo err-line >&2")
  if q.jobs("quire/push").commit_message:find("fail") then error("asked to fail") end
end)`)
	r.Commit("quiet")
	out := r.push()
	if strings.Contains(out, "[talk] out-line") {
		t.Errorf("sh output streamed without --verbose:\n%s", out)
	}

	t.Run("GitConfigVerbose", func(t *testing.T) {
		r.Git(r.Bare, "config", "quire.verbose", "true")
		defer r.Git(r.Bare, "config", "--unset", "quire.verbose")
		r.Commit("verbose")
		out := r.push()
		wantContains(t, out, "remote: [talk] out-line")
		wantContains(t, out, "remote: [talk] err-line")
	})
	t.Run("FlagVerbose", func(t *testing.T) {
		out, code := r.quire("", "--git-dir", r.Bare, "--verbose", "replay", "main")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		wantContains(t, out, "[talk] out-line")
	})
	t.Run("Quiet", func(t *testing.T) {
		out, code := r.quire("", "--git-dir", r.Bare, "--quiet", "replay", "main")
		if code != 0 || strings.TrimSpace(out) != "" {
			t.Errorf("--quiet on success: exit %d, printed:\n%s", code, out)
		}
		r.Commit("fail please")
		r.push()
		out, code = r.quire("", "--git-dir", r.Bare, "--quiet", "replay", "main")
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		wantContains(t, out, "job talk failed")
		wantContains(t, out, "asked to fail")
		if strings.Contains(out, "job talk started") {
			t.Errorf("--quiet printed a non-failure line:\n%s", out)
		}
	})
}
