package hook_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/internal/gittest"
)

// These tests follow a new operator through the README's mistakes: each
// error or empty answer must say what happened and what to do.

// TestInstall_NonBare: installing into a clone works (git pushes to a
// clone's branches that are not checked out, or to all with
// receive.denyCurrentBranch) but warns, as an operator who meant the
// server's bare repository must hear of it. A work tree given as
// --git-dir is no git directory at all.
func TestInstall_NonBare(t *testing.T) {
	f := gittest.New(t)
	hook := filepath.Join(f.Work, ".git", "hooks", "post-receive")
	for _, tt := range []struct {
		name string
		dir  string
		args []string
	}{
		{"InTheClone", f.Work, []string{"install"}},
		{"GitDirDotGit", t.TempDir(), []string{"--git-dir", filepath.Join(f.Work, ".git"), "install"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(hook)
			out, errOut, code := mainInProcess(t, f.Env, tt.dir, "", tt.args...)
			if code != 0 || strings.Count(errOut, "\n") != 1 {
				t.Fatalf("exit %d, want 0 and one warning: %s%s", code, out, errOut)
			}
			wantContains(t, errOut, "quire-hook: warning: "+f.Work+" is a clone; git runs post-receive in the repository pushed to, so this hook runs only on pushes to this clone; for CI on a server, install into its bare repository with --git-dir")
			if _, err := os.Stat(hook); err != nil {
				t.Errorf("no hook: %v", err)
			}
		})
	}
	t.Run("GitDirWorkTree", func(t *testing.T) {
		_ = os.Remove(hook)
		out, code := mainCombined(t, f.Env, t.TempDir(), "", "--git-dir", f.Work, "install")
		if code != 2 || strings.Count(out, "\n") != 1 {
			t.Errorf("exit %d, want 2 and one line:\n%s", code, out)
		}
		wantContains(t, out, "a clone's work tree, not a git directory; pass the bare repository that is pushed to with --git-dir")
		if _, err := os.Stat(hook); !os.IsNotExist(err) {
			t.Errorf("the clone got a hook: %v", err)
		}
	})
}

func TestGitDir_Missing(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "projct.git")
	for _, tt := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"Flag", nil, []string{"--git-dir", missing, "runs"}, "open repository " + missing + ": no such directory; check the path given with --git-dir"},
		{"Env", []string{"GIT_DIR=" + missing}, []string{"runs"}, "open repository " + missing + ": no such directory; check the path in GIT_DIR"},
		{"Install", nil, []string{"--git-dir", missing, "install"}, "no such directory; check the path given with --git-dir"},
		{"File", nil, []string{"--git-dir", filepath.Join(gittestBare(t), "HEAD"), "runs"}, "HEAD: not a directory; give --git-dir the bare repository's directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, code := mainCombined(t, tt.env, t.TempDir(), "", tt.args...)
			if code != 2 || strings.Count(out, "\n") != 1 {
				t.Errorf("exit %d, want 2 and one line:\n%s", code, out)
			}
			wantContains(t, out, tt.want)
			if strings.Contains(out, "no objects/") {
				t.Errorf("says the path has no objects/ when it does not exist:\n%s", out)
			}
		})
	}
}

func TestConfig_MissingFile(t *testing.T) {
	f := gittest.New(t)
	f.Commit("no pipeline")
	if out, err := f.Push("origin", "main"); err != nil {
		t.Fatalf("git push: %v\n%s", err, out)
	}
	missing := "/no/such/quire/config.lua"
	t.Run("Flag", func(t *testing.T) {
		out, code := mainCombined(t, f.Env, f.Work, "", "--git-dir", f.Bare, "--config", missing, "replay", "main")
		if code != 2 {
			t.Errorf("exit %d, want 2: %s", code, out)
		}
		wantContains(t, out, "read config "+missing+": open "+missing+": no such file or directory; fix the path given with --config\n")
	})
	t.Run("Env", func(t *testing.T) {
		out, code := mainCombined(t, append(f.Env, "QUIRE_CONFIG="+missing), f.Work, "", "--git-dir", f.Bare, "replay", "main")
		if code != 2 {
			t.Errorf("exit %d, want 2: %s", code, out)
		}
		wantContains(t, out, "no such file or directory; fix QUIRE_CONFIG, or unset it to read "+filepath.Join(f.Bare, "quire", "config.lua")+"\n")
	})
}

func TestValidate_OutsideRepository(t *testing.T) {
	out, code := mainCombined(t, nil, t.TempDir(), "", "validate")
	if code != 2 || strings.Count(out, "\n") != 1 {
		t.Errorf("exit %d, want 2 and one line:\n%s", code, out)
	}
	wantContains(t, out, "run validate inside a clone, or check a file with --file PATH")
	if strings.Contains(out, "--git-dir") {
		t.Errorf("suggests --git-dir to a pipeline author:\n%s", out)
	}
}

func TestRuns_FilterMatchesNothing(t *testing.T) {
	r := newRepo(t)
	r.Pipeline(okPipeline)
	r.Commit("one")
	r.push()
	r.Git(r.Work, "tag", "v1")
	r.push("origin", "v1")
	name := filepath.Base(r.Bare)
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"Ref", []string{"--ref", "mian"}, "no runs of ref mian; the refs with runs: refs/heads/main, refs/tags/v1\n"},
		{"FullRef", []string{"--ref", "refs/heads/mian"}, "no runs of ref refs/heads/mian; the refs with runs: refs/heads/main, refs/tags/v1\n"},
		{"RefOfRepo", []string{"--ref", "mian", "--repo", name}, "no runs of ref mian in " + name + "; the refs with runs: refs/heads/main, refs/tags/v1\n"},
		{"Repo", []string{"--repo", "nope"}, "no runs of repo nope; the repos with runs: " + name + "\n"},
		// The ref has runs, none in that state: nothing to point at.
		{"RefOtherState", []string{"--ref", "main", "--state", "failed"}, "no runs\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := mainInProcess(t, r.Env, r.Work, "", append([]string{"--git-dir", r.Bare, "runs"}, tt.args...)...)
			if code != 0 || errOut != "" || out != tt.want {
				t.Errorf("exit %d, stderr %q, stdout %q; want 0 and %q", code, errOut, out, tt.want)
			}
			out, errOut, code = mainInProcess(t, r.Env, r.Work, "", append([]string{"--git-dir", r.Bare, "runs", "--json"}, tt.args...)...)
			if code != 0 || errOut != "" || out != "[]\n" {
				t.Errorf("--json: exit %d, stderr %q, stdout %q; want 0 and []", code, errOut, out)
			}
		})
	}
}

func TestServe_ReposNotADirectory(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nonexistent")
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	srv := startServe(t, nil, dir, "serve", "--listen", "127.0.0.1:0", "--repos", missing, "--repos", file, "--repos", dir)
	out := srv.output()
	wantContains(t, out, "quire-hook serve: warning: --repos "+missing+" does not exist; check the path (it is searched again every 10 s)\n")
	wantContains(t, out, "quire-hook serve: warning: --repos "+file+" is not a directory;")
	if n := strings.Count(out, "warning"); n != 2 {
		t.Errorf("%d warnings, want 2 (none for the directory):\n%s", n, out)
	}
}

func TestInstallHookScript_NoBinary(t *testing.T) {
	// A PATH with bash and nothing else: no quire-hook on it.
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	path := t.TempDir()
	os.Symlink(bash, filepath.Join(path, "bash"))
	cmd := exec.Command("../scripts/install-hook.sh", t.TempDir())
	cmd.Env = []string{"PATH=" + path}
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Fatalf("exit %d (%v), want 2:\n%s", code, err, out)
	}
	// The README's install section: /usr/local/bin, not ~/go/bin.
	wantContains(t, string(out), "GOBIN=/usr/local/bin go install github.com/quire-ci/quire-hook/hook/quire-hook@latest")
	wantContains(t, string(out), "sudo install -m 0755 quire-hook /usr/local/bin/")
	if strings.Contains(string(out), "'go install ./hook/quire-hook'") {
		t.Errorf("suggests go install into ~/go/bin:\n%s", out)
	}
}
