package hook_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/internal/gittest"
	"github.com/quire-ci/quire-hook/pkg/push"
)

// mailHook writes a post-receive hook of another tool into f's bare
// repository: it appends its stdin to log and exits with code.
func mailHook(t *testing.T, f *gittest.Fixture, log, code string) string {
	t.Helper()
	path := filepath.Join(f.Bare, "hooks", "post-receive")
	script := "#!/bin/sh\ncat >> '" + log + "'\necho mail hook ran\nexit " + code + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return script
}

func TestInstall_Chain(t *testing.T) {
	for _, tt := range []struct {
		name, code string
	}{{"OldHookSucceeds", "0"}, {"OldHookFails", "3"}} {
		t.Run(tt.name, func(t *testing.T) {
			f := gittest.New(t)
			log := filepath.Join(t.TempDir(), "mail.log")
			script := mailHook(t, f, log, tt.code)
			hook := filepath.Join(f.Bare, "hooks", "post-receive")

			out, code := mainCombined(t, f.Env, f.Work, "", "--git-dir", f.Bare, "install")
			if code != 2 {
				t.Fatalf("install over a foreign hook: exit %d, want 2:\n%s", code, out)
			}
			wantContains(t, out, "--chain")
			out, code = mainCombined(t, f.Env, f.Work, "", "--git-dir", f.Bare, "install", "--chain")
			if code != 0 {
				t.Fatalf("install --chain: exit %d:\n%s", code, out)
			}
			wantContains(t, out, "runs "+hook+".before-quire first")
			if data, _ := os.ReadFile(hook + ".before-quire"); string(data) != script {
				t.Errorf("kept hook: got %q, want %q", data, script)
			}

			f.Pipeline(okPipeline)
			first := f.Commit("first")
			out, err := f.Push("origin", "main")
			if err != nil {
				t.Fatalf("push: %v\n%s", err, out)
			}
			wantContains(t, out, "mail hook ran")
			if tt.code != "0" {
				wantContains(t, out, "chained hook "+hook+".before-quire exited "+tt.code+"; CI runs anyway")
			} else if strings.Contains(out, "chained hook") {
				t.Errorf("a succeeding chained hook was reported:\n%s", out)
			}
			wantContains(t, out, "quire: run ")
			wantContains(t, out, " complete in ")

			second := f.Commit("second")
			if out, err := f.Push("origin", "main"); err != nil {
				t.Fatalf("push: %v\n%s", err, out)
			}
			data, _ := os.ReadFile(log)
			want := push.ZeroSHA + " " + first + " refs/heads/main\n" + first + " " + second + " refs/heads/main\n"
			if string(data) != want {
				t.Errorf("the old hook's stdin over two pushes:\ngot  %q\nwant %q", data, want)
			}

			// git sees quire-hook's exit status, not the old hook's.
			f.Pipeline(`local ci = require("quire.ci")
ci.job("boom", {"quire/push"}, function(q) q.sh("exit 4", {check = true}) end)`)
			third := f.Commit("third")
			if out, err := f.Push("-o", "ci.skip", "origin", "main"); err != nil {
				t.Fatalf("push: %v\n%s", err, out)
			}
			for _, c := range []struct {
				sha  string
				want int
			}{{second, 0}, {third, 1}} {
				cmd := exec.Command(hook)
				cmd.Dir = f.Bare
				cmd.Env = append(f.Env, "GIT_DIR=.")
				cmd.Stdin = strings.NewReader(first + " " + c.sha + " refs/heads/main\n")
				out, _ := cmd.CombinedOutput()
				if got := cmd.ProcessState.ExitCode(); got != c.want {
					t.Errorf("hook for %s: exit %d, want %d:\n%s", c.sha, got, c.want, out)
				}
			}
		})
	}
	t.Run("ReinstallKeepsChaining", func(t *testing.T) {
		f := gittest.New(t)
		log := filepath.Join(t.TempDir(), "mail.log")
		mailHook(t, f, log, "0")
		hook := filepath.Join(f.Bare, "hooks", "post-receive")
		for _, args := range [][]string{{"install", "--chain"}, {"install"}} {
			if out, code := mainCombined(t, f.Env, f.Work, "", append([]string{"--git-dir", f.Bare}, args...)...); code != 0 {
				t.Fatalf("%v: exit %d:\n%s", args, code, out)
			}
		}
		if data, _ := os.ReadFile(hook); !strings.Contains(string(data), "--chain") {
			t.Errorf("a plain reinstall dropped the chain: %q", data)
		}
		if out, code := mainCombined(t, f.Env, f.Work, "", "--git-dir", f.Bare, "install", "--force"); code != 0 {
			t.Fatalf("install --force: exit %d:\n%s", code, out)
		}
		if data, _ := os.ReadFile(hook); strings.Contains(string(data), "--chain") {
			t.Errorf("install --force still chains: %q", data)
		}
	})
	t.Run("AfterForce", func(t *testing.T) {
		// install --force kept the hook unused; install --chain runs it again.
		f := gittest.New(t)
		log := filepath.Join(t.TempDir(), "mail.log")
		mailHook(t, f, log, "0")
		for _, args := range [][]string{{"install", "--force"}, {"install", "--chain"}} {
			if out, code := mainCombined(t, f.Env, f.Work, "", append([]string{"--git-dir", f.Bare}, args...)...); code != 0 {
				t.Fatalf("%v: exit %d:\n%s", args, code, out)
			}
		}
		f.Pipeline(okPipeline)
		sha := f.Commit("x")
		if out, err := f.Push("origin", "main"); err != nil {
			t.Fatalf("push: %v\n%s", err, out)
		}
		if data, _ := os.ReadFile(log); string(data) != push.ZeroSHA+" "+sha+" refs/heads/main\n" {
			t.Errorf("old hook's stdin: %q", data)
		}
	})
	t.Run("ChainAndForce", func(t *testing.T) {
		f := gittest.New(t)
		out, code := mainCombined(t, f.Env, f.Work, "", "--git-dir", f.Bare, "install", "--chain", "--force")
		if code != 2 || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("exit %d, want 2 with one line:\n%s", code, out)
		}
	})
	t.Run("Script", func(t *testing.T) {
		root := t.TempDir()
		f := gittest.New(t)
		bare := filepath.Join(root, "a", "one.git")
		f.Git(root, "init", "--quiet", "--bare", bare)
		log := filepath.Join(t.TempDir(), "mail.log")
		os.WriteFile(filepath.Join(bare, "hooks", "post-receive"), []byte("#!/bin/sh\ncat >> '"+log+"'\n"), 0o755)
		cmd := exec.Command("../scripts/install-hook.sh", "--chain", root)
		cmd.Env = append(f.Env, "QUIRE_HOOK="+bin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("install-hook.sh --chain: %v\n%s", err, out)
		}
		wantContains(t, string(out), "installed in 1 repositories, 0 failed")
		if data, _ := os.ReadFile(filepath.Join(bare, "hooks", "post-receive")); !strings.Contains(string(data), "--chain") {
			t.Errorf("hook does not chain: %q", data)
		}
	})
}

// copyBin copies the test binary into dir.
func copyBin(t *testing.T, dir string) string {
	t.Helper()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "quire-hook")
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// runCopy runs a copy of the binary in f's work tree and returns its
// combined output and exit code.
func runCopy(t *testing.T, b string, f *gittest.Fixture, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(b, args...)
	cmd.Dir, cmd.Env = f.Work, f.Env
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("run %s: %v", b, err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

func TestInstall_OwnerCannotRun(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test gives the repository to another user with chown: run it as root, as CI does")
	}
	f := gittest.New(t)
	// The repository belongs to the git user; the binary is root's.
	if err := os.Chown(f.Bare, 4242, 4242); err != nil {
		t.Fatal(err)
	}
	shared, err := os.MkdirTemp("", "quire-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(shared) })
	if err := os.Chmod(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(shared, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}

	t.Run("PrivateDirectory", func(t *testing.T) {
		b := copyBin(t, private)
		out, code := runCopy(t, b, f, "--git-dir", f.Bare, "install")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		wantContains(t, out, "uid 4242, who owns "+f.Bare+" and runs its hooks, cannot run "+b+": it may not enter "+private+" (mode 0700)")
		wantContains(t, out, "/usr/local/bin")
	})
	t.Run("NotExecutableByOthers", func(t *testing.T) {
		b := copyBin(t, shared)
		if err := os.Chmod(b, 0o744); err != nil {
			t.Fatal(err)
		}
		out, _ := runCopy(t, b, f, "--git-dir", f.Bare, "install")
		wantContains(t, out, "cannot run "+b+" (mode 0744)")
	})
	t.Run("EveryoneCanRun", func(t *testing.T) {
		b := copyBin(t, shared)
		if err := os.Chmod(b, 0o755); err != nil {
			t.Fatal(err)
		}
		out, code := runCopy(t, b, f, "--git-dir", f.Bare, "install")
		if code != 0 || strings.Contains(out, "warning") {
			t.Errorf("exit %d, want 0 and no warning:\n%s", code, out)
		}
	})
}
