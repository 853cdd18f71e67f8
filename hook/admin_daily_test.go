package hook_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// skipPipeline fails its build job when the commit says "broken", so
// that deploy, which needs build, is skipped.
const skipPipeline = `local ci = require("quire.ci")
ci.job("build", {"quire/push"}, function(q)
  q.sh("echo building")
  if q.jobs("quire/push").commit_message == "broken" then error("build broke") end
end)
ci.job("deploy", {"build"}, function(q) q.sh("echo deployed") end)`

func TestAdmin_DailyCommands(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(skipPipeline)
	r.Commit("good")
	r.push() // main: complete
	r.Commit("broken")
	r.push("origin", "main:feature") // feature: failed (job), deploy skipped
	runs := r.runs()
	failed, complete := runs[0], runs[1]
	if failed.State != "failed" || complete.State != "complete" {
		t.Fatalf("runs %s and %s, want failed and complete", failed.State, complete.State)
	}

	t.Run("FollowExitCodes", func(t *testing.T) {
		for _, c := range []struct {
			id   string
			code int
		}{{complete.ID, 0}, {failed.ID, 1}} {
			out, code := r.quire("", "--git-dir", r.Bare, "logs", "-f", c.id)
			if code != c.code {
				t.Errorf("logs -f %s: exit %d, want %d:\n%s", c.id, code, c.code, out)
			}
		}
		// Without --follow, printing what is there succeeds.
		if out, code := r.quire("", "--git-dir", r.Bare, "logs", failed.ID); code != 0 {
			t.Errorf("logs: exit %d, want 0:\n%s", code, out)
		}
	})
	t.Run("SkippedJob", func(t *testing.T) {
		out, code := r.quire("", "--git-dir", r.Bare, "logs", failed.ID, "deploy")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if want := "==> job deploy: skipped: input job 'build' failed\n"; out != want {
			t.Errorf("got %q, want %q", out, want)
		}
	})
	t.Run("Latest", func(t *testing.T) {
		for _, args := range [][]string{{"show", "latest", "--json"}, {"show", "--json", "latest"}, {"show", "--ref", "feature", "--json"}, {"show", "latest", "--ref", "refs/heads/feature", "--json"}} {
			if got := shownRun(t, r, args...); got != failed.ID {
				t.Errorf("%v: run %s, want the newest, %s", args, got, failed.ID)
			}
		}
		if got := shownRun(t, r, "show", "--ref", "main", "--json"); got != complete.ID {
			t.Errorf("--ref main: run %s, want %s", got, complete.ID)
		}
		out, code := r.quire("", "--git-dir", r.Bare, "logs", "--ref", "main", "deploy")
		if code != 0 {
			t.Fatalf("logs --ref main deploy: exit %d:\n%s", code, out)
		}
		wantLines(t, out, "deployed")
		out, code = r.quire("", "--git-dir", r.Bare, "logs", "latest", "build")
		if code != 0 {
			t.Fatalf("logs latest build: exit %d:\n%s", code, out)
		}
		wantLines(t, out, "building")
		out, code = r.quire("", "--git-dir", r.Bare, "show", "--ref", "nope")
		if code != 2 || strings.Count(out, "\n") != 1 {
			t.Errorf("--ref nope: exit %d, want 2 with one line:\n%s", code, out)
		}
		wantContains(t, out, "no run of ref nope")
	})
}

// shownRun returns the id of the run `quire-hook show ... --json` prints.
func shownRun(t *testing.T, r *repo, args ...string) string {
	t.Helper()
	out, code := r.quire("", append([]string{"--git-dir", r.Bare}, args...)...)
	if code != 0 {
		t.Fatalf("%v: exit %d:\n%s", args, code, out)
	}
	var rec struct {
		Run struct {
			ID string `json:"id"`
		} `json:"run"`
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("%v: parse: %v\n%s", args, err, out)
	}
	return rec.Run.ID
}

func TestLogs_FollowFailedRun(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("slow", {"quire/push"}, function(q)
  q.sh("echo started; sleep 0.5; exit 3", {check = true})
end)`)
	r.Commit("x")
	r.push("-o", "ci.skip", "origin", "main")
	replay, _ := start(t, r.Env, "--git-dir", r.Bare, "replay", "main")
	waitFor(t, "the run", func() bool { return len(r.runsNow()) == 1 })
	logs, out := start(t, r.Env, "--git-dir", r.Bare, "logs", "-f", "latest")
	err := waitExit(logs, 20*time.Second)
	waitExit(replay, 20*time.Second)
	if code := logs.ProcessState.ExitCode(); code != 1 {
		t.Errorf("logs -f of a failed run: exit %d (%v), want 1:\n%s", code, err, out)
	}
	got := headerTimes.ReplaceAllString(out.String(), " in T")
	// The headers printed while the job ran are repeated with how it
	// ended.
	wantLines(t, got, "==> job slow: active", "==> slow sh-1", "started", "==> slow sh-1 (exit 3): echo started; sleep 0.5; exit 3",
		"==> job slow: failed in T: .quire/ci.lua:3: command echo started; sleep 0.5; exit 3 exited with 3 (check = true) ...",
		"==> run failed (job) in T: job 'slow' failed")
}
