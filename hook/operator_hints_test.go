package hook_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quire-ci/quire-hook/internal/gittest"
)

// These tests follow a new operator through the README's mistakes: each
// error or empty answer must say what happened and what to do.

func TestInstall_NonBare(t *testing.T) {
	f := gittest.New(t)
	hook := filepath.Join(f.Work, ".git", "hooks", "post-receive")
	for _, tt := range []struct {
		name string
		dir  string
		args []string
		want string
	}{
		{"InTheClone", f.Work, []string{"install"}, "a clone's repository, not a bare one; the hook runs in the repository that is pushed to: pass that bare repository with --git-dir"},
		{"GitDirDotGit", t.TempDir(), []string{"--git-dir", filepath.Join(f.Work, ".git"), "install"}, "a clone's repository, not a bare one"},
		{"GitDirWorkTree", t.TempDir(), []string{"--git-dir", f.Work, "install"}, "a clone's work tree, not a git directory; pass the bare repository that is pushed to with --git-dir"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, code := mainCombined(t, f.Env, tt.dir, "", tt.args...)
			if code != 2 || strings.Count(out, "\n") != 1 {
				t.Errorf("exit %d, want 2 and one line:\n%s", code, out)
			}
			wantContains(t, out, tt.want)
			if _, err := os.Stat(hook); !os.IsNotExist(err) {
				t.Errorf("the clone got a hook: %v", err)
			}
			if _, err := os.Stat(filepath.Join(f.Work, ".git", "quire")); !os.IsNotExist(err) {
				t.Errorf("the clone got a data root: %v", err)
			}
		})
	}
	t.Run("PushToDeploy", func(t *testing.T) {
		// git-config(1): receive.denyCurrentBranch=updateInstead makes a
		// clone a repository that is pushed to; its operator means it.
		f.Git(f.Work, "config", "receive.denyCurrentBranch", "updateInstead")
		out, errOut, code := mainInProcess(t, f.Env, f.Work, "", "install")
		if code != 0 {
			t.Fatalf("exit %d: %s%s", code, out, errOut)
		}
		wantContains(t, errOut, "quire-hook: warning: installing into the clone "+f.Work+", which receive.denyCurrentBranch=updateInstead lets pushes update")
		if _, err := os.Stat(hook); err != nil {
			t.Errorf("no hook: %v", err)
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
	wantContains(t, out, "run validate at the top of a clone, or check a file with --file PATH")
	if strings.Contains(out, "--git-dir") {
		t.Errorf("suggests --git-dir to a pipeline author:\n%s", out)
	}
}
