package hook_test

import (
	"bytes"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/pkg/push"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// TestAsync_LongPushOptions: the pusher controls refs and push options;
// 300 KB of them handed to the worker once made every async run fail
// (the hand-over was one environment variable, which Linux caps at
// 128 KiB: "argument list too long"). Both runs now run, and see every
// option.
func TestAsync_LongPushOptions(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("a", {"quire/push"}, function(q)
  local n = 0
  for _, o in ipairs(q.jobs("quire/push").options) do n = n + #o end
  return {bytes = n}
end)`)
	sha := r.Commit("long options")
	r.push("-o", "ci.skip", "origin", "main")

	big := strings.Repeat("o", 50_000)
	cmd := exec.Command(bin, "--git-dir", r.Bare, "post-receive", "--async")
	cmd.Env = append(r.Env, "GIT_PUSH_OPTION_COUNT=3")
	for i := range 3 {
		cmd.Env = append(cmd.Env, "GIT_PUSH_OPTION_"+strconv.Itoa(i)+"="+big)
	}
	cmd.Stdin = strings.NewReader(push.ZeroSHA + " " + sha + " refs/heads/a\n" + push.ZeroSHA + " " + sha + " refs/heads/b\n")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("post-receive --async: %v\n%s", err, out.String())
	}
	var done []store.Run
	waitFor(t, "both async runs to end", func() bool {
		done = done[:0]
		for _, run := range r.runs() {
			if run.Ref != "refs/heads/main" && run.State.Ended() {
				done = append(done, run)
			}
		}
		return len(done) == 2
	})
	for _, run := range done {
		if run.State != store.RunComplete {
			t.Errorf("run of %s: %s (%s: %s)\n%s", run.Ref, run.State, run.FailureKind, run.Error, out.String())
		}
	}
	s := r.records()
	for _, run := range done {
		jobs, err := s.ListJobs(t.Context(), run.ID)
		if err != nil || len(jobs) != 1 || !strings.Contains(jobs[0].Outputs, `"bytes":150000`) {
			t.Errorf("run of %s: jobs %+v, %v; want the 150000 bytes of options", run.Ref, jobs, err)
		}
	}
}
