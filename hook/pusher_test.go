package hook_test

import (
	"encoding/json"
	"os/user"
	"testing"
)

func TestPostReceive_Pusher(t *testing.T) {
	t.Run("GitLab", func(t *testing.T) {
		r := newRepo(t)
		r.Env = append(r.Env, "GL_USERNAME=alice", "REMOTE_USER=not-me")
		r.Pipeline(okPipeline)
		r.Commit("Fix the build\n\nA longer body.")
		r.push()
		run, _, _ := r.lastRun()
		if got, want := run.Pusher, "alice"; got != want {
			t.Errorf("pusher: got %q, want %q", got, want)
		}
		if got, want := run.Author, "Test Author <author@example.com>"; got != want {
			t.Errorf("author: got %q, want %q", got, want)
		}
		if got, want := run.Subject, "Fix the build"; got != want {
			t.Errorf("subject: got %q, want %q", got, want)
		}
	})
	t.Run("OSUser", func(t *testing.T) {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		r := newRepo(t)
		r.Pipeline(okPipeline)
		r.Commit("x")
		r.push()
		run, _, _ := r.lastRun()
		if got, want := run.Pusher, u.Username; got != want {
			t.Errorf("pusher: got %q, want %q", got, want)
		}
	})
	t.Run("Async", func(t *testing.T) {
		r := newRepo(t)
		r.Env = append(r.Env, "GITEA_PUSHER_NAME=carol")
		r.Git(r.Bare, "config", "quire.async", "true")
		r.Pipeline(okPipeline)
		r.Commit("queued")
		r.push()
		waitFor(t, "the background run to end", func() bool {
			runs := r.runs()
			return len(runs) == 1 && runs[0].FinishedAtMS != 0
		})
		run, _, _ := r.lastRun()
		if got, want := run.Pusher, "carol"; got != want {
			t.Errorf("pusher: got %q, want %q", got, want)
		}
	})
	t.Run("Replay", func(t *testing.T) {
		r := newRepo(t)
		r.Pipeline(okPipeline)
		r.Commit("x")
		r.push("-o", "ci.skip", "origin", "main")
		env := append(r.Env, "REMOTE_USER=dave")
		if out, code := runBin(t, env, r.Work, "", "--git-dir", r.Bare, "replay", "main"); code != 0 {
			t.Fatalf("replay: exit %d:\n%s", code, out)
		}
		run, _, _ := r.lastRun()
		if got, want := run.Pusher, "dave"; got != want {
			t.Errorf("pusher: got %q, want %q", got, want)
		}
	})
}

func TestRunsShow_Pusher(t *testing.T) {
	r := newRepo(t)
	r.Env = append(r.Env, "GL_USERNAME=alice")
	r.Pipeline(okPipeline)
	r.Commit("Fix the build\n\nA longer body.")
	r.push()
	run, _, _ := r.lastRun()

	out, code := r.quire("", "--git-dir", r.Bare, "runs")
	if code != 0 {
		t.Fatalf("runs: exit %d:\n%s", code, out)
	}
	for _, want := range []string{"PUSHER", "AUTHOR", "SUBJECT", "alice", "Test Author", "Fix the build"} {
		wantContains(t, out, want)
	}
	out, code = r.quire("", "--git-dir", r.Bare, "show", run.ID)
	if code != 0 {
		t.Fatalf("show: exit %d:\n%s", code, out)
	}
	for _, want := range []string{"pusher   alice\n", "author   Test Author <author@example.com>\n", "subject  Fix the build\n"} {
		wantContains(t, out, want)
	}
	want := map[string]any{"pusher": "alice", "author": "Test Author <author@example.com>", "subject": "Fix the build"}
	for _, args := range [][]string{{"runs", "--json"}, {"show", run.ID, "--json"}} {
		out, code := r.quire("", append([]string{"--git-dir", r.Bare}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d:\n%s", args, code, out)
		}
		var runs []map[string]any
		var show struct{ Run map[string]any }
		if args[0] == "runs" {
			err := json.Unmarshal([]byte(out), &runs)
			if err != nil || len(runs) != 1 {
				t.Fatalf("runs --json: %v, %d runs:\n%s", err, len(runs), out)
			}
		} else {
			if err := json.Unmarshal([]byte(out), &show); err != nil {
				t.Fatalf("show --json: %v:\n%s", err, out)
			}
			runs = append(runs, show.Run)
		}
		for k, v := range want {
			if got := runs[0][k]; got != v {
				t.Errorf("%v: %s = %v, want %v", args, k, got, v)
			}
		}
	}
}
