package hook_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/internal/gittest"
)

func TestReplay(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(okPipeline)
	sha := r.Commit("one")
	r.push()
	r.Git(r.Work, "tag", "v1.0")
	r.push("origin", "v1.0")
	r.Git(r.Work, "branch", "feature")
	r.push("origin", "feature")

	cases := []struct {
		name    string
		args    []string
		wantRef string
	}{
		{"Branch", []string{"replay", "main"}, "refs/heads/main"},
		{"FullRef", []string{"replay", "refs/heads/feature"}, "refs/heads/feature"},
		{"Tag", []string{"replay", "v1.0"}, "refs/tags/v1.0"},
		{"ShortSHA", []string{"replay", sha[:7]}, "refs/heads/feature"}, // first branch by name at that commit
		{"RefFlag", []string{"replay", "--ref", "refs/heads/release", sha}, "refs/heads/release"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, code := r.quire("", append([]string{"--git-dir", r.Bare}, c.args...)...)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, out)
			}
			run, _, _ := r.lastRun()
			if run.Trigger != "replay" || run.Ref != c.wantRef || run.SHA != sha || run.State != "complete" {
				t.Errorf("run: trigger %s ref %s sha %s state %s", run.Trigger, run.Ref, run.SHA, run.State)
			}
			wantContains(t, out, "run "+run.ID+" complete")
		})
	}
	t.Run("FromWorkTree", func(t *testing.T) {
		// Without --git-dir, the cwd's .git is the repository.
		out, code := r.quire("", "replay", "HEAD")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})
	t.Run("UnknownRev", func(t *testing.T) {
		n := len(r.runs())
		out, code := r.inProcess("", "--git-dir", r.Bare, "replay", "no-such-branch")
		if code != 2 || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("exit %d, want 2 with one line:\n%s", code, out)
		}
		wantContains(t, out, `quire-hook: resolve "no-such-branch": unknown revision`)
		if len(r.runs()) != n {
			t.Errorf("an unknown revision recorded a run")
		}
	})
	t.Run("Usage", func(t *testing.T) {
		out, code := r.inProcess("", "--git-dir", r.Bare, "replay")
		if code != 2 {
			t.Errorf("exit %d, want 2:\n%s", code, out)
		}
		wantContains(t, out, "replay takes exactly one <rev>")
	})
	t.Run("Failed", func(t *testing.T) {
		r.Pipeline(`local ci = require("quire.ci")
ci.job("boom", {"quire/push"}, function(q) error("boom") end)`)
		r.Commit("fails")
		r.push()
		out, code := r.quire("", "--git-dir", r.Bare, "replay", "main")
		if code != 1 {
			t.Errorf("exit %d, want 1:\n%s", code, out)
		}
		wantContains(t, out, "job boom failed")
	})
}

func TestValidate(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("build", {"test"}, function(q) end)
ci.job("test", {"quire/push"}, function(q) end)
`)
	r.Commit("valid")
	r.push()
	out, code := r.inProcess("", "--git-dir", r.Bare, "validate")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if want := "1. test <- quire/push\n2. build <- test\n"; out != want {
		t.Errorf("got:\n%s\nwant:\n%s", out, want)
	}

	bad := filepath.Join(t.TempDir(), "ci.lua")
	os.WriteFile(bad, []byte(`local ci = require("quire.ci")
ci.job("a", {"b"}, function(q) end)
ci.job("b", {"a"}, function(q) end)
ci.job("c", {}, function(q) end)
`), 0o644)
	out, code = r.inProcess("", "validate", "--file", bad)
	if code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, out)
	}
	wantContains(t, out, ":4: Job 'c' has empty inputs")
	wantContains(t, out, "cycle")
	wantContains(t, out, "quire-hook: pipeline has")
}

func TestInstall(t *testing.T) {
	r := newRepo(t) // installed once already
	hook := filepath.Join(r.Bare, "hooks", "post-receive")
	t.Run("Idempotent", func(t *testing.T) {
		if out, code := r.inProcess("", "--git-dir", r.Bare, "install"); code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		fi, err := os.Stat(hook)
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Fatalf("hook: %v %v", fi, err)
		}
		if got := r.Git(r.Bare, "config", "receive.advertisePushOptions"); got != "true" {
			t.Errorf("receive.advertisePushOptions = %q", got)
		}
		if got := r.Git(r.Bare, "config", "core.bare"); got != "true" {
			t.Errorf("core.bare = %q after install rewrote the config", got)
		}
	})
	t.Run("ConfigKept", func(t *testing.T) {
		// install edits the operator's config in place.
		cfg := filepath.Join(r.Bare, "config")
		extra := "# the operator's note\n[receive]\n\thideRefs = refs/pull\n\thideRefs = refs/keep\n"
		old, _ := os.ReadFile(cfg)
		os.WriteFile(cfg, append(old, extra...), 0o644)
		if out, code := r.inProcess("", "--git-dir", r.Bare, "install"); code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		data, _ := os.ReadFile(cfg)
		for _, want := range []string{"# the operator's note", "hideRefs = refs/pull", "hideRefs = refs/keep", "advertisePushOptions = true"} {
			if !strings.Contains(string(data), want) {
				t.Errorf("config lost %q:\n%s", want, data)
			}
		}
	})
	t.Run("ForeignHookKept", func(t *testing.T) {
		os.WriteFile(hook, []byte("#!/bin/sh\necho mine\n"), 0o755)
		out, code := r.inProcess("", "--git-dir", r.Bare, "install")
		if code != 2 {
			t.Errorf("exit %d, want 2: %s", code, out)
		}
		wantContains(t, out, "--force")
		if data, _ := os.ReadFile(hook); string(data) != "#!/bin/sh\necho mine\n" {
			t.Errorf("foreign hook was changed: %q", data)
		}
		if out, code := r.inProcess("", "--git-dir", r.Bare, "install", "--force"); code != 0 {
			t.Fatalf("--force: exit %d: %s", code, out)
		}
		if data, _ := os.ReadFile(hook + ".before-quire"); string(data) != "#!/bin/sh\necho mine\n" {
			t.Errorf("kept hook: %q", data)
		}
		if data, _ := os.ReadFile(hook); !strings.Contains(string(data), bin) {
			t.Errorf("new hook does not exec %s: %q", bin, data)
		}
	})
	t.Run("NotARepo", func(t *testing.T) {
		out, code := r.inProcess("", "--git-dir", t.TempDir(), "install")
		if code != 2 {
			t.Errorf("exit %d, want 2: %s", code, out)
		}
		wantContains(t, out, "not a git directory")
	})
}

func TestPushOptions(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("opts", {"quire/push"}, function(q) return {options = q.jobs("quire/push").options} end)`)
	r.Commit("options")
	out := r.push("-o", "ci.skip", "origin", "main")
	wantContains(t, out, "ci.skip: no run for this push")
	if _, err := os.Stat(filepath.Join(r.Bare, "quire", "runs")); !os.IsNotExist(err) {
		t.Fatalf("ci.skip left a run directory: %v", err)
	}
	r.Commit("again")
	r.push("-o", "deploy=staging", "-o", "fast", "origin", "main")
	_, jobs, _ := r.lastRun()
	if got, want := jobs["opts"].Outputs, `{"options":["deploy=staging","fast"]}`; got != want {
		t.Errorf("outputs: got %s, want %s", got, want)
	}
}

func TestDataRoot(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(okPipeline)
	r.Commit("x")
	r.push()
	t.Run("Unwritable", func(t *testing.T) {
		// A path under a regular file cannot be created, even by root.
		blocker := filepath.Join(t.TempDir(), "file")
		os.WriteFile(blocker, nil, 0o644)
		out, code := r.inProcess("", "--git-dir", r.Bare, "--data-dir", filepath.Join(blocker, "data"), "replay", "main")
		if code != 2 || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("exit %d, want 2 with one line:\n%s", code, out)
		}
		wantContains(t, out, "create data root")
	})
	t.Run("EnvAndGitConfig", func(t *testing.T) {
		dir := t.TempDir()
		env := append(r.Env, "QUIRE_DATA_DIR="+dir)
		if out, code := runBin(t, env, r.Work, "", "--git-dir", r.Bare, "replay", "main"); code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		if _, err := os.Stat(filepath.Join(dir, "quire.db")); err != nil {
			t.Errorf("QUIRE_DATA_DIR not used: %v", err)
		}
		r.Git(r.Bare, "config", "quire.dataDir", "records")
		if out, code := r.quire("", "--git-dir", r.Bare, "replay", "main"); code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		if _, err := os.Stat(filepath.Join(r.Bare, "records", "quire.db")); err != nil {
			t.Errorf("quire.dataDir not used: %v", err)
		}
	})
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{"no-such-command"}, {"replay", "--no-such-flag", "x"}, {"--no-such-flag"}} {
		out, code := mainCombined(t, nil, t.TempDir(), "", args...)
		if code != 2 || !strings.HasPrefix(out, "quire-hook: ") || strings.Count(strings.TrimSpace(out), "\n") > 0 {
			t.Errorf("%v: exit %d, want 2 and one quire-hook: line:\n%s", args, code, out)
		}
	}
	if out, _ := mainCombined(t, nil, t.TempDir(), "", "bogus"); out != "quire-hook: unknown command 'bogus'; see quire-hook --help\n" {
		t.Errorf("unknown command: %q", out)
	}
	out, code := mainCombined(t, nil, t.TempDir(), "", "replay", "--help")
	if code != 0 || !strings.Contains(out, "--ref") {
		t.Errorf("replay --help: exit %d:\n%s", code, out)
	}
}

func TestDemo(t *testing.T) {
	dir := t.TempDir()
	env := append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1")
	out, code := mainCombined(t, env, dir, "", "demo", "--dir", dir)
	if code != 0 {
		t.Fatalf("demo: exit %d:\n%s", code, out)
	}
	for _, want := range []string{"remote: quire: job report complete", "state    complete", "go test -count=1 -cover"} {
		wantContains(t, out, want)
	}
}

func TestPostReceive_TerminalStdin(t *testing.T) {
	r := newRepo(t)
	// script(1) gives the hook a pseudo-terminal as stdin, as a person
	// typing the command would.
	out, _ := runBin(t, r.Env, r.Bare, "", "--help") // the binary runs at all
	if !strings.Contains(out, "post-receive") {
		t.Fatalf("help lacks post-receive:\n%s", out)
	}
	cmd := exec.Command("script", "-qec", bin+" --git-dir "+r.Bare+" post-receive", "/dev/null")
	cmd.Env = r.Env
	got, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Errorf("exit %d (%v), want 2:\n%s", code, err, got)
	}
	wantContains(t, string(got), "run by git, not by hand")
	wantContains(t, string(got), "quire-hook replay <rev>")
}

func TestReplay_SIGTERM(t *testing.T) {
	// SIGHUP too: an ssh session that hangs up (issue 7).
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) { testReplaySignal(t, sig) })
	}
}

func testReplaySignal(t *testing.T, sig syscall.Signal) {
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("slow", {"quire/push"}, function(q) q.sh("echo started; sleep 30") end)
ci.job("after", {"slow"}, function(q) end)`)
	r.Commit("slow")
	r.push("-o", "ci.skip", "origin", "main")

	cmd := exec.Command(bin, "--git-dir", r.Bare, "replay", "main")
	cmd.Env = r.Env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the sh call has started, then stop the hook as an
	// init system or an impatient operator would.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(readLogs(r.Bare), "started") {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the job never started:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("the hook did not stop after %s:\n%s", sig, out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d, want 1:\n%s", code, out.String())
	}
	run, jobs, events := r.lastRun()
	if run.State != "failed" || run.FailureKind != "canceled" {
		t.Errorf("run %s/%s, want failed/canceled", run.State, run.FailureKind)
	}
	if j := jobs["slow"]; j.State != "aborted" || j.FinishedAtMS == 0 {
		t.Errorf("slow job: %+v", j)
	}
	if _, ok := jobs["after"]; ok {
		t.Errorf("a job after the cancellation was recorded: %+v", jobs["after"])
	}
	if len(events) != 1 || events[0].ExitCode != -9 {
		t.Errorf("sh events: %+v, want the sleep killed (-9)", events)
	}
}

// readLogs concatenates every sh log under a bare repo's data root.
func readLogs(bare string) string {
	paths, _ := filepath.Glob(filepath.Join(bare, "quire", "runs", "*", "jobs", "*", "sh-*.log"))
	var b strings.Builder
	for _, p := range paths {
		data, _ := os.ReadFile(p)
		b.Write(data)
	}
	return b.String()
}

func TestInstallHookScript(t *testing.T) {
	root := t.TempDir()
	f := gittest.New(t)
	for _, dir := range []string{"a/one.git", "b/c/two.git"} {
		f.Git(root, "init", "--quiet", "--bare", filepath.Join(root, dir))
	}
	f.Git(root, "init", "--quiet", filepath.Join(root, "worktree"))
	cmd := exec.Command("../scripts/install-hook.sh", root)
	cmd.Env = append(f.Env, "QUIRE_HOOK="+bin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("install-hook.sh: %v\n%s", err, out)
	}
	wantContains(t, string(out), "installed in 2 repositories, 0 failed")
	for _, dir := range []string{"a/one.git", "b/c/two.git"} {
		data, err := os.ReadFile(filepath.Join(root, dir, "hooks", "post-receive"))
		if err != nil || !strings.Contains(string(data), bin) {
			t.Errorf("%s: hook %q %v", dir, data, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "worktree", ".git", "hooks", "post-receive")); !os.IsNotExist(err) {
		t.Errorf("a work tree's .git got a hook: %v", err)
	}
}

func TestConfig(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("slow", {"quire/push"}, function(q) q.sh("sleep 5") end)`)
	r.Commit("slow")
	r.push("-o", "ci.skip", "origin", "main")
	cfg := filepath.Join(r.Bare, "quire", "config.lua")
	os.MkdirAll(filepath.Dir(cfg), 0o755)

	t.Run("JobTimeoutAndWarning", func(t *testing.T) {
		os.WriteFile(cfg, []byte("return { job_timeout = 0.3, keep_workspace = true, colour = 1 }"), 0o644)
		out, code := r.quire("", "--git-dir", r.Bare, "replay", "main")
		if code != 1 {
			t.Errorf("exit %d, want 1:\n%s", code, out)
		}
		wantContains(t, out, `warning: `+cfg+`: unknown key "colour"`)
		wantContains(t, out, "job slow failed")
		wantContains(t, out, "timeout")
		run, _, _ := r.lastRun()
		if _, err := os.Stat(filepath.Join(r.runDir(run.ID), "workspace", ".quire", "ci.lua")); err != nil {
			t.Errorf("keep_workspace: %v", err)
		}
	})
	t.Run("Invalid", func(t *testing.T) {
		n := len(r.runs())
		os.WriteFile(cfg, []byte("return { job_timeout = \"1h\" }"), 0o644)
		out, code := r.inProcess("", "--git-dir", r.Bare, "replay", "main")
		if code != 2 || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("exit %d, want 2 with one line:\n%s", code, out)
		}
		wantContains(t, out, "job_timeout must be a number")
		if len(r.runs()) != n {
			t.Errorf("a run was recorded with a broken config")
		}
	})
	t.Run("FlagAndEnv", func(t *testing.T) {
		os.WriteFile(cfg, []byte("syntax error here"), 0o644)
		good := filepath.Join(t.TempDir(), "good.lua")
		os.WriteFile(good, []byte("return { job_timeout = 0.2 }"), 0o644)
		out, _ := r.quire("", "--git-dir", r.Bare, "--config", good, "replay", "main")
		wantContains(t, out, "job exceeded its 200ms timeout")
		out, _ = runBin(t, append(r.Env, "QUIRE_CONFIG="+good), r.Work, "", "--git-dir", r.Bare, "replay", "main")
		wantContains(t, out, "job exceeded its 200ms timeout")
		out, code := r.inProcess("", "--git-dir", r.Bare, "--config", filepath.Join(t.TempDir(), "missing.lua"), "replay", "main")
		if code != 2 {
			t.Errorf("missing --config: exit %d:\n%s", code, out)
		}
	})
	os.Remove(cfg)
}

func TestConfig_BwrapExecutor(t *testing.T) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Skip("bubblewrap is not installed (.ci/run installs it)")
	}
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("where", {"quire/push"}, function(q)
  return {init = q.sh("cat /proc/1/comm").stdout, net = q.sh("grep -c : /proc/net/dev").stdout}
end)`)
	r.Commit("bwrap")
	r.push("-o", "ci.skip", "origin", "main")
	cfg := filepath.Join(t.TempDir(), "config.lua")
	for _, c := range []struct{ lua, want string }{
		{`return { executor = "bwrap" }`, `{"init":"bwrap\n","net":"1\n"}`},
		{`return { executor = "bwrap", network = true }`, `"init":"bwrap\n"`},
	} {
		os.WriteFile(cfg, []byte(c.lua), 0o644)
		if out, code := r.quire("", "--git-dir", r.Bare, "--config", cfg, "replay", "main"); code != 0 {
			t.Fatalf("%s: exit %d:\n%s", c.lua, code, out)
		}
		_, jobs, _ := r.lastRun()
		if got := jobs["where"].Outputs; !strings.Contains(got, c.want) {
			t.Errorf("%s: outputs %s, want %s", c.lua, got, c.want)
		}
		if strings.Contains(c.lua, "network = true") && strings.Contains(jobs["where"].Outputs, `"net":"1\n"`) {
			t.Errorf("network = true still left only lo: %s", jobs["where"].Outputs)
		}
	}
	os.WriteFile(cfg, []byte(`return { executor = "docker" }`), 0o644)
	out, code := r.inProcess("", "--git-dir", r.Bare, "--config", cfg, "replay", "main")
	if code == 0 {
		t.Errorf("docker executor without ci.image: exit 0, want a failed run:\n%s", out)
	}
	wantContains(t, out, `add ci.image(`)
}

func TestReplay_PusherGoesAway(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("a", {"quire/push"}, function(q) q.sh("sleep 0.3") end)
ci.job("b", {"a"}, function(q) q.sh("echo still here") end)`)
	r.Commit("pipe")
	r.push("-o", "ci.skip", "origin", "main")
	// stderr is a pipe whose reader is gone before the run ends, as when
	// the pusher's git exits mid-push.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--git-dir", r.Bare, "replay", "main")
	cmd.Env = r.Env
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	pr.Close()
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("replay with a closed stderr: %v (exit %d), want it to finish its run", err, code)
	}
	run, jobs, _ := r.lastRun()
	if run.State != "complete" || jobs["b"].State != "complete" {
		t.Errorf("run %s, job b %s: want both complete", run.State, jobs["b"].State)
	}
}

func TestReplay_ReapsOrphans(t *testing.T) {
	// Processes that leave the job's group and exit on their own become
	// children of the hook (their subreaper); it must wait for them, or
	// they stay zombies for as long as it lives.
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("spawn", {"quire/push"}, function(q)
  for i = 1, 5 do q.sh("setsid sh -c 'sleep 0.05' &") end
  q.sh("sleep 0.5")
end)
ci.job("look", {"spawn"}, function(q)
  -- sh's parent is the hook.
  return {zombies = q.sh("ps -o stat= --ppid $(ps -o ppid= -p $$) | grep -c '^Z' || true").stdout}
end)`)
	r.Commit("zombies 2")
	r.push("-o", "ci.skip", "origin", "main")
	if out, code := r.quire("", "--git-dir", r.Bare, "replay", "main"); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	_, jobs, _ := r.lastRun()
	if got := jobs["look"].Outputs; got != `{"zombies":"0\n"}` {
		t.Errorf("zombie children of the hook after a job: %s, want none", got)
	}
}

func TestReplay_DiskFull(t *testing.T) {
	// A data root on a 4 MiB file system; the job writes more than that.
	dataRoot := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", dataRoot).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dataRoot).Run() })
	r := newRepo(t)
	r.Pipeline(`local ci = require("quire.ci")
ci.job("flood", {"quire/push"}, function(q) q.sh("yes 0123456789 | head -c 8000000") end)
ci.job("after", {"flood"}, function(q) end)`)
	r.Commit("flood")
	r.push("-o", "ci.skip", "origin", "main")
	out, code := r.quire("", "--git-dir", r.Bare, "--data-dir", dataRoot, "replay", "main")
	if code != 1 {
		t.Errorf("exit %d, want 1 (the job failed):\n%s", code, out)
	}
	wantContains(t, out, "no space left on device; free space for the data root "+dataRoot)
	// The records of the run were finished despite the full disk.
	cmd := exec.Command(bin, "--data-dir", dataRoot, "--git-dir", r.Bare, "runs", "--json")
	cmd.Env = r.Env
	js, err := cmd.Output()
	if err != nil {
		t.Fatalf("runs --json: %v", err)
	}
	if !strings.Contains(string(js), `"state": "failed"`) || strings.Contains(string(js), `"state": "active"`) {
		t.Errorf("runs after a full disk:\n%s", js)
	}
}
