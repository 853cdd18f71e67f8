package hook_test

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/crilog"
	"github.com/quire-ci/quire-hook/pkg/store"
)

const okPipeline = `
local ci = require("quire.ci")
ci.job("hello", {"quire/push"}, function(q)
  local r = q.sh("echo hello from $QUIRE_JOB_ID")
  return {said = r.stdout}
end)
`

func TestPostReceive_Push(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(okPipeline)
	sha := r.Commit("first")
	out := r.push()

	run, jobs, events := r.lastRun()
	t.Run("Progress", func(t *testing.T) {
		wantContains(t, out, "remote: quire: run "+run.ID+" started: refs/heads/main at "+sha[:10])
		wantContains(t, out, "job hello started")
		wantContains(t, out, "job hello complete in")
		wantContains(t, out, "run "+run.ID+" complete")
	})
	t.Run("Rows", func(t *testing.T) {
		if run.State != "complete" || run.Trigger != "push" || run.SHA != sha || run.Ref != "refs/heads/main" || run.Repo != "repo.git" {
			t.Errorf("run row: %+v", run)
		}
		if run.OwnerPID == 0 || run.OwnerHost == "" {
			t.Errorf("run owner not stamped: pid %d host %q", run.OwnerPID, run.OwnerHost)
		}
		j := jobs["hello"]
		if j.State != "complete" || j.ExitCode == nil || *j.ExitCode != 0 {
			t.Errorf("job row: %+v", j)
		}
		if got, want := j.Outputs, `{"said":"hello from hello\n"}`; got != want {
			t.Errorf("outputs: got %s, want %s", got, want)
		}
		if len(events) != 1 || events[0].Seq != 1 || events[0].Cmd != "echo hello from $QUIRE_JOB_ID" || events[0].StdoutBytes != int64(len("hello from hello\n")) {
			t.Errorf("sh events: %+v", events)
		}
	})
	t.Run("Logs", func(t *testing.T) {
		f, err := os.Open(filepath.Join(r.runDir(run.ID), "jobs", "hello", "sh-1.log"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		e, err := crilog.NewReader(f).Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.Stream != "stdout" || string(e.Content) != "hello from hello" || e.Partial {
			t.Errorf("log entry: %+v", e)
		}
	})
	t.Run("WorkspaceRemoved", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(r.runDir(run.ID), "workspace")); !os.IsNotExist(err) {
			t.Errorf("workspace still there: %v", err)
		}
	})
}

func TestPostReceive_ScrubbedEnvironment(t *testing.T) {
	// Inside the hook, git-receive-pack has set GIT_DIR and friends; a
	// job that uses git in its workspace must not touch the bare repo.
	r := newRepo(t)
	r.Pipeline(`
local ci = require("quire.ci")
ci.job("git", {"quire/push"}, function(q)
  local env = q.sh("env | grep '^GIT_' || true").stdout
  q.sh("git init -q . && git add -A && git -c user.name=ci -c user.email=ci@x commit -qm inside && git branch -M evil", {check = true})
  return {git_env = env, bare = q.sh("git --git-dir=\"$QUIRE_GIT_DIR\" rev-parse --is-bare-repository").stdout}
end)
`)
	r.Commit("git inside")
	r.push()
	run, jobs, _ := r.lastRun()
	if run.State != "complete" {
		t.Fatalf("run %s: %s", run.State, run.Error)
	}
	if got, want := jobs["git"].Outputs, `{"bare":"true\n","git_env":""}`; got != want {
		t.Errorf("outputs: got %s, want %s", got, want)
	}
	refs := r.Git(r.Bare, "for-each-ref", "--format=%(refname)")
	if refs != "refs/heads/main\nrefs/notes/quire" { // the run's git note is quire-hook's own
		t.Errorf("bare repo refs changed: %q", refs)
	}
}

func TestPostReceive_WorkspaceFidelity(t *testing.T) {
	r := newRepo(t)
	r.WriteMode("bin/run.sh", "#!/bin/sh\necho ran\n", 0o755)
	r.Write("docs/café menu/ü ñ.txt", "non-ascii\n")
	r.Symlink("../docs", "links/docs")
	r.Pipeline(`
local ci = require("quire.ci")
ci.job("check", {"quire/push"}, function(q)
  return {
    exec = q.sh("./bin/run.sh").stdout,
    mode = q.sh("stat -c %a bin/run.sh .quire/ci.lua").stdout,
    link = q.sh("readlink links/docs").stdout,
    text = q.read_file("docs/café menu/ü ñ.txt"),
    via_link = q.read_file("links/docs/café menu/ü ñ.txt"),
    git = q.sh("test -e .git && echo yes || echo no").stdout,
  }
end)
`)
	r.Commit("fidelity")
	r.push()
	run, jobs, _ := r.lastRun()
	if run.State != "complete" {
		t.Fatalf("run %s: %s", run.State, run.Error)
	}
	want := `{"exec":"ran\n","git":"no\n","link":"../docs\n","mode":"755\n644\n","text":"non-ascii\n","via_link":"non-ascii\n"}`
	if got := jobs["check"].Outputs; got != want {
		t.Errorf("outputs:\n got %s\nwant %s", got, want)
	}
}

func TestPostReceive_Input(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(okPipeline)
	sha := r.Commit("one")
	r.push()
	before := len(r.runs())
	r.Write("README", "no pipeline here\n")
	os.RemoveAll(filepath.Join(r.Work, ".quire"))
	bare := r.Commit("no pipeline")
	r.push("origin", "main:refs/heads/nopipe")

	zero := strings.Repeat("0", 40)
	unknown := strings.Repeat("ab", 20)
	env := append(r.Env, "GIT_DIR="+r.Bare)
	cases := []struct {
		name, stdin string
		code        int
		want        []string
		runs        int
	}{
		{"Malformed", "garbage\n" + zero + " " + sha + " refs/heads/main\n", 2, []string{`skipping stdin line 1 "garbage"`, "complete"}, 1},
		{"Deleted", sha + " " + zero + " refs/heads/gone\n", 0, []string{"refs/heads/gone deleted: nothing to run"}, 0},
		{"UnknownSHA", zero + " " + unknown + " refs/heads/x\n", 2, []string{"ababababab is not a commit", "is not a commit (or annotated tag) in"}, 0},
		{"NoPipeline", zero + " " + bare + " refs/heads/nopipe\n", 0, []string{"no .quire/ci.lua at " + bare[:10]}, 0},
		{"RefWithSpace", zero + " " + sha + " refs/heads/a b\n", 2, []string{"contains a space"}, 0},
		{"Empty", "", 0, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := len(r.runs())
			out, code := runBin(t, env, r.Bare, c.stdin, "post-receive")
			if code != c.code {
				t.Errorf("exit %d, want %d:\n%s", code, c.code, out)
			}
			for _, w := range c.want {
				wantContains(t, out, w)
			}
			if got := len(r.runs()) - n; got != c.runs {
				t.Errorf("%d new runs, want %d", got, c.runs)
			}
		})
	}
	if before != 1 {
		t.Errorf("first push recorded %d runs, want 1", before)
	}
}

func TestPostReceive_InvokedAsPostReceive(t *testing.T) {
	r := newRepo(t)
	link := filepath.Join(r.Bare, "hooks", "post-receive")
	os.Remove(link)
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	r.Pipeline(okPipeline)
	r.Commit("symlinked hook")
	out := r.push()
	wantContains(t, out, "job hello complete")
	if run, _, _ := r.lastRun(); run.State != "complete" {
		t.Errorf("run %s", run.State)
	}
}

func TestPostReceive_FailedRunExitsOne(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(`
local ci = require("quire.ci")
ci.job("bad", {"quire/push"}, function(q)
  q.sh("echo compiling; echo 'main.go:3: undefined: x' >&2; exit 2", {check = true})
end)
ci.job("after", {"bad"}, function(q) end)
`)
	sha := r.Commit("bad")
	r.push() // stores the objects; the hook's exit status does not fail a push
	env := append(r.Env, "GIT_DIR="+r.Bare)
	out, code := runBin(t, env, r.Bare, strings.Repeat("0", 40)+" "+sha+" refs/heads/main\n", "post-receive")
	if code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, out)
	}
	wantContains(t, out, "job bad failed")
	wantContains(t, out, "main.go:3: undefined: x")
	wantContains(t, out, "job after skipped: input job 'bad' failed")
	run, jobs, _ := r.lastRun()
	if run.State != "failed" || run.FailureKind != "job" {
		t.Errorf("run: %s/%s", run.State, run.FailureKind)
	}
	if jobs["after"].State != "skipped" || jobs["after"].StartedAtMS != 0 {
		t.Errorf("after: %+v", jobs["after"])
	}
}

func TestPostReceive_PipelineProblems(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("a", {}, function(q) end)
ci.job("b/c", {"quire/posh"}, function(q) end)
`)
	r.Commit("invalid")
	out := r.push()
	run, jobs, _ := r.lastRun()
	if run.State != "failed" || run.FailureKind != "pipeline" {
		t.Fatalf("run: %s/%s", run.State, run.FailureKind)
	}
	for _, want := range []string{".quire/ci.lua:2:", "Job 'a' has empty inputs", ".quire/ci.lua:3:"} {
		wantContains(t, run.Error, want)
		wantContains(t, out, want)
	}
	if len(jobs) != 0 {
		t.Errorf("jobs recorded for an invalid pipeline: %v", jobs)
	}
}

func TestPostReceive_TenHooksAtOnce(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(okPipeline)
	sha := r.Commit("many")
	r.push()
	env := append(r.Env, "GIT_DIR="+r.Bare)
	var wg sync.WaitGroup
	outs := make([]string, 10)
	codes := make([]int, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], codes[i] = runBin(t, env, r.Bare, strings.Repeat("0", 40)+" "+sha+" refs/heads/b"+string(rune('0'+i))+"\n", "post-receive")
		}()
	}
	wg.Wait()
	for i := range 10 {
		if codes[i] != 0 || strings.Contains(outs[i], "locked") {
			t.Errorf("hook %d: exit %d:\n%s", i, codes[i], outs[i])
		}
	}
	complete := 0
	for _, run := range r.runs() {
		if run.State == "complete" {
			complete++
		}
	}
	if complete != 11 {
		t.Errorf("%d complete runs, want 11", complete)
	}
}

func TestPostReceive_Supersede(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("build", {"quire/push"}, function(q)
  if q.jobs("quire/push").commit_message:find("slow") then q.sh("sleep 20") end
end)`)
	r.Commit("slow first")
	first := make(chan string, 1)
	go func() {
		out, _ := r.Push("origin", "main")
		first <- out
	}()
	// Once the first run is active, push again to the same ref.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if runs := r.runsIfAny(); len(runs) == 1 && runs[0].State == "active" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first run never became active")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.Commit("fast second")
	second := r.push()
	firstOut := <-first

	runs := r.runs() // newest first
	if len(runs) != 2 {
		t.Fatalf("%d runs, want 2", len(runs))
	}
	if runs[1].State != "superseded" || runs[1].Error != "superseded by run "+runs[0].ID {
		t.Errorf("first run: %s %q", runs[1].State, runs[1].Error)
	}
	if runs[0].State != "complete" {
		t.Errorf("second run: %s %s", runs[0].State, runs[0].Error)
	}
	wantContains(t, firstOut, "superseded by run "+runs[0].ID)
	wantContains(t, second, "run "+runs[0].ID+" complete")
}

// runsIfAny lists runs, or nothing when no database exists yet.
func (r *repo) runsIfAny() []store.Run {
	if _, err := os.Stat(filepath.Join(r.Bare, "quire", "quire.db")); err != nil {
		return nil
	}
	return r.runs()
}

func TestPostReceive_Async(t *testing.T) {
	r := newRepo(t)
	r.Git(r.Bare, "config", "quire.async", "true")
	marker := filepath.Join(t.TempDir(), "go-on")
	r.Env = append(r.Env, "QUIRE_TEST_MARKER="+marker)
	// The job waits for a file the test creates only after the push
	// has returned: a push that waited for the run would never return.
	r.Pipeline(`local ci = require("quire.ci")
ci.job("wait", {"quire/push"}, function(q)
  q.sh('while [ ! -e "$QUIRE_TEST_MARKER" ]; do sleep 0.05; done; echo went on', {check = true, timeout = 60})
  return {options = q.jobs("quire/push").options, leak = q.sh("env | grep -c QUIRE_ASYNC_RUNS || true").stdout}
end)`)
	r.Commit("async")
	done := make(chan string, 1)
	go func() {
		out, err := r.Push("-o", "note=1", "origin", "main")
		if err != nil {
			out += err.Error()
		}
		done <- out
	}()
	var out string
	select {
	case out = <-done:
	case <-time.After(30 * time.Second):
		os.WriteFile(marker, nil, 0o644)
		t.Fatal("the async push did not return while its job was still waiting")
	}
	wantContains(t, out, "runs in the background")
	runs := r.runs()
	if len(runs) != 1 || (runs[0].State != "pending" && runs[0].State != "active") {
		t.Fatalf("after the push returned: %+v, want one pending or active run", runs)
	}
	if runs[0].OwnerPID == 0 {
		t.Errorf("the queued run has no owner")
	}
	// A command that works from any directory, like the "logs:" line.
	wantContains(t, out, "(quire-hook --git-dir "+r.Bare+" show "+runs[0].ID[:13]+", or see ")
	os.WriteFile(marker, nil, 0o644)
	deadline := time.Now().Add(30 * time.Second)
	for {
		run, jobs, _ := r.lastRun()
		if run.State == "complete" {
			if got, want := jobs["wait"].Outputs, `{"leak":"0\n","options":["note=1"]}`; got != want {
				t.Errorf("outputs: got %s, want %s", got, want)
			}
			break
		}
		if run.State == "failed" || time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(r.Bare, "quire", "async.log"))
			t.Fatalf("run %s (%s); async.log:\n%s", run.State, run.Error, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(r.Bare, "quire", "async.log"))
	wantContains(t, string(log), "run "+runs[0].ID+" complete")
}

func TestReplay_TenAtOnceOnOneRef(t *testing.T) {
	// Replays never supersede each other: ten at once all complete, one
	// after another under the data root's lock.
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("one", {"quire/push"}, function(q) q.sh("sleep 0.05") end)`)
	r.Commit("replays")
	r.push("-o", "ci.skip", "origin", "main")
	var wg sync.WaitGroup
	codes := make([]int, 10)
	outs := make([]string, 10)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], codes[i] = r.quire("", "--git-dir", r.Bare, "replay", "main")
		}()
	}
	wg.Wait()
	for i, code := range codes {
		if code != 0 {
			t.Errorf("replay %d: exit %d:\n%s", i, code, outs[i])
		}
	}
	runs := r.runs()
	if len(runs) != 10 {
		t.Fatalf("%d runs, want 10", len(runs))
	}
	// One at a time: no two runs' [start, finish] intervals overlap.
	for i, a := range runs {
		if a.State != "complete" {
			t.Errorf("run %s: %s", a.ID, a.State)
		}
		for _, b := range runs[i+1:] {
			if a.StartedAtMS < b.FinishedAtMS && b.StartedAtMS < a.FinishedAtMS {
				t.Errorf("runs %s and %s overlapped", a.ID, b.ID)
			}
		}
	}
}

func TestPostReceive_AnnotatedTag(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("release", {"quire/push"}, function(q)
  local p = q.jobs("quire/push")
  return {tag = p.tag, sha = p.sha}
end)`)
	sha := r.Commit("release")
	r.push("-o", "ci.skip", "origin", "main")
	r.Git(r.Work, "tag", "-a", "v1.0", "-m", "release 1.0")
	out := r.push("origin", "v1.0")
	wantContains(t, out, "job release complete")
	run, jobs, _ := r.lastRun()
	if run.State != "complete" || run.Ref != "refs/tags/v1.0" || run.SHA != sha {
		t.Errorf("run: %s %s %s, want complete refs/tags/v1.0 at the commit %s", run.State, run.Ref, run.SHA, sha)
	}
	if got, want := jobs["release"].Outputs, `{"sha":"`+sha+`","tag":"v1.0"}`; got != want {
		t.Errorf("outputs: got %s, want %s", got, want)
	}
}
