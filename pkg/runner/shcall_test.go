package runner

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quire-ci/quire-hook/pkg/crilog"
)

func TestRunner_Sh(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
ci.job("string", {"quire/push"}, function(q)
  local r = q.sh("echo hello $((1+2)); echo err >&2")
  return {stdout = r.stdout, stderr = r.stderr, cmd = r.cmd, exit = r.exit}
end)
ci.job("argv", {"quire/push"}, function(q)
  local r = q.sh({"printf", "%s|", "a b", "$HOME", "it's"})
  return {stdout = r.stdout, cmd = r.cmd}
end)
ci.job("env", {"quire/push"}, function(q)
  return {stdout = q.sh('printf "%s/%s" "$FOO" "$N"', {env = {FOO = "bar baz", N = 7}}).stdout}
end)
ci.job("cwd", {"quire/push"}, function(q)
  return {ls = q.sh({"ls"}, {cwd = "sub"}).stdout, dotted = q.sh({"ls"}, {cwd = "./sub/"}).stdout}
end)
ci.job("cwdescape", {"quire/push"}, function(q)
  local errs = {}
  for _, dir in ipairs({"../", "sub/../..", "/tmp", "root-link", "sub/file.txt", "missing"}) do
    local ok, err = pcall(q.sh, {"true"}, {cwd = dir})
    errs[dir] = ok and "ran" or err
  end
  return errs
end)
ci.job("stdin", {"quire/push"}, function(q)
  return {
    echoed = q.sh({"cat"}, {stdin = "line1\nline2"}).stdout,
    big = q.sh("wc -c", {stdin = string.rep("x", 300000)}).stdout,
    none = q.sh("wc -c").stdout,
  }
end)
ci.job("timeout", {"quire/push"}, function(q)
  local r = q.sh("sleep 10", {timeout = 0.3})
  return {exit = r.exit, after = q.sh("echo after").stdout}
end)
ci.job("unknown", {"quire/push"}, function(q) q.sh("true", {bogus_key = 1}) end)
ci.job("signal", {"quire/push"}, function(q) return {exit = q.sh("kill -9 $$").exit} end)
ci.job("missing", {"quire/push"}, function(q)
  return {argv = q.sh({"quire-no-such-program"}).exit, shell = q.sh("quire-no-such-program").exit}
end)
`)
	h.repo.Write("sub/file.txt", "x\n")
	h.repo.Symlink("/", "root-link")
	o := h.run()

	t.Run("String", func(t *testing.T) {
		o.wantState("string", "complete")
		want := map[string]any{"stdout": "hello 3\n", "stderr": "err\n", "cmd": "echo hello $((1+2)); echo err >&2", "exit": 0.0}
		if got := o.outputs("string"); !reflect.DeepEqual(got, want) {
			t.Errorf("result = %v, want %v", got, want)
		}
		evs := o.shEvents("string")
		if len(evs) != 1 || evs[0].Cmd != "echo hello $((1+2)); echo err >&2" || evs[0].Seq != 1 {
			t.Fatalf("sh_events = %+v", evs)
		}
		if evs[0].StdoutBytes != 8 || evs[0].StderrBytes != 4 {
			t.Errorf("bytes = %d/%d, want 8/4", evs[0].StdoutBytes, evs[0].StderrBytes)
		}
		// The two pipes are read independently: lines written to both at
		// once may arrive in either order.
		lines := o.lines(o.shLogPath("string", 1))
		slices.SortStableFunc(lines, func(a, b crilog.Entry) int { return strings.Compare(b.Stream, a.Stream) })
		if got, want := text(lines), "stdout: hello 3\nstderr: err\n"; got != want {
			t.Errorf("log = %q, want %q", got, want)
		}
	})
	t.Run("Argv", func(t *testing.T) {
		o.wantState("argv", "complete")
		got := o.outputs("argv")
		if got["stdout"] != "a b|$HOME|it's|" {
			t.Errorf("stdout = %q, want the arguments unexpanded", got["stdout"])
		}
		wantCmd := `printf '%s|' 'a b' '$HOME' 'it'\''s'`
		if got["cmd"] != wantCmd {
			t.Errorf("r.cmd = %q, want %q", got["cmd"], wantCmd)
		}
		if evs := o.shEvents("argv"); len(evs) != 1 || evs[0].Cmd != wantCmd {
			t.Errorf("sh_events = %+v, want cmd %q", evs, wantCmd)
		}
	})
	t.Run("Env", func(t *testing.T) {
		if got := o.outputs("env")["stdout"]; got != "bar baz/7" {
			t.Errorf("stdout = %q, want the env option's values", got)
		}
	})
	t.Run("Cwd", func(t *testing.T) {
		want := map[string]any{"ls": "file.txt\n", "dotted": "file.txt\n"}
		if got := o.outputs("cwd"); !reflect.DeepEqual(got, want) {
			t.Errorf("outputs = %v, want %v", got, want)
		}
	})
	t.Run("CwdEscape", func(t *testing.T) {
		o.wantState("cwdescape", "complete")
		got := o.outputs("cwdescape")
		for _, dir := range []string{"../", "sub/../..", "/tmp", "root-link", "sub/file.txt", "missing"} {
			msg, _ := got[dir].(string)
			if msg == "ran" || !strings.Contains(msg, "cwd") || !strings.Contains(msg, dir) {
				t.Errorf("cwd %q: %q, want an error naming it", dir, msg)
			}
		}
		for _, dir := range []string{"../", "sub/../..", "/tmp", "root-link"} {
			if msg, _ := got[dir].(string); !strings.Contains(msg, "escapes the workspace") {
				t.Errorf("cwd %q: %q, want 'escapes the workspace'", dir, msg)
			}
		}
		if evs := o.shEvents("cwdescape"); len(evs) != 0 {
			t.Errorf("refused calls recorded %d sh_events; nothing may run", len(evs))
		}
	})
	t.Run("Stdin", func(t *testing.T) {
		want := map[string]any{"echoed": "line1\nline2", "big": "300000\n", "none": "0\n"}
		if got := o.outputs("stdin"); !reflect.DeepEqual(got, want) {
			t.Errorf("outputs = %v, want %v", got, want)
		}
	})
	t.Run("Timeout", func(t *testing.T) {
		o.wantState("timeout", "complete")
		want := map[string]any{"exit": -9.0, "after": "after\n"}
		if got := o.outputs("timeout"); !reflect.DeepEqual(got, want) {
			t.Errorf("outputs = %v, want %v", got, want)
		}
		evs := o.shEvents("timeout")
		if len(evs) != 2 || evs[0].ExitCode != -9 || evs[1].ExitCode != 0 {
			t.Errorf("sh_events = %+v, want exits -9 and 0", evs)
		}
		if log := text(o.lines(o.shLogPath("timeout", 1))); !strings.Contains(log, "stderr: ") || !strings.Contains(log, "timeout") {
			t.Errorf("sh-1.log does not say it was killed:\n%s", log)
		}
	})
	t.Run("UnknownOption", func(t *testing.T) {
		j := o.wantState("unknown", "failed")
		if !strings.Contains(j.Error, "bogus_key") {
			t.Errorf("error = %q, want it to name the key", j.Error)
		}
		if evs := o.shEvents("unknown"); len(evs) != 0 {
			t.Errorf("sh_events = %+v, want none", evs)
		}
	})
	t.Run("KilledBySignal", func(t *testing.T) {
		if got := o.outputs("signal")["exit"]; got != -9.0 {
			t.Errorf("exit = %v, want -9", got)
		}
		if j := o.job("signal"); j.ExitCode == nil || *j.ExitCode != -9 {
			t.Errorf("exit_code = %v, want -9", deref(j.ExitCode))
		}
	})
	t.Run("MissingProgram", func(t *testing.T) {
		o.wantState("missing", "complete")
		want := map[string]any{"argv": 127.0, "shell": 127.0}
		if got := o.outputs("missing"); !reflect.DeepEqual(got, want) {
			t.Errorf("outputs = %v, want %v", got, want)
		}
		evs := o.shEvents("missing")
		if len(evs) != 2 || evs[0].ExitCode != 127 || evs[0].Cmd != "quire-no-such-program" {
			t.Errorf("sh_events = %+v, want the missing program recorded with 127", evs)
		}
		if log := text(o.lines(o.shLogPath("missing", 1))); !strings.Contains(log, "quire-no-such-program") {
			t.Errorf("sh-1.log does not say why:\n%s", log)
		}
	})
}

func TestRunner_ShCapture(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
ci.job("big", {"quire/push"}, function(q)
  local r = q.sh("yes 0123456789abcde | head -c 2097152; yes ERR | head -c 2097152 >&2")
  q.write_file("stdout.txt", r.stdout)
  q.write_file("stderr.txt", r.stderr)
  return {out = #r.stdout, err = #r.stderr}
end)
`)
	h.Settings.KeepWorkspace = true
	o := h.run()

	if got, want := o.outputs("big"), map[string]any{"out": float64(MaxCapture), "err": float64(MaxCapture)}; !reflect.DeepEqual(got, want) {
		t.Errorf("returned sizes = %v, want %v", got, want)
	}
	ws := filepath.Join(o.runDir, "workspace")
	if data, _ := os.ReadFile(filepath.Join(ws, "stdout.txt")); string(data) != strings.Repeat("0123456789abcde\n", MaxCapture/16) {
		t.Errorf("returned stdout is not the first MiB of the output (%d bytes)", len(data))
	}
	if data, _ := os.ReadFile(filepath.Join(ws, "stderr.txt")); string(data) != strings.Repeat("ERR\n", MaxCapture/4) {
		t.Errorf("returned stderr is not the first MiB of the output (%d bytes)", len(data))
	}
	evs := o.shEvents("big")
	if len(evs) != 1 || evs[0].StdoutBytes != 2<<20 || evs[0].StderrBytes != 2<<20 {
		t.Fatalf("sh_events = %+v, want 2 MiB on each stream", evs)
	}
	var out, errs int
	for _, e := range o.lines(o.shLogPath("big", 1)) {
		switch {
		case e.Stream == "stdout" && string(e.Content) == "0123456789abcde":
			out++
		case e.Stream == "stderr" && string(e.Content) == "ERR":
			errs++
		default:
			t.Fatalf("unexpected log line %s %q", e.Stream, e.Content)
		}
	}
	if out != 2<<20/16 || errs != 2<<20/4 {
		t.Errorf("log holds %d stdout and %d stderr lines, want %d and %d", out, errs, 2<<20/16, 2<<20/4)
	}
}

func TestRunner_Files(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Every path below exists (reads) or could be created (writes) if it
	// were not refused; writes never aim at the host's real directories.
	h := newHarness(t, `
local reads = {"../../../quire.db", "out/../../../../quire.db", "/etc/passwd", "etc-link/passwd",
  "out-link/secret.txt", "OUTSIDE/secret.txt"}
local writes = {"../outside.txt", "out/../../outside.txt", "OUTSIDE/abs.txt", "out-link/x.txt",
  "out-link/sub/y.txt", "file-link"}
ci.job("files", {"quire/push"}, function(q)
  q.write_file("out/nested/deep.txt", "hello")
  local errs = {}
  for _, p in ipairs(reads) do
    p = p:gsub("OUTSIDE", q.env("OUTSIDE"))
    local ok, err = pcall(q.read_file, p)
    errs["read " .. p] = ok and "ok" or err
  end
  for _, p in ipairs(writes) do
    p = p:gsub("OUTSIDE", q.env("OUTSIDE"))
    local ok, err = pcall(q.write_file, p, "x")
    errs["write " .. p] = ok and "ok" or err
  end
  return {
    back = q.read_file("out/nested/deep.txt"),
    committed = q.read_file("data.txt"),
    seen_by_sh = q.sh({"cat", "out/nested/deep.txt"}).stdout,
    errs = errs,
  }
end)
`)
	h.Env = []string{"OUTSIDE=" + outside}
	h.repo.Write("data.txt", "committed\n")
	h.repo.Symlink("/etc", "etc-link")
	h.repo.Symlink(outside, "out-link")
	h.repo.Symlink(filepath.Join(outside, "target.txt"), "file-link")
	o := h.run()

	o.wantState("files", "complete")
	got := o.outputs("files")
	for k, want := range map[string]string{"back": "hello", "committed": "committed\n", "seen_by_sh": "hello"} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	errs, _ := got["errs"].(map[string]any)
	if len(errs) != 12 {
		t.Errorf("errs = %v, want 12 entries", errs)
	}
	for k, v := range errs {
		msg, _ := v.(string)
		if !strings.Contains(msg, "escapes the workspace") {
			t.Errorf("%s: %q, want it refused as escaping the workspace", k, msg)
		}
	}
	if _, err := os.Stat(filepath.Join(o.runDir, "outside.txt")); !os.IsNotExist(err) {
		t.Errorf("a file was written outside the workspace: %v", err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("a write landed outside the workspace: %v", entries)
	}
}

func TestRunner_Environment(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `
ci.job("envjob", {"quire/push"}, function(q)
  q.write_file("env.txt", q.sh({"env"}).stdout)
end)
ci.job("gitjob", {"quire/push"}, function(q)
  q.sh("git init -q && git add -A && git -c user.name=x -c user.email=y commit -qm x", {check = true})
end)
`)
	h.Settings.KeepWorkspace = true
	h.repo.Write("file.txt", "x\n")
	sha := h.commit("env")
	if out, err := h.repo.Push("--quiet", "origin", "HEAD:refs/heads/main"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	refsBefore := h.repo.Git(h.repo.Bare, "for-each-ref")
	// What git-receive-pack hands a hook: GIT_DIR pointing at the bare repo.
	h.Env = []string{"GIT_DIR=" + h.repo.Bare, "GIT_WORK_TREE=/nonexistent", "GIT_QUARANTINE_PATH=/nonexistent"}
	o := h.runSHA(sha, pushSpec{})

	t.Run("Variables", func(t *testing.T) {
		o.wantState("envjob", "complete")
		data, err := os.ReadFile(filepath.Join(o.runDir, "workspace", "env.txt"))
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{}
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			k, v, _ := strings.Cut(line, "=")
			env[k] = v
			if strings.HasPrefix(k, "GIT_") {
				t.Errorf("sh sees %s", line)
			}
		}
		want := map[string]string{
			"CI": "true", "QUIRE_RUN_ID": o.res.RunID, "QUIRE_JOB_ID": "envjob",
			"QUIRE_REPO": "repo.git", "QUIRE_SHA": sha, "QUIRE_REF": "refs/heads/main",
			"QUIRE_WORKSPACE": filepath.Join(o.runDir, "workspace"), "QUIRE_GIT_DIR": h.repo.Bare,
		}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("%s = %q, want %q", k, env[k], v)
			}
		}
		if env["PATH"] != os.Getenv("PATH") {
			t.Errorf("PATH = %q, want the hook's", env["PATH"])
		}
	})
	t.Run("GitInWorkspace", func(t *testing.T) {
		j := o.wantState("gitjob", "complete")
		if j.ExitCode == nil || *j.ExitCode != 0 {
			t.Errorf("exit_code = %v", deref(j.ExitCode))
		}
		if after := h.repo.Git(h.repo.Bare, "for-each-ref"); after != refsBefore {
			t.Errorf("bare refs changed:\nbefore %s\nafter  %s", refsBefore, after)
		}
		if _, err := os.Stat(filepath.Join(o.runDir, "workspace", ".git", "HEAD")); err != nil {
			t.Errorf("git did not create its repo in the workspace: %v", err)
		}
	})
}

func TestRunner_ShPathFromEnvOption(t *testing.T) {
	t.Parallel()
	// An argv program is looked up in the PATH the process gets, so a
	// job can put its own tools first.
	h := newHarness(t, `
ci.job("path", {"quire/push"}, function(q)
  local path = q.workspace .. "/tools:" .. (q.env("PATH") or "/usr/bin:/bin")
  local r = q.sh({"quire-test-tool", "x"}, {env = {PATH = path}})
  return {stdout = r.stdout, exit = r.exit, without = q.sh({"quire-test-tool"}).exit}
end)
`)
	h.repo.WriteMode("tools/quire-test-tool", "#!/bin/sh\necho \"tool $1\"\n", 0o755)
	o := h.run()
	o.wantState("path", "complete")
	got := o.outputs("path")
	if got["stdout"] != "tool x\n" || got["exit"] != 0.0 {
		t.Errorf("with PATH option: %v, want the tool to run", got)
	}
	if got["without"] != 127.0 {
		t.Errorf("without PATH option: exit %v, want 127", got["without"])
	}
}

func TestRunner_FilesNotRegular(t *testing.T) {
	t.Parallel()
	// A FIFO would block open() where no timeout reaches; a directory is
	// not a file. Both are refused at once.
	h := newHarness(t, `
ci.job("special", {"quire/push"}, function(q)
  q.sh("mkfifo pipe && mkdir dir", {check = true})
  local out = {}
  for _, p in ipairs({"pipe", "dir"}) do
    local ok, err = pcall(q.read_file, p)
    out["read " .. p] = ok and "ok" or err
    ok, err = pcall(q.write_file, p, "x")
    out["write " .. p] = ok and "ok" or err
  end
  return out
end)
`)
	h.Settings.JobTimeout = 30 * time.Second
	o := h.run()
	o.wantState("special", "complete")
	for k, v := range o.outputs("special") {
		if s, _ := v.(string); !strings.Contains(s, "not a regular file") && !strings.Contains(s, "is a directory") {
			t.Errorf("%s: %q, want it refused as not a regular file", k, v)
		}
	}
	if n := len(o.outputs("special")); n != 4 {
		t.Errorf("%d results, want 4", n)
	}
}

func TestRunner_ShEnvAsList(t *testing.T) {
	t.Parallel()
	h := newHarness(t, `ci.job("list", {"quire/push"}, function(q) q.sh("true", {env = {"A=B"}}) end)`)
	o := h.run()
	if j := o.wantState("list", "failed"); !strings.Contains(j.Error, `option env maps names to values, as in {FOO = "bar"}, not a list`) {
		t.Errorf("error = %q", j.Error)
	}
}
