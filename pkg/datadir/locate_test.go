package datadir

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// bareRepo makes a bare repository at dir/name with git, reading only
// the system config file sysConfig.
func bareRepo(t *testing.T, dir, name, sysConfig string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	cmd := exec.Command("git", "init", "--quiet", "--bare", path)
	cmd.Env = []string{"GIT_CONFIG_SYSTEM=" + sysConfig, "GIT_CONFIG_GLOBAL=/dev/null", "HOME=" + dir}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	return path
}

func TestLocator_Root(t *testing.T) {
	gitDir := "/srv/git/tools.git"
	for _, tt := range []struct {
		name       string
		l          Locator
		configured string
		want       Root
	}{
		{"Own", Locator{Dir: "/work"}, "", "/srv/git/tools.git/quire"},
		{"GitConfig", Locator{Dir: "/work"}, "records", "/srv/git/tools.git/records"},
		{"GitConfigAbsolute", Locator{Dir: "/work"}, "/data/", "/data"},
		{"Env", Locator{Env: []string{"QUIRE_DATA_DIR=/a", "QUIRE_DATA_DIR=rel"}, Dir: "/work"}, "records", "/work/rel"},
		{"Flag", Locator{Flag: "d", Env: []string{"QUIRE_DATA_DIR=/a"}, Dir: "/work"}, "records", "/work/d"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.l.Root(gitDir, tt.configured); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLocator_RepoName(t *testing.T) {
	dir := t.TempDir()
	sys := filepath.Join(dir, "gitconfig")
	os.WriteFile(sys, nil, 0o644)
	root := filepath.Join(dir, "git")
	gitDir := bareRepo(t, root, "team1/tools.git", sys)
	env := []string{"GIT_CONFIG_SYSTEM=" + sys, "GIT_CONFIG_GLOBAL=/dev/null", "HOME=" + dir}
	shared := Root(filepath.Join(dir, "data"))

	t.Run("OwnDataRoot", func(t *testing.T) {
		l := Locator{Env: env, Dir: dir}
		if got := l.RepoName(gitDir, Own(gitDir)); got != "tools.git" {
			t.Errorf("got %q, want tools.git", got)
		}
	})
	t.Run("SharedDataRoot", func(t *testing.T) {
		l := Locator{Env: env, Dir: dir}
		if got := l.RepoName(gitDir, shared); got != gitDir {
			t.Errorf("got %q, want the absolute path %s", got, gitDir)
		}
	})
	t.Run("EnvReposRoot", func(t *testing.T) {
		l := Locator{Env: append(env, "QUIRE_REPOS_ROOT=git"), Dir: dir}
		if got := l.RepoName(gitDir, shared); got != "team1/tools.git" {
			t.Errorf("got %q, want team1/tools.git", got)
		}
	})
	t.Run("ReposRootOutside", func(t *testing.T) {
		l := Locator{Env: append(env, "QUIRE_REPOS_ROOT="+filepath.Join(dir, "elsewhere")), Dir: dir}
		if got := l.RepoName(gitDir, Own(gitDir)); got != "tools.git" {
			t.Errorf("got %q, want tools.git", got)
		}
	})
	t.Run("SystemGitConfigThroughSymlink", func(t *testing.T) {
		// The system config names a link to the repos root; git config
		// beats $QUIRE_REPOS_ROOT.
		link := filepath.Join(dir, "link")
		if err := os.Symlink(root, link); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(sys, []byte("[quire]\n\treposRoot = "+link+"\n"), 0o644)
		defer os.WriteFile(sys, nil, 0o644)
		l := Locator{Env: append(env, "QUIRE_REPOS_ROOT=/nowhere", "GIT_DIR=/elsewhere"), Dir: dir}
		if got := l.ReposRoot(gitDir); got != link {
			t.Errorf("ReposRoot %q, want %s", got, link)
		}
		if got := l.RepoName(gitDir, shared); got != "team1/tools.git" {
			t.Errorf("got %q, want team1/tools.git", got)
		}
	})
}
