package hook_test

import (
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/internal/gittest"
	"github.com/quire-ci/quire-hook/pkg/store"
)

// mirrorPipeline runs a test job, then mirrors to the URL %s with the
// token secret, tagging the pushed commit ci-<short sha>.
const mirrorPipeline = `
local ci = require("quire.ci")
ci.job("test", {"quire/push"}, function(q) q.sh("true") end)
ci.mirror("%s", {%s
  after = {"test"},
  tag = function(push) return "ci-" .. push.sha:sub(1, 8) end,
})
ci.job("after-mirror", {"quire/mirror"}, function(q) return q.jobs("quire/mirror") end)
`

func TestPostReceive_MirrorHTTP(t *testing.T) {
	const token = "ghs_mirrorT0ken4f3e2d1c0b"
	targets := t.TempDir()
	target := newTarget(t, targets, "target.git")
	srv := gitServer(t, targets, token)
	url := srv.URL + "/target.git"

	r := newRepo(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	writeFile(t, tokenFile, token+"\n")
	config := filepath.Join(dir, "config.lua")
	writeFile(t, config, `return { secrets = { mirror_token = { file = "`+tokenFile+`" } } }`)
	r.Env = append(r.Env, "QUIRE_CONFIG="+config)
	r.Pipeline(strings.Replace(strings.Replace(mirrorPipeline, "%s", url, 1), "%s", `secret = "mirror_token",`, 1))
	dataRoot := filepath.Join(r.Bare, "quire")
	texts := map[string]string{"token": token}

	t.Run("RightToken", func(t *testing.T) {
		sha := r.Commit("mirror me")
		progress := r.push()
		run, jobs, events := r.lastRun()
		m := jobs["quire/mirror"]
		if m.State != "complete" || m.ExitCode == nil || *m.ExitCode != 0 {
			t.Fatalf("mirror job: %s exit %v: %s\n%s", m.State, m.ExitCode, m.Error, progress)
		}
		tag := "ci-" + sha[:8]
		for _, ref := range []string{"refs/heads/main", "refs/tags/" + tag} {
			if got := r.Git(target, "rev-parse", ref); got != sha {
				t.Errorf("target %s = %s, want %s", ref, got, sha)
			}
		}
		if got := r.Git(r.Bare, "rev-parse", "refs/tags/"+tag); got != sha {
			t.Errorf("bare repo tag %s = %s, want %s", tag, got, sha)
		}
		steps := mirrorEvents(events)
		want := []string{"git tag " + tag + " " + sha, "git push " + url + " refs/heads/main refs/tags/" + tag}
		if len(steps) != 2 || steps[0].Cmd != want[0] || steps[1].Cmd != want[1] || steps[0].ExitCode != 0 || steps[1].ExitCode != 0 {
			t.Errorf("mirror sh_events = %+v, want cmds %q", steps, want)
		}
		for _, log := range []string{"sh-1.log", "sh-2.log", "job.log"} {
			if _, err := os.Stat(filepath.Join(r.runDir(run.ID), "jobs", "quire", "mirror", log)); err != nil {
				t.Errorf("mirror log: %v", err)
			}
		}
		wantOut := `{"refs":["refs/heads/main","refs/tags/` + tag + `"],"tag":"` + tag + `","url":"` + url + `"}`
		if got := m.Outputs; got != wantOut {
			t.Errorf("outputs = %s, want %s", got, wantOut)
		}
		if got := jobs["after-mirror"].Outputs; got != wantOut {
			t.Errorf("q.jobs(\"quire/mirror\") = %s, want %s", got, wantOut)
		}
		assertNowhere(t, dataRoot, texts)
		if strings.Contains(progress, token) {
			t.Error("progress shows the token")
		}
	})
	t.Run("WrongToken", func(t *testing.T) {
		writeFile(t, tokenFile, "ghs_wrongT0ken9a8b7c6d5e\n")
		defer writeFile(t, tokenFile, token+"\n")
		r.Commit("wrong token")
		progress := r.push()
		_, jobs, events := r.lastRun()
		m := jobs["quire/mirror"]
		if m.State != "failed" || m.ExitCode == nil || *m.ExitCode != 1 {
			t.Errorf("mirror job: %s exit %v, want failed with exit 1", m.State, m.ExitCode)
		}
		wantContains(t, m.Error, "push to "+url+": authentication required")
		wantContains(t, progress, "authentication required")
		if steps := mirrorEvents(events); len(steps) != 2 || steps[1].ExitCode != 1 {
			t.Errorf("mirror sh_events = %+v", steps)
		}
		if jobs["after-mirror"].State != "skipped" {
			t.Errorf("after-mirror %s, want skipped", jobs["after-mirror"].State)
		}
		assertNowhere(t, dataRoot, map[string]string{"token": token, "wrong token": "ghs_wrongT0ken9a8b7c6d5e"})
	})
	t.Run("NotFastForward", func(t *testing.T) {
		divergeTarget(t, r.Fixture, target)
		r.Commit("diverged")
		r.push()
		_, jobs, _ := r.lastRun()
		if m := jobs["quire/mirror"]; m.State != "failed" || !strings.Contains(m.Error, "non-fast-forward update: refs/heads/main") {
			t.Errorf("mirror job: %s %q, want failed for a non-fast-forward update", m.State, m.Error)
		}
		assertNowhere(t, dataRoot, texts)
	})
}

func TestPostReceive_MirrorLocal(t *testing.T) {
	for _, form := range []string{"Path", "FileURL"} {
		t.Run(form, func(t *testing.T) {
			target := newTarget(t, t.TempDir(), "local.git")
			url := target
			if form == "FileURL" {
				url = "file://" + target
			}
			r := newRepo(t)
			r.Pipeline(strings.Replace(strings.Replace(mirrorPipeline, "%s", url, 1), "%s", "", 1))
			sha := r.Commit("local mirror")
			progress := r.push()
			_, jobs, events := r.lastRun()
			if m := jobs["quire/mirror"]; m.State != "complete" {
				t.Fatalf("mirror job: %s %q\n%s", m.State, m.Error, progress)
			}
			if got := r.Git(target, "rev-parse", "refs/heads/main", "refs/tags/ci-"+sha[:8]); got != sha+"\n"+sha {
				t.Errorf("target refs = %q, want %s twice", got, sha)
			}
			if steps := mirrorEvents(events); len(steps) != 2 || steps[1].Cmd != "git push "+target+" refs/heads/main refs/tags/ci-"+sha[:8] {
				t.Errorf("mirror sh_events = %+v", steps)
			}
		})
	}
	t.Run("RemoteRejects", func(t *testing.T) {
		target := newTarget(t, t.TempDir(), "strict.git")
		hook := filepath.Join(target, "hooks", "pre-receive")
		writeFile(t, hook, "#!/bin/sh\necho 'policy: pushes to this mirror are frozen' >&2\nexit 1\n")
		if err := os.Chmod(hook, 0o755); err != nil {
			t.Fatal(err)
		}
		r := newRepo(t)
		r.Pipeline(strings.Replace(strings.Replace(mirrorPipeline, "%s", target, 1), "%s", "", 1))
		r.Commit("frozen")
		r.push()
		run, jobs, _ := r.lastRun()
		m := jobs["quire/mirror"]
		if m.State != "failed" {
			t.Fatalf("mirror job %s, want failed", m.State)
		}
		wantContains(t, m.Error, "pre-receive hook declined")
		log := strings.Join(logLines(t, filepath.Join(r.runDir(run.ID), "jobs", "quire", "mirror", "sh-2.log")), "\n")
		wantContains(t, log, "policy: pushes to this mirror are frozen")
	})
}

// newTarget creates the bare repository dir/name that accepts pushes
// over HTTP, and returns its path.
func newTarget(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	f := &gittest.Fixture{Env: gittest.Env()}
	git(t, f, dir, "init", "--quiet", "--bare", "--initial-branch=main", path)
	git(t, f, path, "config", "http.receivepack", "true")
	return path
}

// divergeTarget puts a commit on the target's main that the source does
// not have.
func divergeTarget(t *testing.T, f *gittest.Fixture, target string) {
	t.Helper()
	tree := git(t, f, target, "rev-parse", "main^{tree}")
	commit := git(t, f, target, "commit-tree", "-p", "main", "-m", "made on the mirror", tree)
	git(t, f, target, "update-ref", "refs/heads/main", commit)
}

func git(t *testing.T, f *gittest.Fixture, dir string, args ...string) string {
	t.Helper()
	out, err := f.TryGit(dir, args...)
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return out
}

// gitServer serves the bare repositories in root over smart HTTP with
// git http-backend, behind basic auth: user x-access-token, password
// token.
func gitServer(t *testing.T, root, token string) *httptest.Server {
	t.Helper()
	f := &gittest.Fixture{Env: gittest.Env()}
	backend := filepath.Join(git(t, f, root, "--exec-path"), "git-http-backend")
	h := &cgi.Handler{
		Path:       backend,
		Env:        []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"},
		InheritEnv: []string{"PATH"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		user, pass, ok := req.BasicAuth()
		if !ok || user != "x-access-token" || pass != token {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, req)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// mirrorEvents returns the sh_events rows of the job quire/mirror.
func mirrorEvents(events []store.ShEvent) []store.ShEvent {
	var out []store.ShEvent
	for _, e := range events {
		if e.JobID == "quire/mirror" {
			out = append(out, e)
		}
	}
	return out
}
